// A master on mw::boinc::Remote for the resume test (tests/boinc/remote_test.cpp):
// it submits TASKS function tasks (cube(i), i = 1…TASKS) to the BOINC project
// at URL with DIR/work as its work directory, so a test can kill it, start it
// again on the same directory and count, on the server's side, what was
// submitted and fetched. DIR holds `auth` (0600) and `task.pem`.
//
//   remote_resume_master DIR URL TASKS run
//     takes every result, appends "ID VALUE" to DIR/delivered.log (fsynced),
//     prints the interface's figures and exits 0.
//   remote_resume_master DIR URL TASKS die-at=K
//     takes no result and SIGKILLs itself when the K-th task of this run has
//     finished — inside the master's task_finished, after the interface has
//     downloaded the output and before the master journals it.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "mw/boinc/remote.h"
#include "mw/master.h"
#include "mw/worker.h"
#include "append_line.h"

using mw::test::append_line;

long cube(long x) { return x * x * x; }
MW_TASK(cube);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  if (argc != 5) {
    std::cerr << "usage: remote_resume_master DIR URL TASKS run|die-at=K\n";
    return 2;
  }
  const std::string dir = argv[1], mode = argv[4];
  const long tasks = std::atol(argv[3]);
  const int die_at = mode.rfind("die-at=", 0) == 0 ? std::atoi(mode.c_str() + 7) : 0;

  mw::boinc::Remote remote;
  remote.project_url = argv[2];
  remote.auth_file = dir + "/auth";
  remote.signing_key = dir + "/task.pem";
  remote.batch_name = "resume";
  remote.tasks_per_submit = 4;
  remote.gather_seconds = 0.5;
  remote.poll_initial_seconds = 0.05;
  remote.poll_max_seconds = 0.2;
  remote.backoff_initial_seconds = 0.01;

  mw::MasterOptions options;
  options.work_dir = dir + "/work";
  std::atomic<int> finished{0};
  if (die_at > 0)
    options.on_progress = [&](const mw::Progress&) {
      if (++finished == die_at) std::raise(SIGKILL);
    };
  mw::Master master(remote, options);
  for (long i = 1; i <= tasks; ++i) master.submit_task(mw::fn("cube"), mw::args(i));
  if (die_at > 0) {
    for (;;) ::pause();
  }
  for (;;) {
    try {
      auto [task, result] = master.get_result();
      append_line(dir + "/delivered.log", std::to_string(task.id) + " " + std::to_string(result.value<long>()));
    } catch (const mw::TaskFailed& e) {
      std::cerr << e.what() << "\n";
      return 1;
    } catch (const mw::Error& e) {
      if (e.code() == mw::Errc::unknown_task) break;  // nothing outstanding
      std::cerr << e.what() << "\n";
      return 1;
    }
  }
  const mw::Status st = master.status();
  auto detail = [&](const char* key) {
    auto it = st.details.details.find(key);
    return it == st.details.details.end() ? std::string("?") : it->second;
  };
  std::cout << "from_journal " << st.from_journal << "\n"
            << "taken_up " << detail("taken_up") << "\n"
            << "outputs_from_ledger " << detail("outputs_from_ledger") << "\n";
  return 0;
}
