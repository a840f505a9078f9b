// boinc/daemon_state.h — is a daemon of config.xml running, and what its log
// says. mw-project-setup (check, install) and mw-status both ask, and must
// answer as BOINC's bin/status does: a daemon runs while it holds the lock on
// its lock file in pid_HOST/ (reference §7, §11.1) — a pid file alone proves
// nothing, bin/start writes one even for a program it could not execute.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "mw/boinc/project_config.h"

namespace mw::boinc::detail {

// This machine's short host name (`hostname -s`): the HOST of log_HOST/ and pid_HOST/.
std::string short_hostname();

// True when `cmd` (a <daemon><cmd>) runs `program` for app `app` (--app APP,
// -app APP or --app=APP).
bool is_app_daemon(const std::string& cmd, const std::string& program, const std::string& app);

struct DaemonState {
  bool running = false;
  long pid = 0;         // the lock holder's pid, when running
  std::string why;      // when not running: config.xml's reason, else the telling line of its log
  std::string log;      // PROJECT/log_HOST/OUTPUT
};

// The state of `d`, a daemon of `config` in `project_dir`, seen from the host
// named `this_host`.
DaemonState daemon_state(const std::string& project_dir, const ProjectConfig& config, const DaemonConfig& d,
                         const std::string& this_host);

// The line of a daemon's log that best says why it is not running.
std::string reason_from_log(const std::string& log);

// The last `n` non-empty lines of `path`, each prefixed with "\n    ".
std::string last_lines(const std::string& path, std::size_t n);

// The last `n` lines of the log at `path` that report a problem ([CRITICAL],
// [warning], or bin/start's "Couldn't execute"/"Couldn't start"), oldest
// first. Only the last `window_bytes` of the file are read, so a log of
// gigabytes costs no more than a small one. Empty when there is no log.
std::vector<std::string> recent_problem_lines(const std::string& path, std::size_t n,
                                              std::size_t window_bytes = 256 * 1024);

}  // namespace mw::boinc::detail
