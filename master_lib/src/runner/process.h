// Internal: start one program with argv in a directory, under limits, and wait for it.
//
// The child gets its own process group (so the whole task, children included,
// can be signalled), stdin from /dev/null, and pipes for stdout and stderr that
// the parent drains while it watches the clock and the group's memory.
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
};

struct ProcessSpec {
  std::vector<std::string> argv;   // argv[0] is the program path (absolute or relative to cwd)
  std::string cwd;
  ProcessLimits limits;
  std::uint64_t stdout_cap = 1 << 20;  // keep the first stdout_cap bytes
  std::uint64_t stderr_cap = 1 << 20;  // keep the last stderr_cap bytes
  // Extra environment entries NAME=VALUE added to the inherited environment.
  std::vector<std::string> extra_env;
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
  stopped,        // RunControl::poll asked for it to be stopped
};

struct ProcessOutcome {
  ProcessEnding ending = ProcessEnding::exited;
  int exit_code = 0;
  int signal = 0;
  std::string exec_error;
  double wall_seconds = 0;          // not counting time suspended through RunControl
  double cpu_seconds = 0;           // user + system of the child (and the children it waited for)
  std::uint64_t peak_memory_bytes = 0;  // max of ru_maxrss and the group's polled resident total
  std::string stdout_data;          // first stdout_cap bytes
  std::string stderr_data;          // last stderr_cap bytes
  std::uint64_t stdout_bytes = 0;   // totals written
  std::uint64_t stderr_bytes = 0;
  // The child's pid, which is also its process-group id. Both are gone when
  // run_process returns; kept for diagnostics and tests. 0 if never forked.
  int pid = 0;
};

// Never throws for anything the program does; throws mw::Error(Errc::system)
// only when the parent cannot set up (pipe, fork). Thread-safe.
// Side effect: on first use it makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER), so that orphaned members of a task's process group
// come back to it and are reaped even where PID 1 does not reap (containers).
ProcessOutcome run_process(const ProcessSpec& spec);

}  // namespace mw::detail
