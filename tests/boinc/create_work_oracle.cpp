#include "boinc/create_work_oracle.h"

#include <cstdlib>
#include <cstring>

#include "backend_lib.h"
#include "boinc_db.h"
#include "sched_config.h"

namespace oracle {
namespace {

template <std::size_t N>
void set(char (&dst)[N], const std::string& src) {
  std::strncpy(dst, src.c_str(), N - 1);
  dst[N - 1] = '\0';
}

}  // namespace

int open_project(const std::string& project_dir, std::string& why) {
  // BOINC's SCHED_CONFIG::project_path() (used by create_work) exits the
  // process unless it can find the project: name it explicitly.
  ::setenv("BOINC_PROJECT_DIR", project_dir.c_str(), 1);
  int rc = config.parse_file(project_dir.c_str());
  if (rc != 0) {
    why = "SCHED_CONFIG::parse_file failed";
    return rc;
  }
  rc = boinc_db.open(config.db_name, config.db_host, config.db_user, config.db_passwd);
  if (rc != 0) why = boinc_db.error_string();
  return rc;
}

void close_project() { boinc_db.close(); }

int create_work(const CreateWorkJob& job, const std::string& input_template_text,
                const std::string& result_template_file, const std::string& project_dir) {
  DB_WORKUNIT wu;
  wu.clear();
  wu.appid = job.appid;
  set(wu.name, job.name);
  wu.batch = job.batch;
  wu.rsc_fpops_est = job.rsc_fpops_est;
  wu.rsc_fpops_bound = job.rsc_fpops_bound;
  wu.rsc_memory_bound = job.rsc_memory_bound;
  wu.rsc_disk_bound = job.rsc_disk_bound;
  wu.rsc_bandwidth_bound = job.rsc_bandwidth_bound;
  wu.canonical_credit = job.canonical_credit;
  wu.delay_bound = job.delay_bound;
  wu.min_quorum = job.min_quorum;
  wu.target_nresults = job.target_nresults;
  wu.max_error_results = job.max_error_results;
  wu.max_total_results = job.max_total_results;
  wu.max_success_results = job.max_success_results;
  wu.priority = job.priority;
  wu.size_class = job.size_class;
  wu.app_version_num = job.app_version_num;

  std::vector<const char*> infiles;
  for (const auto& f : job.infiles) infiles.push_back(f.c_str());
  const std::string result_path = project_dir + "/" + result_template_file;
  return ::create_work(wu, input_template_text.c_str(), result_template_file.c_str(),
                       result_path.c_str(), infiles.data(), static_cast<int>(infiles.size()), config,
                       job.has_command_line ? job.command_line.c_str() : nullptr,
                       job.additional_xml.empty() ? nullptr : job.additional_xml.c_str());
}

}  // namespace oracle
