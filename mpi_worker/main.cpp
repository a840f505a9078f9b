// mw-mpi-worker — started by the MPI interface as `mpirun -n N+1 mw-mpi-worker
// --socket PATH --program WORKER_PROGRAM --scratch DIR`; never by people.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "mpi_worker.h"

namespace mw::mpi_worker {
volatile std::sig_atomic_t g_signalled = 0;
}

namespace {
void on_signal(int) { mw::mpi_worker::g_signalled = 1; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A rank of mwkit's MPI interface (started by the master through mpirun)", "mw-mpi-worker"};
  std::string socket_path, program, scratch;
  app.add_option("--socket", socket_path, "The master's Unix socket (rank 0 connects to it)")->required();
  app.add_option("--program", program, "The worker program whose MW_TASK functions run")->required();
  app.add_option("--scratch", scratch, "Where exec tasks get their scratch directories")->required();
  CLI11_PARSE(app, argc, argv);

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
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  return 3;
}
