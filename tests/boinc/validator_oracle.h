// validator_oracle.h — the bookkeeping of BOINC's validator, done by Debian's
// libsched 7.20.5 on a database, for mw-validator's differential test.
//
// libsched exports the pieces BOINC's validator (sched/validator.cpp, not a
// library) strings together: hav_lookup, assign_credit_set,
// compute_avg_turnaround, grant_credit, grant_credit_by_app,
// write_modified_app_versions and the DB_* row writers. book_workunit() calls
// them in the order validator.cpp's handle_wu does for a workunit whose
// results were judged as given (the judging itself is mw-validator's and is
// tested elsewhere). libsched reads the clock through dtime(); this oracle
// defines dtime() itself, so BOINC computes with the instant set_clock()
// gives it. BOINC's headers stay inside the .cpp (their macros clash with gtest).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace oracle {

// Opens BOINC's connection to the database config.xml of `project_dir` names
// (defined in create_work_oracle.cpp); close_project() closes it.
int open_project(const std::string& project_dir, std::string& why);
void close_project();

// What dtime() returns from now on.
void set_clock(double now);

struct JudgedWorkunit {
  long id = 0;
  bool late = false;             // it had a canonical result before the pass
  bool canonical_found = false;  // the pass chose one (not late)
  // The results the pass made VALID (1) or INVALID (2), by id; the other
  // results keep their state (INCONCLUSIVE counts as BOINC's INIT here).
  std::map<long, int> judged;
  // The validator's credit option other than the default: the credit it
  // grants instead of assign_credit_set's (which still runs, for the
  // statistics); negative: the default.
  double scheme_credit = -1;
  // The validator's --update_credited_job.
  bool update_credited_job = false;
};

// Books `wu` on the open database as BOINC's validator would, with the
// default credit scheme and `max_granted_credit`. Returns 0 or an error code
// with `why`.
int book_workunit(const JudgedWorkunit& wu, const std::string& app_name, double max_granted_credit,
                  std::string& why);

// write_modified_app_versions() for the samples book_workunit() gathered.
int flush_app_versions(std::string& why);

// libsched's assign_credit_set on rows given in memory (no database), so that
// many generated cases can be compared with mw-validator's arithmetic.
struct Stats {
  double n = 0, avg = 0, var = 0, q = 0;  // var and q only for AVERAGE_VAR
};
struct CreditHav {
  bool exists = true;  // false: the lookup failed (BOINC's host_id 0)
  Stats pfc, et, turnaround;
  int consecutive_valid = 0;
};
struct CreditClaim {
  long app_version_id = 0;
  double elapsed_time = 0, cpu_time = 0, flops_estimate = 0;
  int sent_time = 0, received_time = 0;
  bool runtime_outlier = false;
  CreditHav hav;
};
struct CreditVersion {
  long id = 0;
  double pfc_n = 0, pfc_avg = 0, pfc_scale = 0;
};
struct CreditRows {
  double rsc_fpops_est = 0, rsc_fpops_bound = 0;
  int wu_target_nresults = 0;
  double min_avg_pfc = 0;
  bool host_scale_check = false;
  int app_target_nresults = 0;
  double max_granted_credit = 0;
  std::vector<CreditVersion> versions;
  std::vector<CreditClaim> claims;  // all valid
};
struct CreditOutcome {
  double credit = 0;
  std::map<long, std::vector<double>> pfc_samples, credit_samples;
  std::vector<CreditHav> havs;  // after, in the claims' order
};
CreditOutcome assign_credit(const CreditRows& rows);

// libboinc's update_average over an app version's credit samples at `now`
// (what write_modified_app_versions does before it writes).
void fold_credit(double now, const std::vector<double>& samples, const std::vector<double>& times, double& avg,
                 double& avg_time);

}  // namespace oracle
