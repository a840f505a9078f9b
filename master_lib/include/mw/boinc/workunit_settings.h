// mw/boinc/workunit_settings.h — a BOINC workunit's resource and replication
// settings, as both BOINC interfaces (mw/boinc/local.h, mw/boinc/remote.h) and
// the work creator take them. Needs nothing but the standard library, so a
// master that submits remotely does not pull in the server layer.
#pragma once

#include <string>

namespace mw::boinc {

// Per-workunit settings. Defaults are BOINC create_work's, except replication
// (below). An input template that sets any of these wins over them, exactly as
// in BOINC (which is why mwkit's own templates set none).
//
// Replication from one setting: BOINC's create_work defaults every max_* to 1
// and refuses target_nresults > max_success_results, so a quorum alone is
// refused, and a workunit with max_error_results 1 is over after one failed
// host. Here 0 means "not given": min_quorum 0 is the project's default (the
// install record's, else 1), and target_nresults / max_*_results 0 are derived
// from the quorum by resolve_replication(). Values given are kept as given.
struct WorkunitSettings {
  double rsc_fpops_est = 3600e9;
  double rsc_fpops_bound = 86400e9;
  double rsc_memory_bound = 5e8;
  double rsc_disk_bound = 1e9;
  double rsc_bandwidth_bound = 0;
  int delay_bound = 7 * 86400;
  int min_quorum = 0;           // 0: the project's default quorum
  int target_nresults = 0;      // 0: derived (resolve_replication)
  int max_error_results = 0;    // 0: derived
  int max_total_results = 0;    // 0: derived
  int max_success_results = 0;  // 0: derived
  int priority = 0;
  double canonical_credit = 0;  // create_work --credit
  int size_class = -1;
  int app_version_num = 0;
  std::string keywords;
};


// Fills in the replication settings left at 0, by this rule (Q = min_quorum,
// or `default_quorum` when that is 0; T = target_nresults):
//   target_nresults     = Q
//   max_error_results   = T + 2        two hosts may fail before the workunit does
//   max_success_results = max(2Q, T)   room for results that disagree with the quorum
//   max_total_results   = max_error_results + max_success_results
// so Q = 1 gives 1/3/2/5 and Q = 2 gives 2/4/4/8 (target/error/success/total).
// Every value given (non-zero) is kept and used by the rules after it.
WorkunitSettings resolve_replication(WorkunitSettings s, int default_quorum = 1);

// BOINC create_work's checks on the settings (after the template applied its
// values and resolve_replication). Throws Error(Errc::usage) naming the setting,
// its value and the option that changes it (CLI --max-success-results, C++
// settings.max_success_results, …).
void check_workunit_settings(const WorkunitSettings& s, const std::string& wu_name);

}  // namespace mw::boinc
