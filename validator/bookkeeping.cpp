#include "bookkeeping.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>
#include <utility>

#include "multi_row_update.h"
#include "mw/error.h"

namespace mw::boinc {
namespace {

using credit::as_stored;

// Credit per FLOP of the rsc_fpops_est scheme: 200 credits per GFLOPS-day.
constexpr double kCreditPerFpop = 200.0 / (86400.0 * 1e9);

struct Account {  // a host's, user's or team's credit columns
  double expavg_credit = 0, expavg_time = 0;
  std::vector<double> increments;  // added to total_credit, one per grant
};

struct Host {
  Account account;
  std::int64_t userid = 0;
  double total_credit = 0;  // the host row keeps its total in memory (BOINC writes a difference)
  double avg_turnaround = 0, orig_avg_turnaround = 0, orig_expavg_credit = 0, orig_expavg_time = 0;
};

struct User {
  Account account;
  std::int64_t teamid = 0;
};

struct AppCredit {  // a credit_user / credit_team row
  bool exists = false;
  double expavg = 0, expavg_time = 0;
  std::vector<double> increments;
};

struct Hav {
  credit::HostAppVersion row, orig;
  bool exists = false;
  // The app version whose row this one takes over (BOINC's hav_lookup): the
  // row is moved to the new version rather than made.
  std::int64_t taken_from = 0;
};

using Key = std::pair<std::int64_t, std::int64_t>;

std::vector<DbValue> ids_of(const std::set<std::int64_t>& ids) { return {ids.begin(), ids.end()}; }

// "column + ? + ? ...": the server adds in this order, as BOINC's one UPDATE
// per grant would.
MultiRowUpdate::Cell increased(const char* column, const std::vector<double>& increments) {
  MultiRowUpdate::Cell cell{column, {}};
  for (double d : increments) {
    cell.expression += " + ?";
    cell.values.emplace_back(std::in_place_type<double>, d);
  }
  return cell;
}


// A host_app_version row's host, version and statistics, from the columns of
// `row` starting at `first` (in the order of kHavColumns).
credit::HostAppVersion hav_columns(const DbRow& row, std::size_t first) {
  credit::HostAppVersion v;
  auto real = [&](std::size_t i) { return row.real(first + i); };
  v.host_id = row.integer(first);
  v.app_version_id = row.integer(first + 1);
  v.pfc = {real(2), real(3)};
  v.et = {real(4), real(5), real(6), real(7)};
  v.turnaround = {real(8), real(9), real(10), real(11)};
  v.max_jobs_per_day = row.integer(first + 12);
  v.consecutive_valid = row.integer(first + 13);
  return v;
}

// The rows a group of judgements touches, locked, and what they do to them.
class Books {
 public:
  Books(const CreditSettings& settings, const PassCredit& pass) : settings_(settings), pass_(pass) {}

  // Takes the rows bookkeeping_reads() returned (in its order), before any
  // workunit of the group is booked: every row is read as it was when locked.
  void load(const DbBatchResult* got) {
    for (const auto& row : got[0].rows) {
      Host& host = hosts_[row.integer(0)];
      host.userid = row.integer(1);
      host.total_credit = row.real(2);
      host.account.expavg_credit = host.orig_expavg_credit = row.real(3);
      host.account.expavg_time = host.orig_expavg_time = row.real(4);
      host.avg_turnaround = host.orig_avg_turnaround = row.real(5);
    }
    for (const auto& row : got[1].rows) {
      User& u = users_[row.integer(0)];
      u.teamid = row.integer(1);
      u.account.expavg_credit = row.real(2);
      u.account.expavg_time = row.real(3);
    }
    for (const auto& row : got[2].rows) {
      Account& t = teams_[row.integer(0)];
      t.expavg_credit = row.real(1);
      t.expavg_time = row.real(2);
    }
    for (const auto& row : got[3].rows) {
      Hav& h = havs_[{row.integer(0), row.integer(1)}];
      h.exists = true;
      h.row = hav_columns(row, 0);
      h.orig = h.row;
    }
    if (settings_.credit_by_app) {
      for (const auto& row : got[4].rows) load_app_credit(user_credit_, row);
      for (const auto& row : got[5].rows) load_app_credit(team_credit_, row);
    }
    // Rows of older versions of the same app, platform and plan class that a
    // missing row takes over: per (host, new version) the newest version's.
    for (const auto& row : got[settings_.credit_by_app ? 6 : 4].rows) {
      const Key key{row.integer(0), row.integer(1)};
      const std::int64_t version_num = row.integer(2);
      auto [it, fresh] = takeovers_.try_emplace(key);
      if (!fresh && it->second.first >= version_num) continue;
      it->second.first = version_num;
      Hav& h = it->second.second;
      h.row = hav_columns(row, 3);
      h.taken_from = h.row.app_version_id;
      h.row.app_version_id = key.second;
      h.orig = h.row;
    }
  }

