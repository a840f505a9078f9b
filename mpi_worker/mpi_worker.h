// mw-mpi-worker: the program every rank of the MPI interface's job runs
// (mw/mpi.h). Rank 0 relays between the master's socket and ranks 1..N;
// ranks 1..N run tasks. Only non-blocking MPI calls are made while tasks are
// in flight, from one thread per process (MPI_THREAD_FUNNELED).
#pragma once

#include <mpi.h>

#include <chrono>
#include <csignal>
#include <deque>
#include <string>
#include <thread>

namespace mw::mpi_worker {

// Set by SIGTERM/SIGINT (mpirun forwards them): stop as if told to.
extern volatile std::sig_atomic_t g_signalled;

int run_relay(const std::string& socket_path);
int run_rank(const std::string& worker_program, const std::string& scratch_root);

// Non-blocking sends whose buffers live until MPI is done with them.
class Outbox {
 public:
  void send(int dest, int tag, std::string bytes) {
    pending_.push_back({MPI_REQUEST_NULL, std::move(bytes)});
    Pending& p = pending_.back();
    MPI_Isend(p.bytes.data(), static_cast<int>(p.bytes.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD, &p.request);
  }
  // Completes what it can; true if something completed.
  bool progress() {
    bool any = false;
    while (!pending_.empty()) {
      int flag = 0;
      MPI_Test(&pending_.front().request, &flag, MPI_STATUS_IGNORE);
      if (!flag) break;
      pending_.pop_front();
      any = true;
    }
    return any;
  }
  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    MPI_Request request;
    std::string bytes;
  };
  std::deque<Pending> pending_;
};

// One message from anyone, if one has arrived (matched probe, then receive).
inline bool try_receive(int source, int& from, int& tag, std::string& bytes) {
  int flag = 0;
  MPI_Message message;
  MPI_Status status;
  MPI_Improbe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &message, &status);
  if (!flag) return false;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  bytes.resize(static_cast<std::size_t>(count));
  MPI_Mrecv(bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE);
  from = status.MPI_SOURCE;
  tag = status.MPI_TAG;
  return true;
}

// Polling loops spin while there is traffic and back off to short sleeps
// when idle, so an idle rank does not take a core from the tasks.
class Backoff {
 public:
  void busy() { idle_ = 0; }
  void idle() {
    if (++idle_ < 64) return;
    const auto us = idle_ < 1000 ? 20 : 500;
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }

 private:
  unsigned idle_ = 0;
};

}  // namespace mw::mpi_worker
