#include "mw/boinc/workunit_settings.h"

#include <algorithm>

#include "mw/error.h"

namespace mw::boinc {

WorkunitSettings resolve_replication(WorkunitSettings s, int default_quorum) {
  if (s.min_quorum == 0) s.min_quorum = default_quorum > 0 ? default_quorum : 1;
  if (s.target_nresults == 0) s.target_nresults = s.min_quorum;
  if (s.max_error_results == 0) s.max_error_results = s.target_nresults + 2;
  if (s.max_success_results == 0) s.max_success_results = std::max(2 * s.min_quorum, s.target_nresults);
  if (s.max_total_results == 0) s.max_total_results = s.max_error_results + s.max_success_results;
  return s;
}

namespace {

// "max_success_results (2)" plus how to change it, for the refusals below.
std::string setting(const char* name, int value) {
  std::string option = name;
  for (auto& c : option)
    if (c == '_') c = '-';
  return std::string(name) + " (" + std::to_string(value) + "; --" + option + ", settings." + name + ")";
}

}  // namespace

void check_workunit_settings(const WorkunitSettings& s, const std::string& wu_name) {
  auto bad = [&](const std::string& why) {
    throw Error(Errc::usage, "workunit '" + wu_name + "': " + why);
  };
  if (s.rsc_fpops_est <= 0) bad("rsc_fpops_est must be positive");
  if (s.rsc_fpops_bound <= 0) bad("rsc_fpops_bound must be positive");
  if (s.rsc_disk_bound <= 0) bad("rsc_disk_bound must be positive");
  if (s.rsc_memory_bound < 0 || s.rsc_bandwidth_bound < 0) bad("resource bounds must not be negative");
  if (s.delay_bound <= 0) bad("delay_bound must be positive");
  auto at_least_one = [&](const char* name, int value) {
    if (value < 1) bad(setting(name, value) + " must be at least 1 (or 0 before resolve_replication)");
  };
  at_least_one("min_quorum", s.min_quorum);
  at_least_one("target_nresults", s.target_nresults);
  at_least_one("max_error_results", s.max_error_results);
  at_least_one("max_total_results", s.max_total_results);
  at_least_one("max_success_results", s.max_success_results);
  const char* leave = "; leave the max_* settings unset to derive them from the quorum";
  if (s.min_quorum > s.target_nresults)
    bad("min_quorum (" + std::to_string(s.min_quorum) + ") exceeds target_nresults (" +
        std::to_string(s.target_nresults) + "): raise " + setting("target_nresults", s.target_nresults));
  if (s.max_success_results > s.max_total_results)
    bad("max_success_results exceeds max_total_results: raise " + setting("max_total_results", s.max_total_results) +
        " above " + std::to_string(s.max_success_results) + leave);
  if (s.max_error_results > s.max_total_results)
    bad("max_error_results exceeds max_total_results: raise " + setting("max_total_results", s.max_total_results) +
        " above " + std::to_string(s.max_error_results) + leave);
  if (s.target_nresults > s.max_success_results)
    bad("target_nresults exceeds max_success_results: raise " +
        setting("max_success_results", s.max_success_results) + " to at least " +
        std::to_string(s.target_nresults) + leave);
  if (s.keywords.size() > 254) bad("keywords are longer than 254 characters");
}

}  // namespace mw::boinc
