#include "runner/task_ending.h"

#include <sys/stat.h>

#include <csignal>
#include <cstring>
#include <sstream>

#include "mw/hash.h"
#include "util/fs.h"

namespace mw::detail {
namespace {

std::string format_seconds(double s) {
  std::ostringstream out;
  out << s << " s";
  return out.str();
}

std::string format_bytes(std::uint64_t b) {
  std::ostringstream out;
  if (b >= (1ULL << 20)) out << (static_cast<double>(b) / (1 << 20)) << " MiB";
  else out << b << " bytes";
  return out.str();
}

}  // namespace

void watch_outputs(const std::vector<OutputSpec>& outputs,
                   const std::optional<std::uint64_t>& disk_bytes, ProcessLimits& limits) {
  for (const auto& o : outputs) limits.watched_files.emplace_back(o.name, o.max_bytes);
  // No single file can be larger than all the task's files together.
  if (disk_bytes) limits.file_bytes = *disk_bytes;
}

Ending describe_ending(const ProcessOutcome& run, const Limits& limits) {
  Ending e;
  switch (run.ending) {
    case ProcessEnding::exited:
      e.exit_code = run.exit_code;
      if (run.exit_code != 0) {
        e.status = ResultStatus::nonzero_exit;
        e.reason = "exited with code " + std::to_string(run.exit_code);
      }
      break;
    case ProcessEnding::signaled:
      e.signal = run.signal;
      e.status = ResultStatus::signaled;
      e.reason = "killed by signal " + std::to_string(run.signal) + " (" + strsignal(run.signal) + ")";
      break;
    case ProcessEnding::wall_time:
      e.status = ResultStatus::wall_time_exceeded;
      e.reason = "killed at its wall-time limit of " + format_seconds(*limits.wall_seconds);
      break;
    case ProcessEnding::cpu_time:
      e.status = ResultStatus::cpu_time_exceeded;
      e.reason = "killed at its CPU-time limit of " + format_seconds(*limits.cpu_seconds);
      break;
    case ProcessEnding::memory:
      e.status = ResultStatus::memory_exceeded;
      e.reason = "killed at its memory limit of " + format_bytes(*limits.memory_bytes);
      break;
    case ProcessEnding::stopped:
      e.status = ResultStatus::signaled;
      e.signal = SIGKILL;
      e.reason = "stopped by the runner's caller";
      break;
    case ProcessEnding::file_too_large:
      e.status = ResultStatus::output_too_large;
      e.reason = run.limit_detail + " (killed while it ran)";
      break;
    case ProcessEnding::exec_failed:
      e.status = ResultStatus::exec_failed;
      e.reason = run.exec_error;
      break;
  }
  return e;
}

CollectedOutputs collect_outputs(const std::vector<OutputSpec>& outputs,
                                 const std::optional<std::uint64_t>& disk_bytes,
                                 const std::string& dir) {
  CollectedOutputs c;
  std::uint64_t total = 0;
  for (const auto& spec : outputs) {
    const std::string path = join_path(dir, spec.name);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (spec.optional) continue;
      c.status = ResultStatus::output_missing;
      c.reason = "output '" + spec.name + "' was not produced";
      break;
    }
    if (!S_ISREG(st.st_mode)) {
      c.status = ResultStatus::output_missing;
      c.reason = "output '" + spec.name + "' is not a regular file (links are refused)";
      break;
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > spec.max_bytes) {
      c.status = ResultStatus::output_too_large;
      c.reason = "output '" + spec.name + "' is " + std::to_string(size) +
                 " bytes, over its limit of " + std::to_string(spec.max_bytes);
      break;
    }
    total += size;
    c.files.push_back({spec.name, size, sha256_file_hex(path)});
  }
  if (c.status == ResultStatus::success && disk_bytes && total > *disk_bytes) {
    c.status = ResultStatus::output_too_large;
    c.reason = "outputs take " + std::to_string(total) + " bytes, over the disk limit of " +
               std::to_string(*disk_bytes);
  }
  if (c.status != ResultStatus::success) c.files.clear();
  return c;
}

}  // namespace mw::detail
