// null_task — the cost of a task that does nothing: what mwkit itself adds.
//
//   null_task [--tasks 100000] [--exec] [--interface multicore|simulator|mpi|condor|boinc]
//             [--workers 2] [--project DIR] [--progress]
//   (--exec: /bin/true per task, which the simulator does not run)
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "common/example_cli.h"
#include "mw/master.h"
#include "mw/worker.h"
#include "util/command_line.h"

void nothing() {}
MW_TASK(nothing);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  CLI::App app{"Null tasks: mwkit's own overhead per task", "null_task"};
  mw::cli::set_up(app);
  unsigned long tasks = 100000;
  bool exec = false;
  app.add_option("--tasks", tasks, "Number of tasks")->check(examples::count_between(1, 10'000'000))
      ->capture_default_str();
  app.add_flag("--exec", exec, "Run /bin/true as an exec task instead of a function");
  // Two workers by default: the figure is the per-task overhead, not the machine's width.
  examples::BackEndOptions back_end(
      app, {{"simulator", "the simulator does not run exec tasks", "with --exec", [&exec] { return exec; }}}, 2);
  examples::ProgressOption progress(app, "null_task");
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;

  return mw::cli::run_main("null_task", 2, [&] {
    mw::MasterOptions options;
    progress.apply(options, tasks);
    mw::Master master(back_end.make_interface(), options);
    progress.announce(master);
    const auto start = std::chrono::steady_clock::now();
    for (unsigned long i = 0; i < tasks; ++i) {
      if (exec) master.submit_task(mw::Exec("/bin/true"));
      else master.submit_task(mw::fn("nothing"), mw::args());
    }
    for (unsigned long i = 0; i < tasks; ++i) master.get_result();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << tasks << " null " << (exec ? "exec" : "function") << " tasks on " << back_end.workers()
              << " workers (" << back_end.interface() << "): " << s << " s, " << tasks / s << " tasks/s, "
              << s / tasks * 1e6 << " us/task\n";
    return 0;
  });
}