  // Points each judged result of `j` at its host_app_version, as it is after
  // the group's earlier workunits (a row made or taken over by one of them is
  // this one's too, as it would be after their commits).
  void attach(Judgement& j) {
    for (auto& r : j.results) {
      const Key key{r.hostid, credit::generalized_app_version_id(r.claim.app_version_id, pass_.app.id)};
      auto it = havs_.find(key);
      // A missing host_app_version of a known app version is made (BOINC's
      // hav_lookup inserts a zeroed one); one of an anonymous-platform
      // version is not (BOINC's hav_lookup looks the generalized id up as an
      // app version, which fails: only the scheduler makes those). Results
      // without one keep no statistics.
      if (it == havs_.end() && r.hostid != 0 && r.claim.app_version_id > 0 &&
          pass_.versions.count(r.claim.app_version_id)) {
        auto old = takeovers_.find(key);
        it = havs_.emplace(key, old != takeovers_.end() ? old->second.second : Hav{}).first;
        it->second.row.host_id = key.first;
        it->second.row.app_version_id = key.second;
      }
      r.claim.hav = it == havs_.end() ? &no_hav_ : &it->second.row;
    }
  }

  // BOINC's credit for a new canonical result under the chosen scheme; the
  // default computation runs whatever the scheme, for its statistics.
  double canonical_credit(Judgement& j, std::map<std::int64_t, credit::AppVersionStats>& versions) {
    std::vector<credit::Claim> claims;
    for (const auto& r : j.results)
      if (r.valid) claims.push_back(r.claim);
    double credit = credit::assign_credit_set(j.wu, pass_.app, claims, versions, settings_.max_granted_credit);
    if (settings_.scheme == CreditScheme::fpops_estimate) credit = j.wu.rsc_fpops_est * kCreditPerFpop;
    if (settings_.scheme == CreditScheme::fixed) credit = settings_.fixed_credit;
    if (settings_.max_granted_credit != 0 && credit > settings_.max_granted_credit)
      credit = settings_.max_granted_credit;
    return credit;
  }

  // is_valid: the host's average turnaround and its host_app_version counts.
  void count_valid(JudgedResult& r, const Judgement& j) {
    auto hit = hosts_.find(r.hostid);
    if (hit != hosts_.end())
      hit->second.avg_turnaround = as_stored(
          credit::next_avg_turnaround(hit->second.avg_turnaround, r.claim.received_time - r.claim.sent_time));
    if (r.claim.hav->host_id != 0) credit::count_valid(*r.claim.hav, j.wu, pass_.app);
    // The host's owner, not the result's: BOINC reads host.userid.
    if (settings_.update_credited_job && hit != hosts_.end())
      credited_jobs_.insert({hit->second.userid, static_cast<std::int64_t>(j.opaque)});
  }

  // grant_credit (+ grant_credit_by_app): `credit` to the result, its host,
  // the host's owner and the owner's team.
  void grant_valid(JudgedResult& r, double credit) {
    r.granted_credit = as_stored(credit);
    auto hit = hosts_.find(r.hostid);
    if (hit == hosts_.end()) return;  // the host row is gone: nobody to credit
    // The averages are computed with the credit as computed; only what is
    // stored is rounded (BOINC passes the unrounded value on).
    grant(hit->second, r, credit);
    if (settings_.credit_by_app) {
      grant_app(user_credit_[{r.userid, pass_.app.id}], r, credit);
      grant_app(team_credit_[{r.teamid, pass_.app.id}], r, credit);
    }
  }

