// exec_wc — wrap an existing command-line program as tasks: `wc -w` over files.
// No MW_TASK here: any executable with argv and input files is a task
// (PyMW's promised "non-Python worker programs").
//
//   exec_wc [--interface multicore|mpi|simulator|condor|boinc] FILE...
#include <cstring>
#include <iostream>
#include <sstream>

#include "common/choose_interface.h"
#include "mw/master.h"

int main(int argc, char** argv) {
  std::string interface = "multicore";
  int first = 1;
  if (argc >= 3 && std::strcmp(argv[1], "--interface") == 0) {
    interface = argv[2];
    first = 3;
  }
  if (argc <= first) {
    std::cerr << "usage: exec_wc [--interface NAME] FILE...\n";
    return 2;
  }
  try {
    mw::Master master(examples::choose_interface(interface, 0));
    std::vector<mw::Task> tasks;
    for (int i = first; i < argc; ++i)
      tasks.push_back(master.submit_task(mw::Exec("wc", {"-w", "input.txt"}).input(argv[i], "input.txt")));
    unsigned long total = 0;
    for (int i = first; i < argc; ++i) {
      mw::Result r = master.get_result(tasks[static_cast<std::size_t>(i - first)]);
      unsigned long words = 0;
      std::istringstream(r.stdout_text()) >> words;
      std::cout << words << "\t" << argv[i] << "\n";
      total += words;
    }
    std::cout << total << "\ttotal\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "exec_wc: " << e.what() << "\n";
    return 1;
  }
}
