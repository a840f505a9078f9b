#include "mw/runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <sstream>

#include "mw/error.h"
#include "mw/hash.h"
#include "runner/process.h"
#include "util/fs.h"

namespace mw {
namespace {

using detail::join_path;

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

std::string tail(const std::string& text, std::size_t bytes) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

// Writes captured stream bytes as a result member. The task may have left a
// file or link of that name in its directory: it is replaced, never followed.
void write_stream_file(const std::string& dir, const char* name, const std::string& data,
                       ResultManifest& result) {
  if (data.empty()) return;
  const std::string path = join_path(dir, name);
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(Errc::io, "cannot create '" + path + "': " + detail::errno_text(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error(Errc::io, "cannot write '" + path + "': " + detail::errno_text(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  result.outputs.push_back({name, data.size(), sha256_hex(data)});
}

// Checks the declared outputs; on success records each with size and hash.
void collect_outputs(const TaskManifest& task, const std::string& work_dir,
                     ResultManifest& result) {
  std::uint64_t total = 0;
  std::vector<OutputFile> found;
  for (const auto& spec : task.outputs) {
    const std::string path = join_path(work_dir, spec.name);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (spec.optional) continue;
      result.status = ResultStatus::output_missing;
      result.reason = "output '" + spec.name + "' was not produced";
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      result.status = ResultStatus::output_missing;
      result.reason = "output '" + spec.name + "' is not a regular file (links are refused)";
      return;
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > spec.max_bytes) {
      result.status = ResultStatus::output_too_large;
      result.reason = "output '" + spec.name + "' is " + std::to_string(size) +
                      " bytes, over its limit of " + std::to_string(spec.max_bytes);
      return;
    }
    total += size;
    found.push_back({spec.name, size, sha256_file_hex(path)});
  }
  if (task.limits.disk_bytes && total > *task.limits.disk_bytes) {
    result.status = ResultStatus::output_too_large;
    result.reason = "outputs take " + std::to_string(total) + " bytes, over the disk limit of " +
                    std::to_string(*task.limits.disk_bytes);
    return;
  }
  result.outputs.insert(result.outputs.end(), found.begin(), found.end());
}

void describe_ending(const detail::ProcessOutcome& run, const Limits& limits,
                     ResultManifest& result) {
  using detail::ProcessEnding;
  switch (run.ending) {
    case ProcessEnding::exited:
      result.exit_code = run.exit_code;
      if (run.exit_code != 0) {
        result.status = ResultStatus::nonzero_exit;
        result.reason = "exited with code " + std::to_string(run.exit_code);
      }
      return;
    case ProcessEnding::signaled:
      result.signal = run.signal;
      result.status = ResultStatus::signaled;
      result.reason = "killed by signal " + std::to_string(run.signal) + " (" +
                      strsignal(run.signal) + ")";
      return;
    case ProcessEnding::wall_time:
      result.status = ResultStatus::wall_time_exceeded;
      result.reason = "killed at its wall-time limit of " + format_seconds(*limits.wall_seconds);
      return;
    case ProcessEnding::cpu_time:
      result.status = ResultStatus::cpu_time_exceeded;
      result.reason = "killed at its CPU-time limit of " + format_seconds(*limits.cpu_seconds);
      return;
    case ProcessEnding::memory:
      result.status = ResultStatus::memory_exceeded;
      result.reason = "killed at its memory limit of " + format_bytes(*limits.memory_bytes);
      return;
    case ProcessEnding::exec_failed:
      result.status = ResultStatus::exec_failed;
      result.reason = run.exec_error;
      return;
  }
}

Limits effective_limits(const Limits& task, const Limits& defaults) {
  Limits out = task;
  if (!out.wall_seconds) out.wall_seconds = defaults.wall_seconds;
  if (!out.cpu_seconds) out.cpu_seconds = defaults.cpu_seconds;
  if (!out.memory_bytes) out.memory_bytes = defaults.memory_bytes;
  if (!out.disk_bytes) out.disk_bytes = defaults.disk_bytes;
  return out;
}

std::vector<std::string> program_argv(const TaskManifest& task) {
  std::vector<std::string> argv;
  argv.push_back(task.program.host_path.empty() ? "./" + task.program.bundled_file
                                                : task.program.host_path);
  if (!task.program.function.empty()) {
    argv.push_back("--mw-call");
    argv.push_back(task.program.function);
  }
  argv.insert(argv.end(), task.args.begin(), task.args.end());
  return argv;
}

// Runs an unpacked, verified task in `work_dir` and fills `result`.
void execute(const TaskManifest& task, const std::string& work_dir, const RunnerOptions& options,
             ResultManifest& result) {
  const Limits limits = effective_limits(task.limits, options.default_limits);
  detail::ProcessSpec spec;
  spec.argv = program_argv(task);
  spec.cwd = work_dir;
  spec.limits.wall_seconds = limits.wall_seconds;
  spec.limits.cpu_seconds = limits.cpu_seconds;
  spec.limits.memory_bytes = limits.memory_bytes;
  spec.stdout_cap = options.stdout_cap;
  spec.stderr_cap = options.stderr_cap;
  spec.extra_env = {"MW_TASK_NAME=" + task.name};

  detail::ProcessOutcome run = detail::run_process(spec);
  result.cpu_seconds = run.cpu_seconds;
  result.wall_seconds = run.wall_seconds;
  result.peak_memory_bytes = run.peak_memory_bytes;
  result.stdout_bytes = run.stdout_bytes;
  result.stderr_bytes = run.stderr_bytes;
  result.stderr_tail = tail(run.stderr_data, options.stderr_tail_bytes);
  describe_ending(run, limits, result);
  if (result.status == ResultStatus::success) collect_outputs(task, work_dir, result);
  write_stream_file(work_dir, kStdoutName, run.stdout_data, result);
  write_stream_file(work_dir, kStderrName, run.stderr_data, result);
}

}  // namespace

ResultManifest run_task_bundle(const std::string& bundle_path,
                               const std::vector<PublicKey>& trusted_keys,
                               const std::string& result_path, const RunnerOptions& options) {
  const std::string root =
      options.scratch_root.empty() ? detail::default_temp_root() : options.scratch_root;
  detail::TempDir scratch(root, "mw-run-");
  const std::string work_dir = join_path(scratch.path(), "work");
  if (mkdir(work_dir.c_str(), 0700) != 0)
    throw Error(Errc::io, "cannot create '" + work_dir + "': " + detail::errno_text(errno));

  ResultManifest result;
  result.task_name = "unknown";
  std::optional<TaskBundle> bundle;
  try {
    bundle.emplace(TaskBundle::open(bundle_path, options.unpack));
    result.task_name = bundle->manifest().name;
    result.task_sha256 = bundle->manifest_sha256();
    bundle->verify_signature(trusted_keys);
    bundle->extract_to(work_dir);
  } catch (const Error& e) {
    result.status = ResultStatus::rejected;
    result.reason = std::string("task rejected before running: ") + e.what();
  }
  if (result.status == ResultStatus::success) execute(bundle->manifest(), work_dir, options, result);

  write_result_bundle(result_path, result, work_dir);
  if (options.keep_scratch) scratch.release();
  return result;
}

}  // namespace mw