  void invalid(JudgedResult& r) {
    if (r.claim.hav->host_id != 0) credit::count_invalid(*r.claim.hav, settings_.daily_result_quota);
  }

  // BOINC writes a host_app_version after each result; the next result reads
  // it back rounded.
  void settle(JudgedResult& r) {
    credit::HostAppVersion& v = *r.claim.hav;
    if (v.host_id == 0) return;
    v.pfc = {as_stored(v.pfc.n), as_stored(v.pfc.avg)};
    v.et = {as_stored(v.et.n), as_stored(v.et.avg), as_stored(v.et.var), as_stored(v.et.q)};
    v.turnaround = {as_stored(v.turnaround.n), as_stored(v.turnaround.avg), as_stored(v.turnaround.var),
                    as_stored(v.turnaround.q)};
  }

  void write(std::vector<DbStatement>& out) const {
    // BOINC writes a host's fields that changed; writing an unchanged one
    // back (the value read) is the same.
    MultiRowUpdate host("host", {"id"}, {"avg_turnaround", "total_credit", "expavg_credit", "expavg_time"});
    for (const auto& [id, h] : hosts_) {
      if (h.avg_turnaround == h.orig_avg_turnaround && h.account.increments.empty() &&
          h.account.expavg_credit == h.orig_expavg_credit && h.account.expavg_time == h.orig_expavg_time)
        continue;
      host.add({id}, {value(h.avg_turnaround), increased("total_credit", h.account.increments),
                      value(h.account.expavg_credit), value(h.account.expavg_time)});
    }
    host.emit(out);
    write_accounts("user", users_, out);
    write_accounts("team", teams_, out);
    // The group's host_app_version rows, new and changed ones alike, in one
    // INSERT ... ON DUPLICATE KEY UPDATE keyed on (host_id, app_version_id).
    // A row read by bookkeeping_reads() is locked (FOR UPDATE) until the
    // commit, so nobody can have deleted it: for it the statement always
    // takes the UPDATE branch and never makes a row. A new row is made as
    // BOINC's hav_lookup makes it; if another transaction made it meanwhile
    // (its lock could not be taken before the row existed), ours wins.
    // n_jobs_today (the scheduler's) is 0 in a new row and left alone in an
    // existing one. One statement rather than one per new row (100 new rows:
    // 10 ms of server CPU one by one, 2.2 ms in one) or a CASE over key pairs
    // (100 existing rows: 8.2 ms, growing with the square of the rows).
    std::string hav_rows;
    std::vector<DbValue> hav_args;
    for (const auto& [key, h] : havs_) {
      const credit::HostAppVersion& v = h.row;
      std::vector<DbValue> args = {v.pfc.n, v.pfc.avg, v.et.n, v.et.avg, v.et.var, v.et.q, v.turnaround.n,
                                   v.turnaround.avg, v.turnaround.var, v.turnaround.q,
                                   v.max_jobs_per_day, v.consecutive_valid, key.first, key.second};
      if (h.taken_from != 0) {
        // The old version's row becomes this version's, with what it knew.
        args.push_back(key.first);
        args.push_back(h.taken_from);
        out.push_back({"UPDATE host_app_version SET pfc_n = ?, pfc_avg = ?, et_n = ?, et_avg = ?, et_var = ?, "
                       "et_q = ?, turnaround_n = ?, turnaround_avg = ?, turnaround_var = ?, turnaround_q = ?, "
                       "max_jobs_per_day = ?, consecutive_valid = ?, host_id = ?, app_version_id = ? "
                       "WHERE host_id = ? AND app_version_id = ?",
                       std::move(args)});
      } else if (!h.exists || changed(h)) {
        hav_rows += hav_rows.empty() ? "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
                                     : ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)";
        hav_args.insert(hav_args.end(), args.begin(), args.end());
      }
    }
    if (!hav_rows.empty())
      out.push_back({"INSERT INTO host_app_version (pfc_n, pfc_avg, et_n, et_avg, et_var, et_q, turnaround_n, "
                     "turnaround_avg, turnaround_var, turnaround_q, max_jobs_per_day, consecutive_valid, "
                     "host_id, app_version_id, n_jobs_today) VALUES " + hav_rows +
                     " ON DUPLICATE KEY UPDATE pfc_n = VALUES(pfc_n), pfc_avg = VALUES(pfc_avg), "
                     "et_n = VALUES(et_n), et_avg = VALUES(et_avg), et_var = VALUES(et_var), et_q = VALUES(et_q), "
                     "turnaround_n = VALUES(turnaround_n), turnaround_avg = VALUES(turnaround_avg), "
                     "turnaround_var = VALUES(turnaround_var), turnaround_q = VALUES(turnaround_q), "
                     "max_jobs_per_day = VALUES(max_jobs_per_day), consecutive_valid = VALUES(consecutive_valid)",
                     std::move(hav_args)});
    write_app_credit("credit_user", "userid", user_credit_, out);
    write_app_credit("credit_team", "teamid", team_credit_, out);
    if (!credited_jobs_.empty()) {
      // BOINC logs a failed insert (the pair is there already) and goes on.
      std::string sql = "INSERT IGNORE INTO credited_job (userid, workunitid) VALUES ";
      std::vector<DbValue> args;
      for (const auto& [user, wu] : credited_jobs_) {
        sql += args.empty() ? "(?, ?)" : ", (?, ?)";
        args.push_back(user);
        args.push_back(wu);
      }
      out.push_back({std::move(sql), std::move(args)});
    }
  }

