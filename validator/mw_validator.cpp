// mw-validator — decides the quorum of each workunit of a BOINC app (BOINC's validator protocol).
//
//   mw-validator --app NAME [--compare-cmd PATH] [--numeric OUTPUT]... [-d N]
//                [--credit C | --credit-from-fpops-est] [--max-granted-credit X]
//                [--update-credited-job] [--group-size G]
//                [--mod N I] [--one-pass] [--sleep S] [--threads N]
//
// Each pass takes the app's workunits with need_validate > 0 (set by the
// transitioner) in id order and, one transaction per group of up to G
// consecutive ones (--threads groups at a time, see WorkerPool), does for
// each in turn what BOINC's stock validator does:
//   no canonical result yet — with at least min_quorum viable results (OVER,
//   SUCCESS, not INVALID) each result bundle is checked (a missing, oversized,
//   malformed or hostile bundle makes that result VALIDATE_ERROR / INVALID);
//   with min_quorum good results the first one agreeing with min_quorum/2 + 1
//   good results (itself included) becomes canonical, agreeing results VALID
//   (credit granted), the others INVALID; the workunit gets canonical_resultid,
//   canonical_credit, assimilate_state READY, transition_time INT_MAX and its
//   unsent results become OVER / DIDNT_NEED. Without consensus the good results
//   become INCONCLUSIVE and the workunit asks for one more result
//   (target_nresults = viable + 1), or errors with bit 4 when more than
//   max_success_results succeeded; the transitioner enforces the other limits.
//   canonical result exists — late successful results are compared with it:
//   VALID with the canonical credit, or INVALID.
// Every result made VALID or INVALID also updates what BOINC's validator
// keeps (validator/bookkeeping.h): credit and recent average credit of host,
// user and team, per-app credit, the host's turnaround and host_app_version
// statistics (with --update-credited-job also credited_job rows), in the same
// transaction. A group leaves what its workunits' transactions, committed
// one after the other in id order, would have left (each workunit sees the
// credit rows as the ones before it left them); a group fails, or is killed,
// as a whole, and is then decided again from the rows as they are. Credit is
// BOINC's default (assign_credit_set) unless --credit or
// --credit-from-fpops-est says otherwise.
// need_validate is always cleared. A comparison that cannot be made now (the
// external program failed, an unreadable upload directory) leaves the results
// alone and asks the transitioner to come back within 6 hours.
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bookkeeping.h"
#include "multi_row_update.h"
#include "mw/boinc/daemon.h"
#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/result_files.h"
#include "mw/error.h"
#include "mw/result_compare.h"
#include "util/command_line.h"

namespace mw::boinc {
namespace {

// BOINC's enumerations (db/boinc_db_types.h).
constexpr std::int64_t kServerUnsent = 2, kServerOver = 5;
constexpr std::int64_t kOutcomeSuccess = 1, kOutcomeDidntNeed = 5, kOutcomeValidateError = 6;
constexpr std::int64_t kValidateInit = 0, kValidateValid = 1, kValidateInvalid = 2,
                       kValidateInconclusive = 4, kValidateTooLate = 5;
constexpr std::int64_t kAssimilateReady = 1;
constexpr std::int64_t kErrorTooManySuccess = 4;
constexpr std::int64_t kTransientRetrySeconds = 6 * 3600;

struct ResultRow {
  std::int64_t id = 0;
  std::string name;
  std::int64_t server_state = 0, outcome = 0, validate_state = 0;
  std::string xml_doc_in;
  std::int64_t hostid = 0, userid = 0, teamid = 0;
  double granted_credit = 0;
  credit::Claim claim;  // what the credit computation reads
  bool changed = false;
  bool judged = false;  // made VALID or INVALID by this pass
};

struct Check {
  enum Kind { good, invalid, transient } kind = invalid;
  CheckedResult data;
  std::string why;
};

struct Validator {
  DaemonOptions options;
  ProjectConfig config;
  DaemonLog log;
  CompareOptions compare;
  ResultCheckLimits limits;
  CreditSettings credit;
  std::int64_t app_id = 0;
  int group_size = 50;  // workunits per transaction
  std::unique_ptr<WorkerPool> pool;
  // The pass's app and app-version rows, its date, and the app-version
  // samples of its committed workunits (written at the end of the pass).
  PassCredit pass_credit;
  std::mutex samples_mutex;
  std::map<std::int64_t, credit::AppVersionStats> samples;

