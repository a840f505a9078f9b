// mw-mpi-worker: the program every rank of the MPI interface's job runs
// (mw/mpi.h). Rank 0 relays between the master's socket and ranks 1..N;
// ranks 1..N run tasks. Only non-blocking MPI calls are made while tasks are
// in flight, from one thread per process (MPI_THREAD_FUNNELED).
#pragma once

#include <mpi.h>

#include <algorithm>
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

// Polling loops spin while there is traffic; once idle they sleep for 2% of
// the time they have been idle (20 us to 10 ms). A rank waiting on a task of
// T seconds thus wakes about 50 ln(T / 1 ms) times instead of thousands, and
// notices the result at most 2% of T late. A fixed 500 us sleep had the relay
// and a rank use ~10% of a core during 1 s tasks (each wakeup runs Open MPI's
// progress engine), about 5 points of the 2-rank monte_pi efficiency on a
// 2-core machine. Back-to-back short tasks keep the loop busy and never sleep.
class Backoff {
 public:
  void busy() { spins_ = 0; }
  void idle() {
    using Clock = std::chrono::steady_clock;
    if (spins_ == 0) idle_since_ = Clock::now();
    if (++spins_ < 64) return;
    const auto idle_for = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - idle_since_);
    const auto sleep = std::clamp(idle_for / 50, std::chrono::microseconds(20), std::chrono::microseconds(10000));
    std::this_thread::sleep_for(sleep);
  }

 private:
  unsigned spins_ = 0;
  std::chrono::steady_clock::time_point idle_since_;
};

}  // namespace mw::mpi_worker