 private:
  const CreditSettings& settings_;
  const PassCredit& pass_;
  std::map<std::int64_t, Host> hosts_;
  std::map<std::int64_t, User> users_;
  std::map<std::int64_t, Account> teams_;
  std::map<Key, Hav> havs_;
  std::map<Key, AppCredit> user_credit_, team_credit_;
  std::set<Key> credited_jobs_;  // (userid, workunitid)
  std::map<Key, std::pair<std::int64_t, Hav>> takeovers_;  // → (its version_num, the row)
  credit::HostAppVersion no_hav_;

  static void load_app_credit(std::map<Key, AppCredit>& into, const DbRow& row) {
    AppCredit& c = into[{row.integer(0), row.integer(1)}];
    c.exists = true;
    c.expavg = row.real(2);
    c.expavg_time = row.real(3);
  }

  static bool changed(const Hav& h) {
    const auto& a = h.row;
    const auto& b = h.orig;
    return a.pfc.n != b.pfc.n || a.pfc.avg != b.pfc.avg || a.et.n != b.et.n || a.et.avg != b.et.avg ||
           a.et.var != b.et.var || a.et.q != b.et.q || a.turnaround.n != b.turnaround.n ||
           a.turnaround.avg != b.turnaround.avg || a.turnaround.var != b.turnaround.var ||
           a.turnaround.q != b.turnaround.q || a.max_jobs_per_day != b.max_jobs_per_day ||
           a.consecutive_valid != b.consecutive_valid;
  }

  // The recent average of one account, stored as BOINC stores it.
  void decay_and_add(double& avg, double& avg_time, double sent_time, double amount) const {
    credit::update_average(pass_.now, sent_time, amount, avg, avg_time);
    avg = as_stored(avg);
    avg_time = as_stored(avg_time);
  }

  // grant_credit: the host, its owner and the owner's team.
  void grant(Host& host, const JudgedResult& r, double credit) {
    const double sent = r.claim.sent_time;
    decay_and_add(host.account.expavg_credit, host.account.expavg_time, sent, credit);
    // BOINC keeps the host's total in memory and writes the difference.
    const double total = host.total_credit + credit;
    const double increment = as_stored(total - host.total_credit);
    host.account.increments.push_back(increment);
    host.total_credit += increment;
    auto u = users_.find(host.userid);
    if (u == users_.end()) return;
    decay_and_add(u->second.account.expavg_credit, u->second.account.expavg_time, sent, credit);
    u->second.account.increments.push_back(as_stored(credit));
    if (u->second.teamid == 0) return;
    auto t = teams_.find(u->second.teamid);
    if (t == teams_.end()) return;
    decay_and_add(t->second.expavg_credit, t->second.expavg_time, sent, credit);
    t->second.increments.push_back(as_stored(credit));
  }