  Check check(const ResultRow& r) {
    Check c;
    std::string path;
    try {
      path = result_bundle_path(config, r.xml_doc_in, r.name);
    } catch (const Error& e) {
      c.why = e.what();
      return c;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      c.kind = errno == ENOENT ? Check::invalid : Check::transient;
      c.why = "result bundle " + path + ": " + std::strerror(errno);
      return c;
    }
    try {
      c.data = load_checked_result(path, compare, limits);
      c.kind = Check::good;
    } catch (const Error& e) {
      c.kind = Check::invalid;
      c.why = e.what();
    } catch (const std::exception& e) {  // e.g. std::bad_alloc from a pathological file
      c.kind = Check::invalid;
      c.why = std::string("result bundle ") + path + ": " + e.what();
    }
    return c;
  }

  // Marks `r` VALID; its credit is decided with the others' (judge()).
  static void grant(ResultRow& r) {
    r.validate_state = kValidateValid;
    r.changed = true;
    r.judged = true;
  }

  // The bookkeeping of the results this pass judged (validator/bookkeeping.h):
  // sets their granted_credit and, for a new canonical result, the
  // workunit's canonical credit.
  static void judge(Bookkeeping& books, std::vector<ResultRow>& results, const credit::WuInfo& wu, double opaque,
                    std::int64_t canonical_id, bool late, double& canonical_credit,
                    std::map<std::int64_t, credit::AppVersionStats>& samples) {
    Judgement j;
    j.wu = wu;
    j.opaque = opaque;
    j.late = late;
    for (const auto& r : results)
      if (late && r.id == canonical_id) j.canonical_granted = r.granted_credit;
    std::vector<ResultRow*> judged;
    for (auto& r : results) {
      if (!r.judged) continue;
      JudgedResult x;
      x.valid = r.validate_state == kValidateValid;
      x.hostid = r.hostid;
      x.userid = r.userid;
      x.teamid = r.teamid;
      x.claim = r.claim;
      j.results.push_back(x);
      judged.push_back(&r);
    }
    if (judged.empty()) return;
    double credit = books.book(j, samples);
    for (std::size_t i = 0; i < judged.size(); ++i)
      if (j.results[i].valid) judged[i]->granted_credit = j.results[i].granted_credit;
    if (!late && canonical_id != 0) canonical_credit = credit::as_stored(credit);
  }

  // The changed results in one statement; with their credits differing (the
  // default credit is the workunit's own) one per set of identical values
  // was a statement per workunit.
  static void write_results(const std::vector<ResultRow>& results, std::vector<DbStatement>& out) {
    MultiRowUpdate update("result", {"id"}, {"validate_state", "outcome", "server_state", "granted_credit"});
    for (const auto& r : results)
      if (r.changed)
        update.add({r.id}, {value(r.validate_state), value(r.outcome), value(r.server_state), value(r.granted_credit)});
    update.emit(out);
  }

  void invalidate(ResultRow& r, const std::string& why, const std::string& wu_tag) {
    log.normal(wu_tag + " result " + r.name + " invalid: " + why);
    r.outcome = kOutcomeValidateError;
    r.validate_state = kValidateInvalid;
    r.changed = true;
    r.judged = true;
  }

  // The workunits' columns and their results', w.id last.
  static constexpr const char* kWorkunitColumns =
      "SELECT w.name, w.need_validate, w.canonical_resultid, w.min_quorum, w.target_nresults, "
      "w.max_success_results, w.rsc_fpops_est, w.transition_time, w.canonical_credit, "
      "r.id, r.name, r.server_state, r.outcome, r.validate_state, r.xml_doc_in, r.hostid, "
      "r.userid, r.teamid, r.granted_credit, w.rsc_fpops_bound, r.app_version_id, r.sent_time, "
      "r.received_time, r.elapsed_time, r.cpu_time, r.flops_estimate, r.runtime_outlier, "
      "r.stderr_out LIKE '%Device Emulation (CPU)%', w.opaque, w.id "
      "FROM workunit w LEFT JOIN result r ON r.workunitid = w.id WHERE w.id IN (";
  static constexpr std::size_t kWorkunitIdColumn = 29;

