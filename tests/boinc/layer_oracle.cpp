#include "boinc/layer_oracle.h"

#include <cstring>
#include <vector>

#include "backend_lib.h"
#include "boinc_db.h"
#include "crypt.h"
#include "parse.h"
#include "sched_config.h"
#include "sched_util_basic.h"

// Exported by libsched 7.20.5 but declared in no installed header.
int process_input_template(WORKUNIT& wu, char* tmplate, std::vector<INFILE_DESC>& var_infiles,
                           SCHED_CONFIG& config_loc, const char* command_line,
                           const char* additional_xml);

// SCHED_CONFIG::parse allocates vectors it never frees; that is BOINC's leak,
// not ours, so sanitized builds (MW_SANITIZE) are told to ignore it.
extern "C" const char* __lsan_default_suppressions() { return "leak:SCHED_CONFIG::parse\n"; }

namespace oracle {
namespace {

void copy_field(char* dst, std::size_t size, const std::string& src) {
  std::strncpy(dst, src.c_str(), size - 1);
  dst[size - 1] = '\0';
}

template <std::size_t N>
void set(char (&dst)[N], const std::string& src) {
  copy_field(dst, N, src);
}

void apply(const Config& c) {
  set(config.download_dir, c.download_dir);
  set(config.download_url, c.download_url);
  set(config.upload_url, c.upload_url);
  config.uldl_dir_fanout = c.fanout;
  config.cache_md5_info = c.cache_md5_info;
  config.dont_generate_upload_certificates = c.dont_generate_upload_certificates;
}

}  // namespace

std::string dir_hier_path(const std::string& name, const std::string& root, int fanout, bool create) {
  char path[4096];
  if (::dir_hier_path(name.c_str(), root.c_str(), fanout, path, create) != 0) return "<error>";
  return path;
}

std::string dir_hier_url(const std::string& name, const std::string& root, int fanout) {
  char url[4096];
  if (::dir_hier_url(name.c_str(), root.c_str(), fanout, url) != 0) return "<error>";
  return url;
}

Workunit process_input_template(const std::string& tmpl, const std::vector<Infile>& files,
                                const Config& cfg, const char* command_line,
                                const char* additional_xml) {
  apply(cfg);
  static WORKUNIT wu;  // large (64 KiB xml_doc): keep it off the stack
  wu.clear();
  wu.rsc_fpops_est = wu.rsc_fpops_bound = wu.rsc_memory_bound = wu.rsc_bandwidth_bound =
      wu.rsc_disk_bound = kUnsetDouble;
  wu.batch = wu.delay_bound = wu.min_quorum = wu.target_nresults = wu.max_error_results =
      wu.max_total_results = wu.max_success_results = wu.size_class = kUnsetInt;

  std::vector<INFILE_DESC> infiles;
  for (const auto& f : files) {
    INFILE_DESC d;
    std::memset(&d, 0, sizeof(d));
    d.is_remote = f.remote;
    set(d.name, f.name);
    set(d.url, f.url);
    set(d.md5, f.md5);
    d.nbytes = f.nbytes;
    infiles.push_back(d);
  }
  std::vector<char> text(tmpl.begin(), tmpl.end());
  text.push_back('\0');

  Workunit out;
  out.rc = ::process_input_template(wu, text.data(), infiles, config, command_line, additional_xml);
  out.xml_doc = wu.xml_doc;
  out.rsc_fpops_est = wu.rsc_fpops_est;
  out.rsc_fpops_bound = wu.rsc_fpops_bound;
  out.rsc_memory_bound = wu.rsc_memory_bound;
  out.rsc_bandwidth_bound = wu.rsc_bandwidth_bound;
  out.rsc_disk_bound = wu.rsc_disk_bound;
  out.batch = wu.batch;
  out.delay_bound = wu.delay_bound;
  out.min_quorum = wu.min_quorum;
  out.target_nresults = wu.target_nresults;
  out.max_error_results = wu.max_error_results;
  out.max_total_results = wu.max_total_results;
  out.max_success_results = wu.max_success_results;
  out.size_class = wu.size_class;
  return out;
}

ResultDoc process_result_template(const std::string& tmpl, const std::string& base_filename,
                                  const Config& cfg) {
  apply(cfg);
  // BOINC edits the template in place and may grow it: give it room.
  std::vector<char> text(tmpl.begin(), tmpl.end());
  text.resize(tmpl.size() + 256 * 1024, '\0');
  std::vector<char> base(base_filename.begin(), base_filename.end());
  base.push_back('\0');
  static R_RSA_PRIVATE_KEY key;  // unused: upload certificates stay off
  ResultDoc out;
  out.rc = ::process_result_template(text.data(), key, base.data(), config);
  out.xml_doc_in = text.data();
  return out;
}

std::string xml_unescape(const std::string& text) {
  std::vector<char> buf(text.begin(), text.end());
  buf.push_back('\0');
  ::xml_unescape(buf.data());
  return buf.data();
}

ParsedConfig parse_config(const std::string& project_dir) {
  ParsedConfig out;
  out.rc = config.parse_file(project_dir.c_str());
  if (out.rc != 0) return out;
  out.master_url = config.master_url;
  out.db_name = config.db_name;
  out.db_user = config.db_user;
  out.db_passwd = config.db_passwd;
  out.db_host = config.db_host;
  out.download_url = config.download_url;
  out.download_dir = config.download_dir;
  out.upload_url = config.upload_url;
  out.upload_dir = config.upload_dir;
  out.key_dir = config.key_dir;
  out.project_dir = config.project_dir;
  out.long_name = config.long_name;
  out.uldl_dir_fanout = config.uldl_dir_fanout;
  out.cache_md5_info = config.cache_md5_info;
  out.dont_generate_upload_certificates = config.dont_generate_upload_certificates;
  out.ignore_upload_certificates = config.ignore_upload_certificates;
  out.one_result_per_host_per_wu = config.one_result_per_host_per_wu;
  out.one_result_per_user_per_wu = config.one_result_per_user_per_wu;
  return out;
}

}  // namespace oracle
