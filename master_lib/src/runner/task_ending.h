// Internal: turning a finished process into a task status, and checking a
// task's declared outputs — shared by the bundle runner and the multicore
// interface's exec tasks, so both report the same statuses and reasons.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mw/task_format.h"
#include "runner/process.h"

namespace mw::detail {

struct Ending {
  ResultStatus status = ResultStatus::success;
  std::string reason;
  std::optional<int> exit_code;
  std::optional<int> signal;
};

// Limits the process layer enforces while the task runs, so a task cannot
// write gigabytes before being told its output is too large: each declared
// output is watched against its max_bytes, and with disk_bytes no file may
// grow past it (RLIMIT_FSIZE).
void watch_outputs(const std::vector<OutputSpec>& outputs,
                   const std::optional<std::uint64_t>& disk_bytes, ProcessLimits& limits);

// How the process ended, in task terms (`limits` are the ones it ran under).
Ending describe_ending(const ProcessOutcome& run, const Limits& limits);

struct CollectedOutputs {
  ResultStatus status = ResultStatus::success;
  std::string reason;
  std::vector<OutputFile> files;  // name, size, sha256 — only when status is success
};

// Checks each declared output in `dir`: present (unless optional), a regular
// file (a link is refused, never followed), within max_bytes, and all together
// within disk_bytes.
CollectedOutputs collect_outputs(const std::vector<OutputSpec>& outputs,
                                 const std::optional<std::uint64_t>& disk_bytes,
                                 const std::string& dir);

}  // namespace mw::detail
