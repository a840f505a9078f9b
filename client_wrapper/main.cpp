// mw-wrapper — the BOINC app version's main program: runs one signed mwkit
// task in the slot directory and writes its result bundle (docs/wrapper.md).
//
// Order: resolve logical names → check the signature → reuse the unpacked copy
// or verify and unpack afresh → run the task under the runner, watched by
// TaskMonitor → write result.zip → boinc_finish. A task whose manifest,
// signature or hashes do not check never runs.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "boinc_session.h"
#include "exit_codes.h"
#include "mw/boinc/inline_task.h"
#include "mw/bundle.h"
#include "mw/error.h"
#include "mw/runner.h"
#include "slot_state.h"
#include "task_monitor.h"
#include "util/command_line.h"
#include "util/fs.h"

namespace mw::wrapper {
namespace {

constexpr const char* kTaskLogical = "task.zip";
constexpr const char* kProgramLogical = "mw_program";
constexpr const char* kResultLogical = "result.zip";

volatile std::sig_atomic_t g_suspended = 0;
volatile std::sig_atomic_t g_quit = 0;
volatile std::sig_atomic_t g_abort = 0;

extern "C" void on_signal(int sig) {
  switch (sig) {
    case SIGUSR1: g_suspended = 1; break;
    case SIGUSR2: g_suspended = 0; break;
    case SIGTERM: g_quit = 1; break;
    case SIGINT: g_abort = 1; break;
    default: break;
  }
}

// Installed after boinc_init_options, which sets its own handlers for some of these.
void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT}) sigaction(sig, &sa, nullptr);
}

SignalRequests signal_requests() {
  return SignalRequests{g_suspended != 0, g_quit != 0, g_abort != 0};
}

void say(const std::string& line) {
  std::fprintf(stderr, "mw-wrapper: %s\n", line.c_str());
  std::fflush(stderr);
}

int exit_code_for(Errc code) {
  switch (code) {
    case Errc::signature: return kExitSignature;
    case Errc::integrity: return kExitIntegrity;
    case Errc::format: return kExitManifest;
    case Errc::unsafe_bundle: return kExitUnsafeBundle;
    case Errc::io: return kExitMissingInput;
    default: return kExitInternal;
  }
}

// The trusted keys: mw_task_public.pem, mw_task_public_1.pem, ... up to the
// first name that does not resolve to a file (docs/boinc-conventions.md).
std::vector<PublicKey> load_trusted_keys(const BoincSession& session) {
  std::vector<PublicKey> keys;
  for (int i = 0;; ++i) {
    const std::string name =
        i == 0 ? "mw_task_public.pem" : "mw_task_public_" + std::to_string(i) + ".pem";
    auto path = session.existing_file(name);
    if (!path) break;
    keys.push_back(PublicKey::load_pem(*path));
  }
  if (keys.empty())
    throw Error(Errc::io, "no trusted task key: the logical file mw_task_public.pem is missing");
  return keys;
}

// Writes result.zip for a task that never ran (best effort: the exit status
// already says what happened) and finishes with `code`.
[[noreturn]] void finish_rejected(const BoincSession& session, const std::string& result_path,
                                  const std::string& what, int code) {
  say("task rejected, not run: " + what);
  ResultManifest result;
  result.task_name = "unknown";
  result.status = ResultStatus::rejected;
  result.reason = "task rejected before running: " + what;
  try {
    write_result_bundle(result_path, result, ".");
  } catch (const Error& e) {
    say(std::string("could not write the result bundle either: ") + e.what());
  }
  say("exit status " + std::to_string(code));
  session.finish(code);
}

// Limits still available after earlier runs (the task resumes, the budget does not restart).
TaskManifest remaining(TaskManifest task, const PriorRuns& prior) {
  constexpr double kAtLeast = 0.001;
  if (task.limits.wall_seconds)
    task.limits.wall_seconds = std::max(kAtLeast, *task.limits.wall_seconds - prior.elapsed_seconds);
  if (task.limits.cpu_seconds)
    task.limits.cpu_seconds = std::max(kAtLeast, *task.limits.cpu_seconds - prior.cpu_seconds);
  return task;
}