  // Validates the workunits `wu_ids` (ascending ids) in one transaction and
  // returns how many were handled (need_validate cleared). The workunits and
  // their results are read and locked with one statement, so every decision
  // is made on rows nobody else can change before the commit. Three round
  // trips to the server: START TRANSACTION with the workunits' locking SELECT
  // and a plain read of their results' hosts, users and teams; the locking
  // SELECTs of the bookkeeping's rows, hosts, users and teams each in id
  // order (bookkeeping.h, CreditOwners: no deadlock between threads); then
  // every write with the COMMIT (execute_batch). The workunits are decided one after the other in id
  // order, each seeing the credit rows as the ones before left them, so the
  // result is what one transaction per workunit in that order would have
  // left; a failure anywhere rolls the whole group back (to be retried).
  int handle_group(Database& db, const std::vector<std::int64_t>& wu_ids) {
    int handled = 0;
    std::map<std::int64_t, credit::AppVersionStats> group_samples;
    db.transaction_retrying([&] {
      // A retry starts again from the rows as read: nothing of the failed
      // attempt is kept.
      handled = 0;
      group_samples.clear();
      auto got = db.execute_batch(
          {{std::string(kWorkunitColumns) + sql_placeholders(wu_ids.size()) + ") FOR UPDATE",
            {wu_ids.begin(), wu_ids.end()}},
           credit_owners_read(wu_ids)});
      CreditOwners owners = credit_owners(got[1]);
      std::vector<DbBatchResult> credit_rows;
      do {
        credit_rows = db.execute_batch(bookkeeping_reads(wu_ids, owners, app_id, credit.credit_by_app));
      } while (owners.take_missing(credit_rows));
      std::map<std::int64_t, std::vector<const DbRow*>> by_workunit;  // ordered: BOINC's order
      for (const auto& row : got[0].rows) by_workunit[row.integer(kWorkunitIdColumn)].push_back(&row);
      Bookkeeping books(credit, pass_credit, credit_rows.data());
      MultiRowUpdate workunits("workunit", {"id"},
                               {"need_validate", "error_mask", "assimilate_state", "transition_time",
                                "target_nresults", "canonical_resultid", "canonical_credit"});
      std::vector<ResultRow> changed;
      for (const auto& [wu_id, rows] : by_workunit)
        if (decide(wu_id, rows, books, group_samples, workunits, changed)) ++handled;
      if (handled == 0) return;  // another instance or a restart got them
      // Every row written was locked by the reads above (the credit rows of
      // a busy user or team too: reading them later would cost another round
      // trip, during which they would be held just the same).
      std::vector<DbStatement> writes;
      workunits.emit(writes);
      books.write(writes);
      write_results(changed, writes);
      db.execute_batch(writes, /*commit=*/true);
    });
    if (handled && !group_samples.empty()) {
      std::lock_guard<std::mutex> lock(samples_mutex);
      for (auto& [id, s] : group_samples) credit::add_samples(samples[id], s);
    }
    return handled;
  }

