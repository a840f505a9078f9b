// mw/runner.h — the one runner every back end uses to execute a task.
//
// verify signature and hashes → unpack into a fresh scratch directory →
// run the program (exec'd with argv, never a shell) under the manifest's
// limits → collect declared outputs → write result.xml and the result bundle
// → remove the scratch directory. Multicore workers, MPI ranks, the HTCondor
// job and the BOINC wrapper are thin shells around this.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mw/bundle.h"
#include "mw/signing.h"
#include "mw/task_format.h"

namespace mw {

struct RunnerOptions {
  // Where scratch directories are made; empty = $TMPDIR or /tmp.
  std::string scratch_root;
  UnpackLimits unpack;
  std::uint64_t stdout_cap = 1 << 20;     // bytes of stdout kept (the first ones)
  std::uint64_t stderr_cap = 1 << 20;     // bytes of stderr kept (the last ones)
  std::size_t stderr_tail_bytes = 4096;   // copied into result.xml
  bool keep_scratch = false;              // for debugging: leave the scratch dir behind
  // Limits applied when the manifest sets none (absent = unlimited).
  Limits default_limits;
};

// Runs the task in `bundle_path` (zip or directory) and writes the result
// bundle to `result_path`. Task-level failures — including a bundle that is
// rejected before it runs — are reported in the returned manifest (and the
// result bundle), never thrown. Throws Error only when the result itself
// cannot be written.
ResultManifest run_task_bundle(const std::string& bundle_path,
                               const std::vector<PublicKey>& trusted_keys,
                               const std::string& result_path,
                               const RunnerOptions& options = {});

// For command-line runners: from now on SIGINT, SIGTERM and SIGHUP (those
// whose disposition is still the default) kill every task this process runs —
// its whole process tree — let run_task_bundle remove its scratch directory
// (it then writes no result), and end the process with the signal, so the
// caller sees the conventional status. Handling is on a thread of its own,
// never in the signal handler.
void stop_tasks_on_termination_signals();

// What mw-run-task applies to a task whose manifest sets no wall-clock limit.
constexpr double kDefaultRunnerWallSeconds = 24 * 60 * 60;

// ---- Running a task that was verified and unpacked earlier.
//
// The BOINC wrapper keeps the unpacked task in its slot directory so that,
// after the client restarts it, the task resumes from its own checkpoint
// instead of starting again; it also has to suspend, resume and stop the task
// when the client says so. These pieces of run_task_bundle let it do that.

// What the supervisor should do after a poll (see RunControl).
enum class RunAction { keep_going, suspend, resume, stop };

struct RunProgress {
  int process_group = 0;         // the task's process group id
  double elapsed_seconds = 0;    // time it has run, not counting time suspended
  double cpu_seconds = 0;        // user + system CPU of the whole group so far
  bool suspended = false;
};

struct RunControl {
  double poll_seconds = 1;
  // Called every poll_seconds while the task runs. `suspend` stops the whole
  // process group (SIGSTOP) and pauses the wall-time limit; `resume`
  // continues both; `stop` kills the group and makes the result `stopped`.
  std::function<RunAction(const RunProgress&)> poll;
  // Extra NAME=VALUE entries for the task's environment.
  std::vector<std::string> extra_env;
  // The task is killed (SIGKILL) if the calling process dies, so a killed
  // wrapper never leaves a task running that its restart would duplicate.
  // Every task now gets this (PR_SET_PDEATHSIG); the field stays for callers
  // that set it.
  bool die_with_caller = false;
};

struct UnpackedRun {
  ResultManifest result;  // task_name and task_sha256 filled in from the arguments
  bool stopped = false;   // RunControl::poll asked to stop: the result means nothing
};

// Runs the task unpacked in `work_dir` (by TaskBundle::extract_to, after
// verify_signature) under its limits, collects its outputs and writes the
// captured streams there as mw.stdout / mw.stderr, ready for
// write_result_bundle(path, result, work_dir). Never throws for anything the
// task does.
UnpackedRun run_unpacked_task(const TaskManifest& task, const std::string& task_sha256,
                              const std::string& work_dir, const RunnerOptions& options = {},
                              const RunControl& control = {});

}  // namespace mw
