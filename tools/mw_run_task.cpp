// mw-run-task — run one task bundle through the runner and write its result bundle.
//
//   mw-run-task BUNDLE --pub PUB [--pub PUB]... --out RESULT [--scratch DIR] [--keep-scratch]
//               [--default-wall-seconds S]
//
// A task whose manifest sets no wall-clock limit gets --default-wall-seconds
// (24 h unless given; 0 = none). SIGINT, SIGTERM and SIGHUP kill the task's
// whole process tree, remove the scratch directory, write no result and end
// mw-run-task with the signal (exit status 128 + N in a shell).
//
// Exit 0 when the task succeeded, 1 when it failed or was rejected (the result
// bundle says why, and so does stderr), 2 when the result could not be
// written, 64 when the command line is wrong.
#include <CLI/CLI.hpp>

#include <iostream>

#include "mw/error.h"
#include "mw/runner.h"
#include "tool_common.h"

namespace {

using namespace mw::tools;

int mw_run_task(int argc, char** argv) {
  CLI::App app{"Verify, unpack and run one mwkit task bundle", "mw-run-task"};
  mw::cli::set_up(app);
  std::string bundle, out;
  std::vector<std::string> pubs;
  mw::RunnerOptions options;
  app.add_option("bundle", bundle, "Task bundle (.zip or directory)")->required();
  app.add_option("--pub", pubs, "Trusted task-signing public key (PEM); repeat for several")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out", out, "Result bundle to write")->required();
  app.add_option("--scratch", options.scratch_root,
                 "Where to make the scratch directory (default: $TMPDIR, else /tmp)")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--keep-scratch", options.keep_scratch, "Leave the scratch directory (debugging)");
  double default_wall = mw::kDefaultRunnerWallSeconds;
  app.add_option("--default-wall-seconds", default_wall,
                 "Wall-clock limit for a task whose manifest sets none (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;
  if (default_wall > 0) options.default_limits.wall_seconds = default_wall;
  // Keys first: a wrong --pub is reported before anything runs.
  const std::vector<mw::PublicKey> trusted = load_public_keys(pubs, "--pub");
  mw::stop_tasks_on_termination_signals();

  mw::ResultManifest result = mw::run_task_bundle(bundle, trusted, out, options);
  if (result.ok()) {
    std::cerr << "mw-run-task: task '" << result.task_name << "' succeeded in "
              << human_seconds(result.wall_seconds) << "; result in " << out << "\n";
    return kExitOk;
  }
  std::cerr << "mw-run-task: task '" << result.task_name << "' " << mw::to_string(result.status) << ": "
            << result.reason << "; result in " << out << "\n";
  return kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("mw-run-task", [&] { return mw_run_task(argc, argv); });
}
