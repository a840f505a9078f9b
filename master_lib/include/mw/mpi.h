// mw/mpi.h — an interface whose workers are the ranks of one Open MPI job.
//
//   mw::Master master(mw::Mpi{4});   // mpirun -n 5 mw-mpi-worker ...
//
// When the interface starts, the master (which is not itself an MPI program)
// execs `mpirun -n N+1 mw-mpi-worker ...` with an argument vector, never a
// shell. Rank 0 connects back to the master over a local (Unix) socket and
// only relays: tasks go out to ranks 1..N with non-blocking sends, answers
// come back with non-blocking probes, so a slow task never stalls dispatch.
// Ranks 1..N run tasks as the multicore interface does: function tasks in one
// persistent worker process (worker_program --mw-worker), exec tasks one
// process each through the runner's process layer.
//
// Rank 0 must run on the master's host (Open MPI puts rank 0 on the first
// host of the hostfile). Exec tasks' input files are read by path on the rank
// that runs them, so with several hosts they must be on a shared file system.
//
// Lifetime. The master's exit (even SIGKILL) closes the socket; rank 0 then
// tells every rank to stop, each rank kills its task processes and the job
// ends. mpirun also gets SIGTERM when the master dies (PR_SET_PDEATHSIG).
//
// A rank that dies. Open MPI 4.1 (Debian 12) aborts the whole job when any
// rank exits abnormally ("mpirun noticed that process rank K ... exited on
// signal"); surviving a rank's death needs ULFM (Open MPI 5), which Debian 12
// does not ship. So the interface restarts the job: the tasks that were on
// the dead rank fail (status "signaled", reason naming the rank), the tasks
// on the other ranks are sent again to the new job and do not fail. After
// max_restarts restarts every further task fails at once with the reason.
// A task that crashes its own process never kills a rank: it runs in a child
// of the rank, and only that task fails (as in multicore).
//
// status() reports "init_seconds" (mpirun start until every rank is ready,
// for the first job) separately from the task figures, and "job_restarts".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mw/interface.h"

namespace mw {

struct Mpi {
  unsigned workers = 2;             // worker ranks (N); mpirun starts N+1 processes
  std::string mpirun = "mpirun";    // path or name of Open MPI's mpirun
  // The rank program; default: $MW_MPI_WORKER, else the installed one
  // (PREFIX/libexec/mwkit/mw-mpi-worker, found relative to libmw), else
  // "mw-mpi-worker" from PATH.
  std::string mpi_worker;
  // The program whose MW_TASK functions run (started with --mw-worker on each
  // rank); default: this program (/proc/self/exe).
  std::string worker_program;
  std::string hostfile;             // passed as --hostfile when not empty
  bool oversubscribe = false;       // --oversubscribe: more ranks than cores
  std::vector<std::string> mpirun_args;  // extra arguments, before -n
  std::string scratch_root;         // ranks' exec-task scratch; default $TMPDIR or /tmp
  unsigned pipeline_depth = 8;      // tasks in flight per rank
  double start_timeout_seconds = 120;  // mpirun start until every rank is ready
  unsigned max_restarts = 3;        // jobs restarted after a rank died

  Mpi() = default;
  explicit Mpi(unsigned n) : workers(n) {}
  std::unique_ptr<Interface> make_interface() const;
};

}  // namespace mw
