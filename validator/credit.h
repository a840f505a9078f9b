// validator/credit.h — the arithmetic of BOINC's validator bookkeeping: recent
// average credit, host and host/app-version statistics, and BOINC's default
// credit ("claimed peak FLOP counts", normalised across app versions).
//
// Nothing here touches the database: the rows come in as these structs and
// go out changed (validator/bookkeeping.* does the SQL). The formulas are the
// ones Debian's libsched 7.20.5 applies (sched/credit.cpp, sched/validator.cpp,
// lib/util.cpp, db/boinc_db_types.h's AVERAGE); tests/boinc/validator_parity_test.cpp
// compares every value with libsched's own functions, and
// tests/boinc/credit_arithmetic_test.cpp every intermediate one. They are
// restated here operation by operation, in the order Debian's build of
// libsched evaluates them, because the tests (and BOINC projects that compare
// old and new daemons) expect the same bits: changing (a*b)/c into a*(b/c)
// would change the last digit. That order is not always the source's: the
// library is compiled with -ffast-math or the like (credit.cpp says where
// it shows).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mw::boinc::credit {

// BOINC writes every floating-point column it computes as printf("%.15e"),
// i.e. rounded to 16 significant digits; this is that rounding, so the value
// we store (and go on computing with) is the one BOINC would have stored.
double as_stored(double x);

// Exponentially weighted statistics of a sample stream (BOINC's AVERAGE):
// the plain mean of the first `threshold` samples, then a moving average
// giving new samples `weight`; a sample above `limit` times the average is
// cut to that.
struct Average {
  double n = 0, avg = 0;
  void add(double sample, double threshold, double weight, double limit);
};
// The same with the variance (BOINC's AVERAGE_VAR; q is the running sum of
// squared deviations used while n < threshold).
struct AverageVar {
  double n = 0, avg = 0, var = 0, q = 0;
  void add(double sample, double threshold, double weight, double limit);
};

// Recent average credit: credit per day, decaying with a half-life of one
// week. `avg`/`avg_time` are the stored expavg_credit/expavg_time; `work` is
// the credit just granted for a job started at `work_start` (its sent_time).
void update_average(double now, double work_start, double work, double& avg, double& avg_time);

// host.avg_turnaround after a valid result that took `turnaround` seconds.
double next_avg_turnaround(double avg_turnaround, double turnaround);

// A host_app_version row (statistics of one host running one app version).
struct HostAppVersion {
  std::int64_t host_id = 0;          // 0: no row (BOINC's "hav lookup failed")
  std::int64_t app_version_id = 0;   // generalized id (see generalized_app_version_id)
  Average pfc;                       // claimed peak FLOPs / rsc_fpops_est
  AverageVar et;                     // elapsed time / rsc_fpops_est
  AverageVar turnaround;             // received_time - sent_time
  std::int64_t max_jobs_per_day = 0;
  std::int64_t consecutive_valid = 0;
};

// An app_version row's credit statistics; the samples gathered during a pass
// are folded into it at the end of the pass (flush_app_version).
struct AppVersionStats {
  std::int64_t id = 0;
  Average pfc;
  double pfc_scale = 0;
  double expavg_credit = 0, expavg_time = 0;
  std::vector<double> pfc_samples, credit_samples, credit_times;
};

// The app row's columns the credit computation reads.
struct AppInfo {
  std::int64_t id = 0;
  double min_avg_pfc = 0;
  bool host_scale_check = false;
  std::int64_t target_nresults = 0;
};

// The workunit's columns it reads.
struct WuInfo {
  double rsc_fpops_est = 0, rsc_fpops_bound = 0;
  std::int64_t target_nresults = 0;
};

// A valid result's columns it reads.
struct Claim {
  std::int64_t id = 0;
  std::int64_t app_version_id = 0;
  double sent_time = 0, received_time = 0;
  double elapsed_time = 0, cpu_time = 0, flops_estimate = 0;
  bool runtime_outlier = false;
  bool device_emulation = false;  // stderr says "Device Emulation (CPU)" (a CUDA app ran on the CPU)
  HostAppVersion* hav = nullptr;  // its host_app_version (host_id 0 if none)
};

// host_app_version.app_version_id for a result: anonymous-platform versions
// (negative ids) are keyed by app and resource instead.
std::int64_t generalized_app_version_id(std::int64_t app_version_id, std::int64_t app_id);

// BOINC's default credit for a quorum's valid results (assign_credit_set):
// each result's claimed peak FLOP count, scaled by its app version's and its
// host's efficiency once enough samples exist, averaged with weights that
// favour claims near the workunit's estimate. Updates each claim's
// host_app_version statistics and records samples in `versions` (the pass's
// app versions, by id; a result whose version is not there counts as an
// unknown version). `max_granted_credit` 0 means no cap.
double assign_credit_set(const WuInfo& wu, const AppInfo& app, std::vector<Claim>& claims,
                         std::map<std::int64_t, AppVersionStats>& versions, double max_granted_credit);

// Appends the samples of `from` to those of `into` (same app version).
void add_samples(AppVersionStats& into, const AppVersionStats& from);

// Folds an app version's samples into its statistics at time `now` and clears them.
void flush_app_version(AppVersionStats& av, double now);

// BOINC's validator on the host_app_version of a valid result (is_valid):
// one more job a day allowed, and one more consecutive valid result unless the
// workunit was not replicated although the app normally is.
void count_valid(HostAppVersion& hav, const WuInfo& wu, const AppInfo& app);
// ... and of an invalid one (is_invalid): the streak ends, and the daily
// quota shrinks by one while it is above the project's daily_result_quota.
void count_invalid(HostAppVersion& hav, int daily_result_quota);

}  // namespace mw::boinc::credit