  // Decides one workunit of a group from its locked rows `w` (one per
  // result): adds its workunit row to `workunits` and its changed results to
  // `changed`, books its credit. False when it needs no validation (any
  // more).
  bool decide(std::int64_t wu_id, const std::vector<const DbRow*>& w, Bookkeeping& books,
              std::map<std::int64_t, credit::AppVersionStats>& group_samples, MultiRowUpdate& workunits,
              std::vector<ResultRow>& changed) {
    if (w[0]->integer(1) == 0) return false;
    const std::string wu_tag = "[WU#" + std::to_string(wu_id) + " " + w[0]->text(0) + "]";
    std::int64_t canonical_id = w[0]->integer(2);
    const std::int64_t min_quorum = std::max<std::int64_t>(1, w[0]->integer(3));
    std::int64_t target = w[0]->integer(4);
    const std::int64_t max_success = w[0]->integer(5);
    const credit::WuInfo wu_info{w[0]->real(6), w[0]->real(19), target};
    const double opaque = w[0]->real(28);
    std::int64_t transition = w[0]->integer(7);
    double canonical_credit = w[0]->real(8);
    std::int64_t error_bits = 0, assimilate_ready = 0;
    const std::int64_t now = db_now();
    bool transition_now = false, retry = false;

    bool late = false;
    std::vector<ResultRow> results;
    for (const DbRow* row : w) {
      if (row->is_null(9)) continue;  // a workunit without results
      ResultRow r;
      r.id = row->integer(9);
      r.name = row->text(10);
      r.server_state = row->integer(11);
      r.outcome = row->integer(12);
      r.validate_state = row->integer(13);
      r.xml_doc_in = row->is_null(14) ? "" : row->text(14);
      r.hostid = row->integer(15);
      r.userid = row->integer(16);
      r.teamid = row->integer(17);
      r.granted_credit = row->real(18);
      r.claim.id = r.id;
      r.claim.app_version_id = row->integer(20);
      r.claim.sent_time = static_cast<double>(row->integer(21));
      r.claim.received_time = static_cast<double>(row->integer(22));
      r.claim.elapsed_time = row->real(23);
      r.claim.cpu_time = row->real(24);
      r.claim.flops_estimate = row->real(25);
      r.claim.runtime_outlier = row->integer(26) != 0;
      r.claim.device_emulation = !row->is_null(27) && row->integer(27) != 0;
      results.push_back(std::move(r));
    }
    // In id order, as BOINC takes them (sorted here: ORDER BY would make the
    // server copy the rows, xml_doc_in included, into a temporary table).
    std::sort(results.begin(), results.end(),
              [](const ResultRow& a, const ResultRow& b) { return a.id < b.id; });
    auto over_success = [](const ResultRow& r) {
      return r.server_state == kServerOver && r.outcome == kOutcomeSuccess;
    };

    if (canonical_id == 0) {
      std::vector<ResultRow*> viable;
      for (auto& r : results)
        if (over_success(r) && r.validate_state != kValidateInvalid) viable.push_back(&r);
      if (static_cast<std::int64_t>(viable.size()) >= min_quorum) {
        std::vector<std::pair<ResultRow*, Check>> good;
        for (ResultRow* r : viable) {
          Check c = check(*r);
          if (c.kind == Check::good) {
            good.emplace_back(r, std::move(c));
          } else if (c.kind == Check::transient) {
            log.warning(wu_tag + " result " + r->name + ": " + c.why + " (will retry)");
            retry = true;
          } else {
            invalidate(*r, c.why, wu_tag);
            transition_now = true;
          }
        }
        if (!retry && static_cast<std::int64_t>(good.size()) >= min_quorum) {
          try {
            find_canonical(good, min_quorum, wu_tag, canonical_id);
          } catch (const Error& e) {
            if (e.code() != Errc::system) throw;
            log.warning(wu_tag + " " + e.what() + " (will retry)");
            retry = true;
          }
          if (!retry && canonical_id != 0) {
            assimilate_ready = 1;
            transition = kDbNever;
            for (auto& r : results)
              if (r.server_state == kServerUnsent) {
                r.server_state = kServerOver;
                r.outcome = kOutcomeDidntNeed;
                r.changed = true;
              }
          } else if (!retry) {
            std::int64_t still_viable = 0;
            for (auto& [r, c] : good)
              if (r->validate_state != kValidateInvalid) {
                r->validate_state = kValidateInconclusive;
                r->judged = false;
                r->changed = true;
                ++still_viable;
              }
            log.normal(wu_tag + " no consensus among " + std::to_string(good.size()) + " results");
            if (still_viable > max_success) {
              error_bits |= kErrorTooManySuccess;
              transition_now = true;
            } else if (still_viable >= target) {
              target = still_viable + 1;
              transition_now = true;
            }
          }
        }
      }
    } else {
      late = true;
      // Late results against the canonical one.
      std::optional<Check> canonical;
      for (auto& r : results) {
        if (!over_success(r) ||
            (r.validate_state != kValidateInit && r.validate_state != kValidateInconclusive) ||
            r.id == canonical_id)
          continue;
        transition_now = true;
        if (!canonical) {
          auto it = std::find_if(results.begin(), results.end(),
                                 [&](const ResultRow& x) { return x.id == canonical_id; });
          canonical = it == results.end() ? Check{} : check(*it);
          if (canonical->kind == Check::invalid && canonical->why.empty())
            canonical->why = "canonical result row is missing";
        }
        if (canonical->kind != Check::good) {
          log.normal(wu_tag + " late result " + r.name + " too late: canonical result unreadable (" +
                     canonical->why + ")");
          r.validate_state = kValidateTooLate;
          r.changed = true;
          continue;
        }
        Check c = check(r);
        if (c.kind == Check::transient) {
          retry = true;
          continue;
        }
        if (c.kind == Check::invalid) {
          invalidate(r, c.why, wu_tag);
          continue;
        }
        std::string why;
        bool agree = false;
        try {
          agree = results_agree(canonical->data, c.data, compare, &why);
        } catch (const Error& e) {
          if (e.code() != Errc::system) throw;
          log.warning(wu_tag + " " + e.what() + " (will retry)");
          retry = true;
          continue;
        }
        if (agree) {
          grant(r);
        } else {
          log.normal(wu_tag + " late result " + r.name + " disagrees: " + why);
          r.validate_state = kValidateInvalid;
          r.changed = true;
          r.judged = true;
        }
      }
    }

    if (transition_now) transition = now;
    if (retry) transition = std::min(transition, now + kTransientRetrySeconds);
    // Even when the comparison must be retried, the results found invalid
    // are booked as such now, as BOINC does.
    judge(books, results, wu_info, opaque, canonical_id, late, canonical_credit, group_samples);
    workunits.add({wu_id}, {value(std::int64_t{0}), {"error_mask | ?", {error_bits}},
                            assimilate_ready ? value(kAssimilateReady) : MultiRowUpdate::Cell{"assimilate_state", {}},
                            value(transition), value(target), value(canonical_id), value(canonical_credit)});
    for (auto& r : results)
      if (r.changed) changed.push_back(std::move(r));
    return true;
  }

