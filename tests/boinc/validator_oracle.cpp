#include "boinc/validator_oracle.h"

#include <cstdio>
#include <vector>

#include "boinc_db.h"
#include "credit.h"
#include "error_numbers.h"
#include "sched_config.h"
#include "sched_util.h"

namespace {

double g_now = 0;
// The validator's cache of app versions: the PFC samples of a pass gather
// here until flush_app_versions().
std::vector<DB_APP_VERSION_VAL> g_versions;

bool is_unreplicated(const WORKUNIT& wu, const DB_APP& app) {
  return wu.target_nresults == 1 && app.target_nresults > 1;
}

// validator.cpp's is_valid(). The credited_job row goes through libsched's
// DB_CREDITED_JOB; a failed insert (the pair exists) is, as there, no error.
void count_valid(HOST& host, const RESULT& r, const WORKUNIT& wu, const DB_APP& app, DB_HOST_APP_VERSION& hav,
                 bool update_credited_job) {
  compute_avg_turnaround(host, r.received_time - r.sent_time);
  hav.max_jobs_per_day++;
  if (!is_unreplicated(wu, app)) hav.consecutive_valid++;
  if (update_credited_job) {
    DB_CREDITED_JOB credited;
    credited.userid = host.userid;
    credited.workunitid = static_cast<long>(wu.opaque);
    credited.insert();
  }
}

// validator.cpp's is_invalid().
void count_invalid(DB_HOST_APP_VERSION& hav) {
  hav.consecutive_valid = 0;
  if (hav.max_jobs_per_day > config.daily_result_quota) hav.max_jobs_per_day--;
}

void grant(DB_HOST& host, RESULT& r, double credit) {
  r.granted_credit = credit;
  grant_credit(host, r.sent_time, credit);
  if (config.credit_by_app) grant_credit_by_app(r, credit);
}

DB_HOST_APP_VERSION lookup_hav(const RESULT& r) {
  DB_HOST_APP_VERSION hav;
  if (hav_lookup(hav, r.hostid, generalized_app_version_id(r.app_version_id, r.appid)) != 0) hav.host_id = 0;
  return hav;
}

}  // namespace

// libsched's credit functions date what they write with dtime().
double dtime() { return g_now; }

