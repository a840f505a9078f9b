#include "mw/runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cmath>
#include <csignal>
#include <cstring>
#include <sstream>

#include "mw/error.h"
#include "mw/hash.h"
#include "mw/log.h"
#include "runner/process.h"
#include "runner/task_ending.h"
#include "util/fs.h"
#include "util/termination.h"

namespace mw {
namespace {

// run_task_bundle calls in progress, so that a termination signal waits for
// them to remove their scratch directories before the process dies.
struct Running {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
};
Running& running() {
  static Running r;
  return r;
}
class RunningGuard {
 public:
  RunningGuard() {
    std::lock_guard<std::mutex> lock(running().mu);
    ++running().count;
  }
  ~RunningGuard() {
    {
      std::lock_guard<std::mutex> lock(running().mu);
      --running().count;
    }
    running().cv.notify_all();
  }
  RunningGuard(const RunningGuard&) = delete;
  RunningGuard& operator=(const RunningGuard&) = delete;
};

using namespace detail;

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
// Returns false when RunControl stopped it.
bool execute(const TaskManifest& task, const std::string& work_dir, const RunnerOptions& options,
             const RunControl* control, ResultManifest& result) {
  const Limits limits = effective_limits(task.limits, options.default_limits);
  detail::ProcessSpec spec;
  spec.argv = program_argv(task);
  spec.cwd = work_dir;
  spec.limits.wall_seconds = limits.wall_seconds;
  spec.limits.cpu_seconds = limits.cpu_seconds;
  spec.limits.memory_bytes = limits.memory_bytes;
  watch_outputs(task.outputs, limits.disk_bytes, spec.limits);
  spec.stdout_cap = options.stdout_cap;
  spec.stderr_cap = options.stderr_cap;
  spec.clean_environment = true;
  // Declared variables first: the runner's own come last and win.
  for (const auto& var : task.env) spec.extra_env.push_back(var.name + "=" + var.value);
  spec.extra_env.push_back("MW_TASK_NAME=" + task.name);
  spec.control = control;

  if (mw::log_enabled(LogLevel::debug)) {
    std::string command;
    for (const auto& word : spec.argv) command += (command.empty() ? "" : " ") + word;
    mw::log(LogLevel::debug, "mw runner: task '" + task.name + "': running " + command + " in " + work_dir);
  }
  detail::ProcessOutcome run = detail::run_process(spec);
  if (mw::log_enabled(LogLevel::debug))
    mw::log(LogLevel::debug, "mw runner: task '" + task.name + "' ended after " +
                                 std::to_string(run.wall_seconds) + " s");
  const bool stopped = run.ending == detail::ProcessEnding::stopped;
  result.cpu_seconds = run.cpu_seconds;
  result.wall_seconds = run.wall_seconds;
  result.peak_memory_bytes = run.peak_memory_bytes;
  result.stdout_bytes = run.stdout_bytes;
  result.stderr_bytes = run.stderr_bytes;
  result.stderr_tail = tail(run.stderr_data, options.stderr_tail_bytes);
  Ending ending = describe_ending(run, limits);
  result.status = ending.status;
  result.reason = ending.reason;
  result.exit_code = ending.exit_code;
  result.signal = ending.signal;
  if (result.status == ResultStatus::success) {
    CollectedOutputs outputs = collect_outputs(task.outputs, limits.disk_bytes, work_dir);
    result.status = outputs.status;
    result.reason = outputs.reason;
    result.outputs = std::move(outputs.files);
  }
  write_stream_file(work_dir, kStdoutName, run.stdout_data, result);
  write_stream_file(work_dir, kStderrName, run.stderr_data, result);
  return !stopped;
}

}  // namespace

ResultManifest run_task_bundle(const std::string& bundle_path,
                               const std::vector<PublicKey>& trusted_keys,
                               const std::string& result_path, const RunnerOptions& options) {
  RunningGuard in_progress;  // outlives the scratch directory
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
  bool finished = true;
  if (result.status == ResultStatus::success)
    finished = execute(bundle->manifest(), work_dir, options, nullptr, result);
  if (!finished) {
    // Only interrupt_all_runs() stops a run here: the result would be a lie.
    result.status = ResultStatus::signaled;
    result.reason = "interrupted: the runner was stopped before the task ended";
    return result;
  }

  write_result_bundle(result_path, result, work_dir);
  if (options.keep_scratch) scratch.release();
  return result;
}

void stop_tasks_on_termination_signals() {
  detail::add_termination_cleanup([](int) {
    detail::interrupt_all_runs();
    std::unique_lock<std::mutex> lock(running().mu);
    running().cv.wait_for(lock, std::chrono::seconds(10), [] { return running().count == 0; });
  });
}

UnpackedRun run_unpacked_task(const TaskManifest& task, const std::string& task_sha256,
                              const std::string& work_dir, const RunnerOptions& options,
                              const RunControl& control) {
  UnpackedRun run;
  run.result.task_name = task.name;
  run.result.task_sha256 = task_sha256;
  // Streams left by an earlier, interrupted run would be taken for this one's.
  for (const char* name : {kStdoutName, kStderrName}) ::unlink(join_path(work_dir, name).c_str());
  run.stopped = !execute(task, work_dir, options, &control, run.result);
  return run;
}

}  // namespace mw
