// A master program for the journal test. It submits TASKS slow tasks with a
// work directory, then takes results one by one; each task appends its number
// to DIR/ran.log when it runs, and the master appends each delivered task to
// DIR/delivered.log (flushed and fsynced) — so a test can SIGKILL it midway,
// start it again, and count what ran and what was delivered.
//
//   journal_master DIR TASKS
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "mw/master.h"
#include "mw/multicore.h"
#include "mw/worker.h"
#include "append_line.h"

using mw::test::append_line;

int slow_task(std::string dir, int number) {
  append_line(dir + "/ran.log", std::to_string(number));
  usleep(150 * 1000);
  return number * 10;
}
MW_TASK(slow_task);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  if (argc != 3) {
    std::cerr << "usage: journal_master DIR TASKS\n";
    return 2;
  }
  const std::string dir = argv[1];
  const int tasks = std::atoi(argv[2]);
  mw::MasterOptions options;
  options.work_dir = dir + "/work";
  mw::Master master(mw::Multicore{2}, options);
  for (int i = 1; i <= tasks; ++i) master.submit_task(mw::fn("slow_task"), mw::args(dir, i));
  for (;;) {
    try {
      auto [task, result] = master.get_result();
      if (result.value<int>() != static_cast<int>(task.id) * 10) return 3;
      append_line(dir + "/delivered.log", std::to_string(task.id));
    } catch (const mw::Error& e) {
      if (e.code() == mw::Errc::unknown_task) break;  // nothing outstanding
      std::cerr << e.what() << "\n";
      return 1;
    }
  }
  std::cout << "from_journal " << master.status().from_journal << "\n";
  return 0;
}
