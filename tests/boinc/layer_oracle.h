// layer_oracle.h — Debian libsched 7.20.5 behind a plain C++ interface.
//
// The BOINC layer tests compare mwkit's output with what BOINC's own server
// library produces for the same input. BOINC's headers define macros and
// globals that do not mix well with gtest or mwkit headers, so they are
// included only in layer_oracle.cpp; the tests see this interface.
#pragma once

#include <string>
#include <vector>

namespace oracle {

std::string dir_hier_path(const std::string& name, const std::string& root, int fanout, bool create);
std::string dir_hier_url(const std::string& name, const std::string& root, int fanout);

// The SCHED_CONFIG fields the template code reads.
struct Config {
  std::string download_dir;
  std::string download_url;
  std::string upload_url;
  int fanout = 0;
  bool cache_md5_info = false;
  bool dont_generate_upload_certificates = true;
};

// One INFILE_DESC.
struct Infile {
  std::string name;
  bool remote = false;
  std::string url;
  std::string md5;
  double nbytes = 0;
};

// Values BOINC left in the WORKUNIT; fields the template did not set keep
// these sentinels.
inline constexpr double kUnsetDouble = -7.25;
inline constexpr int kUnsetInt = -7777;

struct Workunit {
  int rc = 0;
  std::string xml_doc;
  double rsc_fpops_est, rsc_fpops_bound, rsc_memory_bound, rsc_bandwidth_bound, rsc_disk_bound;
  int batch, delay_bound, min_quorum, target_nresults, max_error_results, max_total_results,
      max_success_results, size_class;
};

// libsched's process_input_template (not in its headers, but exported).
// `command_line` / `additional_xml` may be null.
Workunit process_input_template(const std::string& tmpl, const std::vector<Infile>& files,
                                const Config& config, const char* command_line,
                                const char* additional_xml);

struct ResultDoc {
  int rc = 0;
  std::string xml_doc_in;
};
// libsched's process_result_template, with base_filename "RESULT_rRANDOM_".
ResultDoc process_result_template(const std::string& tmpl, const std::string& base_filename,
                                  const Config& config);

// libboinc's xml_unescape(char*), the decoding BOINC applies to template text.
std::string xml_unescape(const std::string& text);

// SCHED_CONFIG::parse_file(dir).
struct ParsedConfig {
  int rc = 0;
  std::string master_url, db_name, db_user, db_passwd, db_host, download_url, download_dir,
      upload_url, upload_dir, key_dir, project_dir, long_name;
  int uldl_dir_fanout = 0;
  bool cache_md5_info = false, dont_generate_upload_certificates = false,
       ignore_upload_certificates = false, one_result_per_host_per_wu = false,
       one_result_per_user_per_wu = false;
};
ParsedConfig parse_config(const std::string& project_dir);

}  // namespace oracle
