// validator/bookkeeping.h — what BOINC's validator records besides the
// results' states: credit for host, user and team (total and recent average),
// per-app credit (credit_user, credit_team, when config.xml sets
// <credit_by_app>), the host's average turnaround and its host_app_version
// statistics (runtime and turnaround averages, consecutive_valid, the daily
// job quota max_jobs_per_day).
//
// Used inside the validator's transaction over a group of workunits: the
// rows their results may touch are read and locked right after the
// workunits' own SELECT (bookkeeping_reads); Bookkeeping applies BOINC's
// rules (validator/credit.h) workunit by workunit and result by result in id
// order, and appends the writes to the transaction's final batch (with the
// COMMIT: no round trip of its own). Every stored double goes through
// credit::as_stored, as BOINC's "%.15e" does, so the stored bits are BOINC's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "credit.h"
#include "mw/boinc/database.h"

namespace mw::boinc {

enum class CreditScheme {
  boinc,           // BOINC's default: assign_credit_set (claimed peak FLOPs, normalised)
  fpops_estimate,  // workunit.rsc_fpops_est at 200 credits per GFLOPS-day
  fixed,           // the same amount for every valid result
};

struct CreditSettings {
  CreditScheme scheme = CreditScheme::boinc;
  double fixed_credit = 0;
  double max_granted_credit = 200.0 * 1000 * 365;  // BOINC's default cap: a TeraFLOPS-year
  int daily_result_quota = 0;                      // config.xml <daily_result_quota>
  bool credit_by_app = false;                      // config.xml <credit_by_app>
  // BOINC's --update_credited_job: a (user, workunit) row in credited_job
  // per valid result, the workunit named by its opaque (BOINC's choice: a
  // project numbers its own jobs there). A repeat pair is no error.
  bool update_credited_job = false;
};

// One result this pass made VALID or INVALID.
struct JudgedResult {
  bool valid = false;
  std::int64_t hostid = 0, userid = 0, teamid = 0;
  credit::Claim claim;  // id, app version, times, FLOP estimate (claim.hav is set by book())
  double granted_credit = 0;  // out, for a valid result
};

// A workunit's judged results, in id order, and what kind of decision it was.
struct Judgement {
  credit::WuInfo wu;
  double opaque = 0;  // workunit.opaque, what credited_job records
  // A canonical result existed before this pass (late results): each valid
  // one gets `canonical_granted`, the canonical result's granted_credit.
  bool late = false;
  double canonical_granted = 0;
  std::vector<JudgedResult> results;
};

// The pass's view of the app: its row and its versions' statistics as read
// at the start of the pass, and the time every credit of the pass is dated.
struct PassCredit {
  credit::AppInfo app;
  std::map<std::int64_t, credit::AppVersionStats> versions;
  double now = 0;
};

// The hosts, users and teams whose credit a group of workunits may change.
// Validator threads lock them in one global order (every host by id, then
// every user by id, then every team by id): locked in the order the results
// come, two groups sharing users in another order deadlock, and with many
// hosts of few users that is most groups (issue 23). Ascending, distinct.
struct CreditOwners {
  std::vector<std::int64_t> hosts, users, teams;

  // Adds the owners the locked rows (`rows`, from bookkeeping_reads) name
  // but this set lacks: a host given to another user, or a user to another
  // team, between credit_owners_read and the locks. True when it added any,
  // and the locking reads must be made again with the larger set.
  bool take_missing(const std::vector<DbBatchResult>& rows);
};

// The owners of the results of the workunits `wu_ids` as they are now: a
// plain read, no locks (credit_owners() turns its rows into the set).
DbStatement credit_owners_read(const std::vector<std::int64_t>& wu_ids);
CreditOwners credit_owners(const DbBatchResult& rows);

// The statements reading (FOR UPDATE) the rows the bookkeeping of the
// workunits `wu_ids` may touch: `owners`' hosts, users and teams, each table
// in id order; the results' host_app_versions; with `credit_by_app` the
// per-app credit rows; and last (shared locks) the rows of older app versions
// that a missing host_app_version takes over, as BOINC's hav_lookup does.
// The rows keyed by a host or user are reached only through a host or user
// locked before them, so their locks cannot close a cycle either.
std::vector<DbStatement> bookkeeping_reads(const std::vector<std::int64_t>& wu_ids, const CreditOwners& owners,
                                           std::int64_t app_id, bool credit_by_app);

// The bookkeeping of a group of workunits validated in one transaction.
// Built from the rows bookkeeping_reads() returned (in its order); book() is
// called once per workunit, in the order BOINC's validator would have
// committed them, each seeing the rows as the ones before left them; write()
// then appends the writes: a row changed by several workunits is written
// once, with their changes applied in order, and the host, user, team and
// host_app_version rows take one statement per table (a row taken over
// from an older app version one of its own).
class Bookkeeping {
 public:
  Bookkeeping(const CreditSettings& settings, const PassCredit& pass, const DbBatchResult* rows);
  ~Bookkeeping();
  Bookkeeping(const Bookkeeping&) = delete;
  Bookkeeping& operator=(const Bookkeeping&) = delete;

  // Applies the bookkeeping of `j`. Returns the credit of a newly found
  // canonical result (0 for late results); sets each valid result's
  // granted_credit; adds the app-version samples to `samples` (folded in by
  // the caller once the transaction committed).
  double book(Judgement& j, std::map<std::int64_t, credit::AppVersionStats>& samples);
  void write(std::vector<DbStatement>& out) const;

 private:
  struct Ledger;
  const CreditSettings& settings_;
  const PassCredit& pass_;
  std::unique_ptr<Ledger> ledger_;
};

// Reads the app row and its versions for a pass dated `now`.
PassCredit load_pass_credit(Database& db, std::int64_t app_id, double now);

// Folds the pass's app-version samples into their rows (one transaction).
void write_app_version_samples(Database& db, std::map<std::int64_t, credit::AppVersionStats>& samples,
                               double now);

}  // namespace mw::boinc
