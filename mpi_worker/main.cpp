// mw-mpi-worker — started by the MPI interface as `mpirun -n N+1 mw-mpi-worker
// --socket PATH --program WORKER_PROGRAM --scratch DIR`; never by people.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "mpi_worker.h"
#include "util/command_line.h"

namespace mw::mpi_worker {
volatile std::sig_atomic_t g_signalled = 0;
}

namespace {

// A rank that fails aborts the MPI job with this status (the master sees the
// job end and restarts it, mw/mpi.h); a wrong command line exits 64.
constexpr int kExitFailed = 3;

void on_signal(int) { mw::mpi_worker::g_signalled = 1; }

int mpi_worker_main(int argc, char** argv) {
  CLI::App app{"A rank of mwkit's MPI interface (started by the master through mpirun)", "mw-mpi-worker"};
  mw::cli::set_up(app);
  std::string socket_path, program, scratch;
  app.add_option("--socket", socket_path, "The master's Unix socket (rank 0 connects to it)")->required();
  app.add_option("--program", program, "The worker program whose MW_TASK functions run")->required();
  app.add_option("--scratch", scratch, "Where exec tasks get their scratch directories")->required();
  // Parsed before MPI_Init: --help, --version and a wrong command line need no MPI job.
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return rank == 0 ? mw::mpi_worker::run_relay(socket_path) : mw::mpi_worker::run_rank(program, scratch);
  } catch (const std::exception& e) {
    std::cerr << "mw-mpi-worker rank " << rank << ": " << e.what() << "\n";
    MPI_Abort(MPI_COMM_WORLD, kExitFailed);
  }
  return kExitFailed;
}

}  // namespace

// Nothing leaves main as an exception (before MPI_Init, say a failed
// allocation): one line and kExitFailed, as for a failed rank.
int main(int argc, char** argv) {
  return mw::cli::run_main("mw-mpi-worker", kExitFailed, [&] { return mpi_worker_main(argc, argv); });
}