  // grant_credit_by_app: a new row starts dated now.
  void grant_app(AppCredit& c, const JudgedResult& r, double credit) const {
    if (!c.exists && c.increments.empty()) c.expavg_time = pass_.now;
    decay_and_add(c.expavg, c.expavg_time, r.claim.sent_time, credit);
    c.increments.push_back(as_stored(credit));
  }

  template <typename Map>
  static void write_accounts(const char* table, const Map& rows, std::vector<DbStatement>& out) {
    MultiRowUpdate update(table, {"id"}, {"total_credit", "expavg_credit", "expavg_time"});
    for (const auto& [id, row] : rows) {
      const Account& a = account_of(row);
      if (a.increments.empty()) continue;
      update.add({id}, {increased("total_credit", a.increments), value(a.expavg_credit), value(a.expavg_time)});
    }
    update.emit(out);
  }
  static const Account& account_of(const User& u) { return u.account; }
  static const Account& account_of(const Account& a) { return a; }

  void write_app_credit(const char* table, const char* who, const std::map<Key, AppCredit>& rows,
                        std::vector<DbStatement>& out) const {
    for (const auto& [key, c] : rows) {
      if (c.increments.empty()) continue;
      if (!c.exists)
        out.push_back({std::string("INSERT IGNORE INTO ") + table + " (" + who +
                           ", appid, njobs, total, expavg, expavg_time, credit_type) VALUES (?, ?, 0, 0, 0, ?, 0)",
                       {key.first, key.second, as_stored(pass_.now)}});
      MultiRowUpdate::Cell total = increased("total", c.increments);
      std::vector<DbValue> args = total.values;
      std::string set = "total = " + total.expression + ", expavg = ?, expavg_time = ?, njobs = njobs + ?";
      args.push_back(c.expavg);
      args.push_back(c.expavg_time);
      args.push_back(static_cast<std::int64_t>(c.increments.size()));
      args.push_back(key.first);
      args.push_back(key.second);
      out.push_back({std::string("UPDATE ") + table + " SET " + set + " WHERE " + who + " = ? AND appid = ?",
                     std::move(args)});
    }
  }
};

}  // namespace

// The columns hav_columns() reads, of host_app_version v.
constexpr const char* kHavColumns =
    "v.host_id, v.app_version_id, v.pfc_n, v.pfc_avg, v.et_n, v.et_avg, v.et_var, v.et_q, v.turnaround_n, "
    "v.turnaround_avg, v.turnaround_var, v.turnaround_q, v.max_jobs_per_day, v.consecutive_valid";

namespace {

// Locks the rows of `table` whose ids are `ids` (ascending): a range read of
// the primary key, which takes the row locks in id order.
DbStatement locking_read_by_id(const std::string& columns, const char* table, const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return {"SELECT " + columns + " FROM " + table + " WHERE FALSE", {}};
  return {"SELECT " + columns + " FROM " + table + " WHERE id IN (" + sql_placeholders(ids.size()) +
              ") ORDER BY id FOR UPDATE",
          {ids.begin(), ids.end()}};
}

// Adds to `into` (ascending, distinct) the ids of `more` it lacks.
bool merge_ids(std::vector<std::int64_t>& into, const std::set<std::int64_t>& more) {
  std::vector<std::int64_t> merged;
  std::set_union(into.begin(), into.end(), more.begin(), more.end(), std::back_inserter(merged));
  const bool grew = merged.size() != into.size();
  into = std::move(merged);
  return grew;
}

}  // namespace

DbStatement credit_owners_read(const std::vector<std::int64_t>& wu_ids) {
  return {"SELECT DISTINCT h.id, h.userid, u.teamid FROM result r JOIN host h ON h.id = r.hostid "
          "LEFT JOIN user u ON u.id = h.userid WHERE r.workunitid IN (" + sql_placeholders(wu_ids.size()) + ")",
          {wu_ids.begin(), wu_ids.end()}};
}

