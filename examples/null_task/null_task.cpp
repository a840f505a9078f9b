// null_task — the cost of a task that does nothing: what mwkit itself adds.
//
//   null_task [--tasks 100000] [--workers 2] [--exec] [--interface multicore|mpi|simulator|condor]
//   (--exec: /bin/true per task)
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "common/choose_interface.h"
#include "mw/master.h"
#include "mw/multicore.h"
#include "mw/worker.h"

void nothing() {}
MW_TASK(nothing);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  CLI::App app{"Null tasks: mwkit's own overhead per task", "null_task"};
  unsigned long tasks = 100000;
  unsigned workers = 2;
  bool exec = false;
  std::string interface = "multicore";
  app.add_option("--tasks", tasks, "Number of tasks");
  app.add_option("--workers", workers, "Workers");
  app.add_flag("--exec", exec, "Run /bin/true as an exec task instead of a function");
  app.add_option("--interface", interface, "multicore, mpi, simulator or condor");
  CLI11_PARSE(app, argc, argv);
  mw::MasterOptions options;
  options.progress_bar = tasks >= 1000;  // drawn only when stderr is a terminal
  mw::Master master(examples::choose_interface(interface, workers), options);
  const auto start = std::chrono::steady_clock::now();
  for (unsigned long i = 0; i < tasks; ++i) {
    if (exec) master.submit_task(mw::Exec("/bin/true"));
    else master.submit_task(mw::fn("nothing"), mw::args());
  }
  for (unsigned long i = 0; i < tasks; ++i) master.get_result();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << tasks << " null " << (exec ? "exec" : "function") << " tasks on " << workers
            << " workers (" << interface << "): " << s << " s, " << tasks / s << " tasks/s, " << s / tasks * 1e6
            << " us/task\n";
  return 0;
}