namespace oracle {

void set_clock(double now) { g_now = now; }

int book_workunit(const JudgedWorkunit& judged, const std::string& app_name, double max_granted_credit,
                  std::string& why) {
  DB_APP app;
  std::string where = "where name='" + app_name + "'";
  if (int rc = app.lookup(where.c_str())) return why = "app lookup", rc;
  DB_WORKUNIT wu;
  if (int rc = wu.lookup_id(judged.id)) return why = "workunit lookup", rc;
  std::vector<RESULT> all;
  DB_RESULT row;
  const std::string of_wu = "where workunitid=" + std::to_string(judged.id) + " order by id";
  while (row.enumerate(of_wu.c_str()) == 0) all.push_back(row);
  auto state_after = [&](RESULT& r) {
    auto it = judged.judged.find(static_cast<long>(r.id));
    if (it != judged.judged.end()) r.validate_state = it->second;
  };
  DB_VALIDATOR_ITEM_SET writer;

  if (!judged.late) {
    std::vector<RESULT> viable;
    std::vector<DB_HOST_APP_VERSION> havs, havs_orig;
    for (RESULT r : all) {
      if (r.server_state != RESULT_SERVER_STATE_OVER || r.outcome != RESULT_OUTCOME_SUCCESS ||
          r.validate_state == VALIDATE_STATE_INVALID)
        continue;
      state_after(r);
      viable.push_back(r);
      havs.push_back(lookup_hav(r));
      havs_orig.push_back(havs.back());
    }
    double credit = 0;
    if (judged.canonical_found) {
      if (int rc = assign_credit_set(wu, viable, app, g_versions, havs, max_granted_credit, credit))
        return why = "assign_credit_set", rc;
      if (judged.scheme_credit >= 0) credit = judged.scheme_credit;
      if (max_granted_credit && credit > max_granted_credit) credit = max_granted_credit;
    }
    for (std::size_t i = 0; i < viable.size(); ++i) {
      RESULT& r = viable[i];
      const bool valid = r.validate_state == VALIDATE_STATE_VALID;
      const bool invalid = r.validate_state == VALIDATE_STATE_INVALID;
      if (!valid && !invalid) continue;
      DB_HOST host;
      if (int rc = host.lookup_id(r.hostid)) return why = "host lookup", rc;
      HOST initial = host;
      if (valid) {
        count_valid(host, r, wu, app, havs[i], judged.update_credited_job);
        grant(host, r, credit);
      } else {
        count_invalid(havs[i]);
      }
      if (havs[i].host_id && havs[i].update_validator(havs_orig[i])) return why = "hav update", -1;
      if (int rc = host.update_diff_validator(initial)) return why = "host update", rc;
      if (int rc = writer.update_result(r)) return why = "result update", rc;
    }
    if (judged.canonical_found) {
      wu.canonical_credit = credit;
      if (int rc = writer.update_workunit(wu)) return why = "workunit update", rc;
    }
    return 0;
  }

  const RESULT* canonical = nullptr;
  for (const RESULT& r : all)
    if (r.id == wu.canonical_resultid) canonical = &r;
  if (!canonical) return why = "no canonical result", -1;
  for (RESULT r : all) {
    if (!judged.judged.count(static_cast<long>(r.id))) continue;
    state_after(r);
    DB_HOST host;
    if (int rc = host.lookup_id(r.hostid)) return why = "host lookup", rc;
    HOST initial = host;
    std::vector<DB_HOST_APP_VERSION> hav = {lookup_hav(r)};
    DB_HOST_APP_VERSION hav_orig = hav[0];
    if (r.validate_state == VALIDATE_STATE_VALID) {
      count_valid(host, r, wu, app, hav[0], judged.update_credited_job);
      std::vector<RESULT> one = {r};
      double unused = 0;
      assign_credit_set(wu, one, app, g_versions, hav, max_granted_credit, unused);
      grant(host, r, canonical->granted_credit);
    } else {
      count_invalid(hav[0]);
    }
    if (hav[0].host_id && hav[0].update_validator(hav_orig)) return why = "hav update", -1;
    if (int rc = host.update_diff_validator(initial)) return why = "host update", rc;
    if (int rc = writer.update_result(r)) return why = "result update", rc;
  }
  return 0;
}

int flush_app_versions(std::string& why) {
  int rc = write_modified_app_versions(g_versions);
  if (rc) why = "write_modified_app_versions";
  g_versions.clear();
  return rc;
}

namespace {

void set_average(AVERAGE& a, const Stats& s) {
  a.n = s.n;
  a.avg = s.avg;
}
void set_average(AVERAGE_VAR& a, const Stats& s) {
  set_average(static_cast<AVERAGE&>(a), s);
  a.var = s.var;
  a.q = s.q;
}
Stats stats_of(const AVERAGE& a) { return {a.n, a.avg, 0, 0}; }
Stats stats_of(const AVERAGE_VAR& a) { return {a.n, a.avg, a.var, a.q}; }

}  // namespace

CreditOutcome assign_credit(const CreditRows& rows) {
  DB_APP app;
  app.clear();
  app.id = 1;
  app.min_avg_pfc = rows.min_avg_pfc;
  app.host_scale_check = rows.host_scale_check;
  app.target_nresults = rows.app_target_nresults;
  DB_WORKUNIT wu;
  wu.clear();
  wu.appid = app.id;
  wu.rsc_fpops_est = rows.rsc_fpops_est;
  wu.rsc_fpops_bound = rows.rsc_fpops_bound;
  wu.target_nresults = rows.wu_target_nresults;
  // The rows are large (BLOB-sized text fields): made in place, not copied.
  std::vector<DB_APP_VERSION_VAL> versions(rows.versions.size());
  for (std::size_t i = 0; i < rows.versions.size(); ++i) {
    const CreditVersion& v = rows.versions[i];
    DB_APP_VERSION_VAL& av = versions[i];
    av.clear();
    av.id = v.id;
    av.appid = app.id;
    av.pfc.n = v.pfc_n;
    av.pfc.avg = v.pfc_avg;
    av.pfc_scale = v.pfc_scale;
  }
  std::vector<RESULT> results(rows.claims.size());
  std::vector<DB_HOST_APP_VERSION> havs(rows.claims.size());
  long id = 0;
  for (std::size_t i = 0; i < rows.claims.size(); ++i) {
    const CreditClaim& c = rows.claims[i];
    RESULT& r = results[i];
    r.clear();
    r.id = ++id;
    r.hostid = id;
    r.appid = app.id;
    r.app_version_id = c.app_version_id;
    r.elapsed_time = c.elapsed_time;
    r.cpu_time = c.cpu_time;
    r.flops_estimate = c.flops_estimate;
    r.sent_time = c.sent_time;
    r.received_time = c.received_time;
    r.runtime_outlier = c.runtime_outlier;
    r.validate_state = VALIDATE_STATE_VALID;
    DB_HOST_APP_VERSION& hav = havs[i];
    hav.clear();
    hav.host_id = c.hav.exists ? id : 0;
    hav.app_version_id = c.app_version_id;
    set_average(hav.pfc, c.hav.pfc);
    set_average(hav.et, c.hav.et);
    set_average(hav.turnaround, c.hav.turnaround);
    hav.consecutive_valid = c.hav.consecutive_valid;
  }
  CreditOutcome out;
  // Its complaints (a capped credit, an implausible FLOP ratio) are about
  // generated rows: not worth thousands of lines of test output.
  const int level = log_messages.debug_level;
  log_messages.set_debug_level(0);
  assign_credit_set(wu, results, app, versions, havs, rows.max_granted_credit, out.credit);
  log_messages.set_debug_level(level);
  for (const DB_APP_VERSION_VAL& av : versions) {
    if (!av.pfc_samples.empty()) out.pfc_samples[static_cast<long>(av.id)] = av.pfc_samples;
    if (!av.credit_samples.empty()) out.credit_samples[static_cast<long>(av.id)] = av.credit_samples;
  }
  for (std::size_t i = 0; i < havs.size(); ++i) {
    CreditHav h;
    h.exists = rows.claims[i].hav.exists;
    h.pfc = stats_of(havs[i].pfc);
    h.et = stats_of(havs[i].et);
    h.turnaround = stats_of(havs[i].turnaround);
    h.consecutive_valid = havs[i].consecutive_valid;
    out.havs.push_back(h);
  }
  return out;
}

void fold_credit(double now, const std::vector<double>& samples, const std::vector<double>& times, double& avg,
                 double& avg_time) {
  for (std::size_t j = 0; j < samples.size(); ++j)
    update_average(now, times[j], samples[j], CREDIT_HALF_LIFE, avg, avg_time);
}

}  // namespace oracle
