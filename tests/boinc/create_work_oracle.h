// create_work_oracle.h — libsched 7.20.5's create_work() behind a plain interface.
//
// The work creator's differential test inserts workunits through BOINC's own
// create_work() and through mw::boinc::WorkCreator into the same private
// MariaDB and compares the rows. BOINC's headers stay inside the .cpp (their
// macros and globals clash with gtest and mwkit headers).
#pragma once

#include <string>
#include <vector>

namespace oracle {

// The WORKUNIT fields a caller of create_work() sets before the call, with
// BOINC's bin/create_work defaults.
struct CreateWorkJob {
  int appid = 0;
  std::string name;
  int batch = 0;
  double rsc_fpops_est = 3600e9, rsc_fpops_bound = 86400e9, rsc_memory_bound = 5e8,
         rsc_disk_bound = 1e9, rsc_bandwidth_bound = 0, canonical_credit = 0;
  int delay_bound = 7 * 86400, min_quorum = 1, target_nresults = 1, max_error_results = 1,
      max_total_results = 1, max_success_results = 1, priority = 0, size_class = -1,
      app_version_num = 0;
  std::vector<std::string> infiles;  // physical names, staged in the download hierarchy
  bool has_command_line = false;
  std::string command_line;
  std::string additional_xml;
};

// Parses PROJECT/config.xml with SCHED_CONFIG and opens BOINC's database
// connection (boinc_db) from it. Returns 0 or BOINC's error code; `why` gets
// BOINC's error text.
int open_project(const std::string& project_dir, std::string& why);
void close_project();

// create_work(wu, template, result_template_file, abs path of it, infiles, …).
// Returns BOINC's return code.
int create_work(const CreateWorkJob& job, const std::string& input_template_text,
                const std::string& result_template_file, const std::string& project_dir);

}  // namespace oracle