  // Finds the canonical result among `good` and marks every good result.
  void find_canonical(std::vector<std::pair<ResultRow*, Check>>& good, std::int64_t min_quorum,
              const std::string& wu_tag, std::int64_t& canonical_id) {
    const std::size_t n = good.size();
    const std::int64_t needed = min_quorum / 2 + 1;
    // agree[i][j], computed once per pair.
    std::vector<std::vector<int>> agree(n, std::vector<int>(n, -1));
    std::vector<std::string> first_why(n);
    auto agrees = [&](std::size_t i, std::size_t j) {
      if (i == j) return true;
      if (agree[i][j] < 0) {
        std::string why;
        bool same = results_agree(good[i].second.data, good[j].second.data, compare, &why);
        agree[i][j] = agree[j][i] = same ? 1 : 0;
        if (!same && first_why[j].empty()) first_why[j] = why;
      }
      return agree[i][j] == 1;
    };
    std::optional<std::size_t> chosen;
    for (std::size_t i = 0; i < n && !chosen; ++i) {
      std::int64_t matches = 0;
      for (std::size_t j = 0; j < n; ++j)
        if (agrees(i, j)) ++matches;
      if (matches >= needed) chosen = i;
    }
    if (!chosen) return;
    canonical_id = good[*chosen].first->id;
    log.normal(wu_tag + " canonical result " + good[*chosen].first->name);
    for (std::size_t j = 0; j < n; ++j) {
      ResultRow& r = *good[j].first;
      if (agrees(*chosen, j)) {
        grant(r);
      } else {
        log.normal(wu_tag + " result " + r.name + " disagrees with the canonical result: " +
                   first_why[j]);
        r.validate_state = kValidateInvalid;
        r.changed = true;
        r.judged = true;
      }
    }
  }

  static double wall_clock() {
    struct timeval tv {};
    ::gettimeofday(&tv, nullptr);
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  }

  bool pass(Database& db) {
    if (app_id == 0) app_id = app_id_by_name(db, options.app);
    auto wus = db.query("SELECT id FROM workunit WHERE appid = ? AND need_validate > 0 AND " +
                            options.mod_clause() + " ORDER BY id LIMIT 1000",
                        {app_id});
    if (wus.empty()) return false;
    // One date for the pass's credit, stored as BOINC stores it, so what a
    // later pass decays from is exactly what this one computed with.
    const double now = credit::as_stored(wall_clock());
    pass_credit = load_pass_credit(db, app_id, now);
    // Consecutive ids per group, as many groups as threads at least (while
    // there are workunits enough), each at most group_size.
    const std::size_t per_thread = (wus.size() + pool->threads() - 1) / pool->threads();
    const std::size_t size = std::max<std::size_t>(1, std::min<std::size_t>(group_size, per_thread));
    std::vector<std::vector<std::int64_t>> groups;
    for (std::size_t i = 0; i < wus.size(); ++i) {
      if (i % size == 0) groups.emplace_back();
      groups.back().push_back(wus[i].integer(0));
    }
    std::atomic<int> handled{0};
    pool->for_each(db, groups.size(), [&](Database& d, std::size_t i) { handled += handle_group(d, groups[i]); });
    write_app_version_samples(db, samples, now);
    if (handled) log.normal("validated " + std::to_string(handled) + " workunits");
    return handled > 0;
  }
};

}  // namespace
}  // namespace mw::boinc

