// Workunit and result rows written straight into a test project's database,
// in the states BOINC's transitioner, scheduler, validator and assimilator
// leave them: for tests and benches that need a project in a given state
// (mw-status) without running the pipeline. Multi-row INSERT text, every
// NOT NULL column given (the schema is strict, as BOINC's is).
#pragma once

#include <cstdint>
#include <string>

namespace mw::test {

struct WorkunitRow {
  std::int64_t id = 0;
  std::int64_t app_id = 0;
  std::int64_t batch = 0;
  std::string name;
  int need_validate = 0;
  std::int64_t canonical_resultid = 0;
  std::int64_t error_mask = 0;
  int assimilate_state = 0;
  std::int64_t create_time = 0;
};

struct ResultRow {
  std::int64_t id = 0;
  std::int64_t workunit_id = 0;
  std::int64_t app_id = 0;
  std::int64_t batch = 0;
  std::string name;
  int server_state = 2;  // UNSENT
  int outcome = 0;
};

// "INSERT INTO workunit (...) VALUES" / "INSERT INTO result (...) VALUES";
// append comma-separated values_of(row) tuples. Names must be SQL-safe
// ([A-Za-z0-9_]): these are ours, not data from elsewhere.
inline const char* workunit_insert_head() {
  return "INSERT INTO workunit (id, create_time, appid, name, xml_doc, batch, rsc_fpops_est, rsc_fpops_bound, "
         "rsc_memory_bound, rsc_disk_bound, need_validate, canonical_resultid, canonical_credit, transition_time, "
         "delay_bound, error_mask, file_delete_state, assimilate_state, hr_class, opaque, min_quorum, "
         "target_nresults, max_error_results, max_total_results, max_success_results, result_template_file, "
         "priority, rsc_bandwidth_bound, fileset_id, app_version_id, transitioner_flags, keywords, "
         "app_version_num) VALUES ";
}

inline std::string values_of(const WorkunitRow& w) {
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  return "(" + n(w.id) + "," + n(w.create_time) + "," + n(w.app_id) + ",'" + w.name + "','<workunit/>'," +
         n(w.batch) + ",3.6e12,8.64e13,5e8,1e9," + n(w.need_validate) + "," + n(w.canonical_resultid) +
         ",0,2147483647,604800," + n(w.error_mask) + ",0," + n(w.assimilate_state) +
         ",0,0,1,1,3,4,2,'templates/mw_out',0,0,0,0,0,'',0)";
}

inline const char* result_insert_head() {
  return "INSERT INTO result (id, create_time, workunitid, server_state, outcome, client_state, hostid, userid, "
         "report_deadline, sent_time, received_time, name, cpu_time, xml_doc_in, batch, file_delete_state, "
         "validate_state, claimed_credit, granted_credit, opaque, random, app_version_num, appid, exit_status, "
         "teamid, priority, elapsed_time, flops_estimate, app_version_id, runtime_outlier, peak_working_set_size, "
         "peak_swap_size, peak_disk_usage) VALUES ";
}

inline std::string values_of(const ResultRow& r) {
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  return "(" + n(r.id) + ",0," + n(r.workunit_id) + "," + n(r.server_state) + "," + n(r.outcome) + ",0,0,0,0,0,0,'" +
         r.name + "',0,'<result/>'," + n(r.batch) + ",0,0,0,0,0,0,0," + n(r.app_id) + ",0,0,0,0,0,0,0,0,0,0)";
}

}  // namespace mw::test