CreditOwners credit_owners(const DbBatchResult& rows) {
  std::set<std::int64_t> hosts, users, teams;
  for (const auto& row : rows.rows) {
    hosts.insert(row.integer(0));
    if (row.integer(1) != 0) users.insert(row.integer(1));
    if (!row.is_null(2) && row.integer(2) != 0) teams.insert(row.integer(2));
  }
  return {{hosts.begin(), hosts.end()}, {users.begin(), users.end()}, {teams.begin(), teams.end()}};
}

bool CreditOwners::take_missing(const std::vector<DbBatchResult>& rows) {
  std::set<std::int64_t> more_users, more_teams;
  for (const auto& row : rows[0].rows)
    if (row.integer(1) != 0) more_users.insert(row.integer(1));
  for (const auto& row : rows[1].rows)
    if (row.integer(1) != 0) more_teams.insert(row.integer(1));
  const bool users_grew = merge_ids(users, more_users);
  const bool teams_grew = merge_ids(teams, more_teams);
  return users_grew || teams_grew;
}

std::vector<DbStatement> bookkeeping_reads(const std::vector<std::int64_t>& wu_ids, const CreditOwners& owners,
                                          std::int64_t app_id, bool credit_by_app) {
  const std::string in = "r.workunitid IN (" + sql_placeholders(wu_ids.size()) + ")";
  const std::vector<DbValue> ids(wu_ids.begin(), wu_ids.end());
  auto with_ids = [&](std::vector<DbValue> first) {
    first.insert(first.end(), ids.begin(), ids.end());
    return first;
  };
  std::vector<DbStatement> reads = {
      locking_read_by_id("id, userid, total_credit, expavg_credit, expavg_time, avg_turnaround", "host",
                         owners.hosts),
      locking_read_by_id("id, teamid, expavg_credit, expavg_time", "user", owners.users),
      locking_read_by_id("id, expavg_credit, expavg_time", "team", owners.teams),
      {std::string("SELECT ") + kHavColumns + " FROM result r JOIN host_app_version v ON v.host_id = r.hostid AND "
       "v.app_version_id = IF(r.app_version_id < 0, ? * 1000000 - r.app_version_id, r.app_version_id) "
       "WHERE " + in + " FOR UPDATE",
       with_ids({app_id})}};
  if (credit_by_app) {
    reads.push_back({"SELECT c.userid, c.appid, c.expavg, c.expavg_time FROM result r JOIN credit_user c ON "
                     "c.userid = r.userid AND c.appid = ? WHERE " + in + " FOR UPDATE",
                     with_ids({app_id})});
    reads.push_back({"SELECT c.teamid, c.appid, c.expavg, c.expavg_time FROM result r JOIN credit_team c ON "
                     "c.teamid = r.teamid AND c.appid = ? WHERE " + in + " FOR UPDATE",
                     with_ids({app_id})});
  }
  // A result's host without a row for its app version takes over its row
  // for an older version of the same app, platform and plan class (BOINC's
  // hav_lookup). Shared locks: every workunit's results join the same
  // app_version rows, which an exclusive lock would serialize the threads on.
  reads.push_back({std::string("SELECT r.hostid, r.app_version_id, a2.version_num, ") + kHavColumns +
                       " FROM result r JOIN app_version a ON a.id = r.app_version_id "
                       "JOIN app_version a2 ON a2.appid = a.appid AND a2.platformid = a.platformid AND "
                       "a2.plan_class = a.plan_class AND a2.id <> a.id "
                       "JOIN host_app_version v ON v.host_id = r.hostid AND v.app_version_id = a2.id "
                       "WHERE " + in + " AND r.hostid <> 0 AND r.app_version_id > 0 AND NOT EXISTS "
                       "(SELECT 1 FROM host_app_version x WHERE x.host_id = r.hostid AND "
                       "x.app_version_id = r.app_version_id) LOCK IN SHARE MODE",
                   ids});
  return reads;
}

struct Bookkeeping::Ledger : Books {
  using Books::Books;
};

Bookkeeping::Bookkeeping(const CreditSettings& settings, const PassCredit& pass, const DbBatchResult* rows)
    : settings_(settings), pass_(pass), ledger_(std::make_unique<Ledger>(settings, pass)) {
  ledger_->load(rows);
}

Bookkeeping::~Bookkeeping() = default;

