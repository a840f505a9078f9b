// A multicore master for the termination tests: two function tasks that spin
// forever in worker processes, and one exec task (task_probe) whose
// descendant escapes with setsid. A test signals it and checks that nothing
// of it stays: no worker, no task process, no scratch directory.
//
//   stoppable_master SCRATCH_ROOT TASK_PROBE PIDFILE
#include <iostream>
#include <string>

#include "mw/master.h"
#include "mw/multicore.h"
#include "mw/worker.h"

int spin_forever(int n) {
  volatile unsigned long x = static_cast<unsigned long>(n);
  for (;;) x = x * 6364136223846793005UL + 1;
}
MW_TASK(spin_forever);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  if (argc != 4) {
    std::cerr << "usage: stoppable_master SCRATCH_ROOT TASK_PROBE PIDFILE\n";
    return 2;
  }
  mw::Multicore config{3};
  config.scratch_root = argv[1];
  mw::Master master(config);
  master.submit_task(mw::fn("spin_forever"), mw::args(1));
  master.submit_task(mw::fn("spin_forever"), mw::args(2));
  master.submit_task(mw::Exec(argv[2], {"escape", argv[3], "600", "sleep", "600"}));
  master.get_result();  // never: the test stops the master first
  return 3;
}
