// mw/multicore.h — the default interface: worker processes on this machine.
//
// Function tasks run in persistent worker processes (this program started
// again with --mw-worker, see mw/worker.h) fed over pipes: no process per task.
// Exec tasks get a process each, in a scratch directory, through the runner's
// process layer. Both obey the task's limits. A worker that crashes fails only
// its task and is replaced.
#pragma once

#include <memory>
#include <string>

#include "mw/interface.h"

namespace mw {

struct Multicore {
  unsigned workers = 0;         // 0 = one per core; more than cores is allowed
  std::string worker_program;   // for function tasks; default: this program (/proc/self/exe)
  std::string scratch_root;     // exec tasks' scratch directories; default $TMPDIR or /tmp
  std::uint64_t stdout_cap = 1 << 20;  // bytes of a task's stdout kept
  std::uint64_t stderr_cap = 64 << 10;  // bytes of a task's stderr kept (the tail)
  // Worker processes get SIGKILL when the thread that started them ends
  // (PR_SET_PDEATHSIG), so none outlives a master killed with SIGKILL. For
  // masters whose calls come from long-lived threads only: MPI ranks use it.
  bool die_with_parent = false;

  Multicore() = default;
  explicit Multicore(unsigned n) : workers(n) {}
  std::unique_ptr<Interface> make_interface() const;
};

}  // namespace mw
