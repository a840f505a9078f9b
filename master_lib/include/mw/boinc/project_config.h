// mw/boinc/project_config.h — a BOINC project's config.xml, and finding the project.
//
// Every BOINC server program reads <project>/config.xml once at start-up;
// mwkit's daemons, work generator and setup tool read it through here so they
// see the same values BOINC's own daemons see. Only the elements mwkit needs
// are kept; BOINC ignores unknown elements and so do we. Text values are
// whitespace-trimmed, as BOINC trims them.
#pragma once

#include <string>
#include <vector>

namespace mw::boinc {

// One <daemon> of <daemons>. Empty strings mean "element absent"; the
// *_or_default() helpers give the name bin/start uses then.
struct DaemonConfig {
  std::string cmd;        // command line; bin/start splits it like a shell and finds the program in bin/
  std::string host;       // runs only on this host (empty: the project's <host>)
  bool disabled = false;  // <disabled>1</disabled>: bin/start skips it
  std::string output;     // log file name in log_HOST/
  std::string pid_file;   // pid file name in pid_HOST/
  std::string lock_file;  // lock file name in pid_HOST/
  bool use_shell = false; // run cmd through /bin/sh (pipes, redirections)

  // Base name of the first word of cmd ("feeder" for "feeder -d 3").
  std::string program() const;
  std::string output_or_default() const;     // output, else PROGRAM.log
  std::string pid_file_or_default() const;   // pid_file, else PROGRAM.pid
  std::string lock_file_or_default() const;  // lock_file, else OUTPUT.lock with an output, else PROGRAM.lock
};

struct ProjectConfig {
  std::string config_path;  // the config.xml that was read
  // <project_dir> when config.xml sets it (BOINC then resolves project-relative
  // paths against it), else the directory config.xml was read from, as given.
  std::string project_dir;

  std::string long_name;
  std::string db_name;
  // <db_host> split at its first ':' (BOINC's rule) into host and port; port 0
  // means the client library's default. A host equal to this machine's
  // hostname becomes "localhost", as BOINC does it.
  std::string db_host;
  int db_port = 0;
  std::string db_user;
  std::string db_passwd;

  std::string host;          // short hostname the daemons run on (log_HOST/, pid_HOST/)
  std::string master_url;
  std::string download_url;  // base URL of download_dir
  std::string download_dir;
  std::string upload_url;    // the file_upload_handler URL
  std::string upload_dir;
  std::string key_dir;
  std::string app_dir;

  // Fan-out of download/ and upload/ (see mw/boinc/hierarchy.h); an absent
  // element means 0 = flat, exactly as in BOINC, even though make_project
  // writes 1024 into new projects.
  int uldl_dir_fanout = 0;
  bool cache_md5_info = false;
  bool dont_generate_upload_certificates = false;
  bool ignore_upload_certificates = false;
  bool one_result_per_host_per_wu = false;
  bool one_result_per_user_per_wu = false;
  // The validator's host statistics: an invalid result lowers a host's
  // max_jobs_per_day only while it is above this (BOINC's default, absent: 0).
  int daily_result_quota = 0;
  // Keep per-app credit (credit_user, credit_team) as BOINC's validator does
  // when this is set.
  bool credit_by_app = false;

  std::vector<DaemonConfig> daemons;
};

// Reads <project_dir>/config.xml. Throws Error(Errc::io) when the file cannot
// be read and Error(Errc::format) naming the file, the line and the element
// when it is not XML, is not <boinc><config>…</config>…</boinc>, lacks one of
// db_name, download_dir, upload_dir, download_url, upload_url, or holds a value
// BOINC could not use (a fanout or flag that is not an integer, a negative
// fanout, a non-numeric db_host port, a <daemon> without <cmd>).
// Integers are read like BOINC's parser reads them (C strtol, base 0), so
// "0x400" means 1024 for both.
ProjectConfig read_project_config(const std::string& project_dir);

// Locates the project directory the way BOINC's server programs do
// (SCHED_CONFIG::project_path in 7.20):
//   1. `hint`, when not empty (mwkit's --project option);
//   2. else $BOINC_PROJECT_DIR, when set (even to "");
//   3. else "." when it is a project directory;
//   4. else ".." when it is one (daemons run in tmp_HOST/, one level down).
// A project directory holds a regular file config.xml and a directory cgi-bin
// (symbolic links followed). The path is returned as found — ".", "..", or the
// hint or variable unchanged — never made absolute. Throws Error(Errc::usage)
// naming what was tried when the chosen candidate (1 or 2) is not a project
// directory or when neither 3 nor 4 is one. <project_dir> inside config.xml,
// which BOINC lets override this, is reported by read_project_config.
std::string find_project_dir(const std::string& hint = "");

}  // namespace mw::boinc