int run(int argc, char** argv) {
  CLI::App app{"Runs one signed mwkit task as a BOINC app (started by the BOINC client)", "mw-wrapper"};
  mw::cli::set_up(app);
  // The client may pass options of its own (e.g. --nthreads): tolerated, unused.
  app.allow_extras();
  std::string scratch_dir = ".";
  app.add_option("--slot-dir", scratch_dir,
                 "Where the unpacked task and the restart marker live (the slot directory)")
      ->capture_default_str();
  std::string inline_task;
  CLI::Option* inline_option = app.add_option(
      mw::boinc::kInlineTaskOption, inline_task,
      "The signed task bundle, base64-encoded, when the workunit carries it in its command line "
      "(mw/boinc/inline_task.h) instead of as the file task.zip");
  // --help and --version end here, before the BOINC API is started.
  static_assert(kExitUsage == mw::cli::kExitUsage, "one exit status for a wrong command line");
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;

  BoincSession session = BoincSession::start();
  install_signal_handlers();
  if (session.standalone()) say("standalone mode (no BOINC client)");

  const std::string result_physical = session.physical_name(kResultLogical);

  std::optional<TaskBundle> bundle;
  std::vector<PublicKey> keys;
  const std::string inline_bundle_path = scratch_dir + "/mw_task_inline.zip";
  try {
    std::optional<std::string> task_path;
    if (inline_option->count() > 0) {
      // Into the slot: the bundle is opened, checked and unpacked from a file
      // like a downloaded one, and the client empties the slot afterwards.
      task_path = inline_bundle_path;
      mw::detail::write_file_atomic(*task_path, mw::boinc::decode_inline_task(inline_task));
    } else {
      task_path = session.existing_file(kTaskLogical);
    }
    if (!task_path)
      throw Error(Errc::io, std::string("the input file ") + kTaskLogical + " is missing");
    keys = load_trusted_keys(session);
    const std::string program = session.existing_file(kProgramLogical).value_or("");
    bundle.emplace(TaskBundle::open(*task_path, UnpackLimits{}, program));
    bundle->verify_signature(keys);
  } catch (const Error& e) {
    finish_rejected(session, result_physical, e.what(), exit_code_for(e.code()));
  }

  SlotState slot(scratch_dir);
  Preparation prepared = Preparation::unpacked;
  try {
    prepared = slot.prepare(*bundle);
  } catch (const Error& e) {
    slot.clear();
    finish_rejected(session, result_physical, e.what(), exit_code_for(e.code()));
  }
  const PriorRuns prior = slot.prior_runs();
  const TaskManifest& task = bundle->manifest();
  const char* how = prepared == Preparation::unpacked ? ": verified and unpacked"
                    : prepared == Preparation::reused
                        ? ": reusing the copy verified and unpacked earlier"
                        : ": reusing the copy unpacked before a reboot, every file verified again";
  say(std::string(prepared == Preparation::unpacked ? "starting" : "resuming") + " task '" +
      task.name + "' (task.xml " + bundle->manifest_sha256() + ")" + how);

  TaskMonitor monitor(session, slot, task, prior, signal_requests);
  const RunControl control = monitor.control();
  UnpackedRun outcome =
      run_unpacked_task(remaining(task, prior), bundle->manifest_sha256(), slot.work_dir(), {}, control);

  if (outcome.stopped) {
    if (monitor.stop_reason() == StopReason::abort) {
      say("aborted: the task was killed");
      slot.clear();
      ::unlink(inline_bundle_path.c_str());
      session.finish(kExitAborted);
    }
    say("quit requested: the task was stopped and resumes from its checkpoint on restart");
    std::fflush(nullptr);
    std::_Exit(0);  // no boinc_finish: the client starts the app again later
  }

  ResultManifest& result = outcome.result;
  result.wall_seconds += prior.elapsed_seconds;
  result.cpu_seconds += prior.cpu_seconds;
  try {
    write_result_bundle(result_physical, result, slot.work_dir());
  } catch (const Error& e) {
    say(std::string("the task ran but its result could not be written: ") + e.what());
    session.finish(kExitResultNotWritten);
  }
  say(std::string("task ended: ") + to_string(result.status) +
      (result.reason.empty() ? "" : ": " + result.reason) + "; result written to " +
      result_physical);
  slot.clear();
  ::unlink(inline_bundle_path.c_str());
  session.finish(kExitRan);
}

}  // namespace
}  // namespace mw::wrapper

int main(int argc, char** argv) {
  return mw::cli::run_main("mw-wrapper", mw::wrapper::kExitInternal, [&] { return mw::wrapper::run(argc, argv); });
}
