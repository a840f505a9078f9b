// exec_wc — wrap an existing command-line program as tasks: `wc -w` over files.
// No MW_TASK here: any executable with argv and input files is a task
// (PyMW's promised "non-Python worker programs").
//
//   exec_wc [--interface multicore|mpi|condor|boinc] [--workers N] [--project DIR] [--progress] FILE...
//   (not the simulator: it does not run exec tasks, so it would count no words)
#include <CLI/CLI.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/example_cli.h"
#include "mw/master.h"
#include "util/command_line.h"

int main(int argc, char** argv) {
  CLI::App app{"Word counts of files, each counted by `wc -w` as an mwkit exec task", "exec_wc"};
  mw::cli::set_up(app);
  std::vector<std::string> files;
  // Read as given: a missing file fails its task (and the run), as wc would.
  app.add_option("FILE", files, "Files whose words to count")->required();
  examples::BackEndOptions back_end(app, {{"simulator", "the simulator does not run exec tasks", "", {}}});
  examples::ProgressOption progress(app, "exec_wc");
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;

  return mw::cli::run_main("exec_wc", 1, [&] {
    mw::MasterOptions options;
    progress.apply(options, files.size());
    mw::Master master(back_end.make_interface(), options);
    progress.announce(master);
    std::vector<mw::Task> tasks;
    for (const std::string& file : files)
      tasks.push_back(master.submit_task(mw::Exec("wc", {"-w", "input.txt"}).input(file, "input.txt")));
    unsigned long total = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
      mw::Result r = master.get_result(tasks[i]);
      unsigned long words = 0;
      std::istringstream(r.stdout_text()) >> words;
      std::cout << words << "\t" << files[i] << "\n";
      total += words;
    }
    std::cout << total << "\ttotal\n";
    return 0;
  });
}