namespace {

int validator_main(int argc, char** argv) {
  using namespace mw::boinc;
  // Each group allocates and frees some 100 KB to 1 MB (the locked rows with
  // their xml_doc_in, the write batch's SQL, the result bundles). With
  // glibc's defaults (trim and mmap at 128 KiB, adapting) the worker
  // threads' arenas gave that memory back to the kernel after every group
  // (madvise, munmap) and faulted it in again, each time flushing the other
  // threads' TLBs: about a third of the validator's CPU per workunit with
  // credit over 10^4 hosts (0.19-0.27 ms, 0.13-0.17 ms with these; bench/README.md,
  // "Issue 23: credit over many hosts"). Kept: at most 16 MiB per arena.
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 16 << 20);
  Validator v;
  CLI::App app{"Decides the quorum of a BOINC app's results", "mw-validator"};
  add_daemon_options(app, v.options);
  std::vector<std::string> numeric;
  double credit = -1;
  bool credit_from_fpops = false;
  std::uint64_t max_bundle = v.limits.max_bundle_bytes;
  app.add_option("--compare-cmd,--compare_cmd", v.compare.compare_command,
                 "Program run as PROGRAM DIR_A DIR_B (outputs extracted); exit 0 = agree, 1 = differ");
  app.add_option("--compare-timeout", v.compare.compare_timeout_seconds,
                 "Seconds the comparison program may run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--numeric", numeric, "Output compared numerically (repeat for several)");
  app.add_option("--rel-tol", v.compare.rel_tolerance, "Relative tolerance of numeric outputs")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--abs-tol", v.compare.abs_tolerance, "Absolute tolerance of numeric outputs")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto* fixed = app.add_option("--credit", credit,
                               "Credit per valid result (default: BOINC's adaptive credit, assign_credit_set)")
                    ->check(CLI::NonNegativeNumber);
  app.add_flag("--credit-from-fpops-est,--credit_from_fpops_est", credit_from_fpops,
               "Credit from the workunit's rsc_fpops_est, 200 per GFLOPS-day")
      ->excludes(fixed);
  app.add_option("--max-granted-credit,--max_granted_credit", v.credit.max_granted_credit,
                 "Largest credit granted for one result (0: no limit; BOINC's default)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--update-credited-job,--update_credited_job", v.credit.update_credited_job,
               "Record each valid result's (user, workunit opaque) pair in credited_job, as BOINC's option does");
  app.add_option("--group-size", v.group_size, "Workunits validated per transaction (at most)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--max-bundle-bytes", max_bundle, "Largest result bundle accepted (bytes)")->capture_default_str();
  int code = parse_daemon_command_line(app, argc, argv);
  if (code >= 0) return code;
  v.compare.numeric_outputs.insert(numeric.begin(), numeric.end());
  if (credit >= 0) {
    v.credit.scheme = CreditScheme::fixed;
    v.credit.fixed_credit = credit;
  } else if (credit_from_fpops) {
    v.credit.scheme = CreditScheme::fpops_estimate;
  }
  v.limits.max_bundle_bytes = max_bundle;
  return run_daemon(
      v.options, v.log, "mw-validator starting: app " + v.options.app,
      [&](const ProjectConfig& config) {
        v.config = config;
        v.credit.daily_result_quota = config.daily_result_quota;
        v.credit.credit_by_app = config.credit_by_app;
        v.pool = std::make_unique<WorkerPool>(db_params_from(config), v.options.threads);
      },
      [&](Database& d) { return v.pass(d); });
}

}  // namespace

// Nothing leaves main as an exception: bin/start's log gets one line and the
// daemon's fatal-error status.
int main(int argc, char** argv) {
  return mw::cli::run_main("mw-validator", mw::boinc::kExitDaemonFailed, [&] { return validator_main(argc, argv); });
}