double Bookkeeping::book(Judgement& j, std::map<std::int64_t, credit::AppVersionStats>& samples) {
  if (j.results.empty()) return 0;
  Ledger& ledger = *ledger_;
  ledger.attach(j);
  // The app versions' statistics as the pass read them, plus this
  // workunit's samples (handed to the caller).
  std::map<std::int64_t, credit::AppVersionStats> versions = pass_.versions;
  double canonical = 0;
  if (!j.late) {
    // The credit first (it updates the statistics of every valid result's
    // host_app_version), then each result as BOINC's validator takes them.
    canonical = ledger.canonical_credit(j, versions);
    for (auto& r : j.results) {
      if (r.valid) {
        ledger.count_valid(r, j);
        ledger.grant_valid(r, canonical);
      } else {
        ledger.invalid(r);
      }
      ledger.settle(r);
    }
  } else {
    // Late results: counted valid, then their statistics, then the
    // canonical result's credit, one result after the other.
    for (auto& r : j.results) {
      if (r.valid) {
        ledger.count_valid(r, j);
        std::vector<credit::Claim> one = {r.claim};
        credit::assign_credit_set(j.wu, pass_.app, one, versions, settings_.max_granted_credit);
        ledger.grant_valid(r, j.canonical_granted);
      } else {
        ledger.invalid(r);
      }
      ledger.settle(r);
    }
  }
  for (auto& [id, v] : versions) {
    if (v.pfc_samples.empty() && v.credit_samples.empty()) continue;
    credit::add_samples(samples[id], v);
  }
  return canonical;
}

void Bookkeeping::write(std::vector<DbStatement>& out) const { ledger_->write(out); }

PassCredit load_pass_credit(Database& db, std::int64_t app_id, double now) {
  PassCredit p;
  p.now = now;
  auto got = db.execute_batch(
      {{"SELECT id, min_avg_pfc, host_scale_check, target_nresults FROM app WHERE id = ?", {app_id}},
       {"SELECT id, pfc_n, pfc_avg, pfc_scale, expavg_credit, expavg_time FROM app_version WHERE appid = ?",
        {app_id}}});
  if (got[0].rows.empty()) throw Error(Errc::database, "app " + std::to_string(app_id) + " is gone");
  const DbRow& a = got[0].rows[0];
  p.app = {a.integer(0), a.real(1), a.integer(2) != 0, a.integer(3)};
  for (const auto& row : got[1].rows) {
    credit::AppVersionStats& v = p.versions[row.integer(0)];
    v.id = row.integer(0);
    v.pfc = {row.real(1), row.real(2)};
    v.pfc_scale = row.real(3);
    v.expavg_credit = row.real(4);
    v.expavg_time = row.real(5);
  }
  return p;
}

void write_app_version_samples(Database& db, std::map<std::int64_t, credit::AppVersionStats>& samples, double now) {
  if (samples.empty()) return;
  std::set<std::int64_t> ids;
  for (const auto& [id, s] : samples) ids.insert(id);
  db.transaction_retrying([&] {
    auto rows = db.query("SELECT id, pfc_n, pfc_avg, expavg_credit, expavg_time FROM app_version WHERE id IN (" +
                             sql_placeholders(ids.size()) + ") ORDER BY id FOR UPDATE",
                         ids_of(ids));
    std::vector<DbStatement> writes;
    for (const auto& row : rows) {
      credit::AppVersionStats v = samples.at(row.integer(0));  // a copy: a retry starts again from the samples
      v.pfc = {row.real(1), row.real(2)};
      v.expavg_credit = row.real(3);
      v.expavg_time = row.real(4);
      credit::flush_app_version(v, now);
      writes.push_back({"UPDATE app_version SET pfc_n = ?, pfc_avg = ?, expavg_credit = ?, expavg_time = ? WHERE id = ?",
                        {as_stored(v.pfc.n), as_stored(v.pfc.avg), as_stored(v.expavg_credit),
                         as_stored(v.expavg_time), v.id}});
    }
    if (!writes.empty()) db.execute_batch(writes, /*commit=*/true);
  });
  samples.clear();
}

}  // namespace mw::boinc
