// Internal: start one program with argv in a directory, under limits, and wait for it.
//
// The child gets its own process group (so the whole task, children included,
// can be signalled), stdin from /dev/null, and pipes for stdout and stderr that
// the parent drains while it watches the clock and the group's memory. Its
// whole process tree — descendants that left the group or the session
// included — ends with it (runner/containment.h says how).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mw/runner.h"

namespace mw::detail {

struct ProcessLimits {
  std::optional<double> wall_seconds;          // parent kills the group (SIGKILL) when reached
  std::optional<double> cpu_seconds;           // RLIMIT_CPU plus the parent's own check
  std::optional<std::uint64_t> memory_bytes;   // resident memory of the group, polled from /proc
  // RLIMIT_FSIZE: no file of the task may grow past this (SIGXFSZ / EFBIG).
  std::optional<std::uint64_t> file_bytes;
  // Files (relative to cwd) watched while the task runs: the tree is killed
  // as soon as one is larger than its limit (ending output_too_large).
  std::vector<std::pair<std::string, std::uint64_t>> watched_files;
};

struct ProcessSpec {
  std::vector<std::string> argv;   // argv[0] is the program path (absolute or relative to cwd)
  std::string cwd;
  ProcessLimits limits;
  std::uint64_t stdout_cap = 1 << 20;  // keep the first stdout_cap bytes
  std::uint64_t stderr_cap = 1 << 20;  // keep the last stderr_cap bytes
  // Extra environment entries NAME=VALUE added to the environment.
  std::vector<std::string> extra_env;
  // false: the child inherits this process's environment (tools such as
  // mpirun or condor_submit need it). true: it gets only the fixed base
  // (PATH, HOME and TMPDIR = cwd, LANG=C.UTF-8, PWD) plus extra_env — what
  // tasks get, so nothing of the master's environment reaches them.
  bool clean_environment = false;
  // false forces the subreaper mechanism even where a cgroup could be had.
  bool allow_cgroup = true;
  // false: only the process group is killed at the end, as for a tool that
  // legitimately leaves a daemon behind (condor_submit handing jobs over).
  // Tasks always keep this true.
  bool contain_tree = true;
  // Called in the parent right after the child exists, with its pid (= its
  // process group id), so a caller can cancel the task by signalling the group.
  std::function<void(int pid)> on_started;
  // Optional: polled while the task runs (suspend/resume/stop, progress),
  // extra environment and die-with-caller (see mw::RunControl). Not owned.
  const RunControl* control = nullptr;
};

enum class ProcessEnding {
  exited,         // exit_code is set
  signaled,       // signal is set: a signal the parent did not send
  wall_time,      // parent killed the group at the wall-time limit
  cpu_time,       // CPU limit reached (SIGXCPU, or the parent's check)
  memory,         // parent killed the group at the memory limit
  exec_failed,    // exec itself failed; exec_error says why
  stopped,        // RunControl::poll asked for it to be stopped, or interrupt_all_runs()
  file_too_large, // a watched file passed its limit, or RLIMIT_FSIZE (SIGXFSZ); limit_detail says which
};

struct ProcessOutcome {
  ProcessEnding ending = ProcessEnding::exited;
  int exit_code = 0;
  int signal = 0;
  std::string exec_error;
  std::string limit_detail;         // file_too_large: which file and limit
  double wall_seconds = 0;          // not counting time suspended through RunControl
  double cpu_seconds = 0;           // user + system of the child (and the children it waited for)
  std::uint64_t peak_memory_bytes = 0;  // max of ru_maxrss and the group's polled resident total
  std::string stdout_data;          // first stdout_cap bytes
  std::string stderr_data;          // last stderr_cap bytes
  std::uint64_t stdout_bytes = 0;   // totals written
  std::uint64_t stderr_bytes = 0;
  // How the task's tree was kept together: "cgroup" or "subreaper" (see
  // runner/containment.h); empty if nothing started.
  std::string containment;
  // The child's pid, which is also its process-group id. Both are gone when
  // run_process returns; kept for diagnostics and tests. 0 if never forked.
  int pid = 0;
};

// Never throws for anything the program does; throws mw::Error(Errc::system)
// only when the parent cannot set up (pipe, fork). Thread-safe.
// Side effect: on first use it makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER), so that orphaned members of a task's tree come
// back to it and are killed and reaped when the task ends.
ProcessOutcome run_process(const ProcessSpec& spec);

// Ends every run_process call in progress in this process (their trees are
// killed, they return `stopped`) and makes later calls return `stopped`
// without starting anything: for a program that got SIGINT/SIGTERM/SIGHUP
// and must not leave tasks behind. Thread-safe; not for signal handlers.
void interrupt_all_runs() noexcept;

// The environment a task gets with clean_environment, before extra entries.
std::vector<std::string> task_base_environment(const std::string& cwd);

}  // namespace mw::detail
