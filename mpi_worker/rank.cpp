// Ranks 1..N: run the tasks rank 0 relays, through a one-slot multicore
// interface (function tasks in a persistent worker process, exec tasks one
// process each), and send back each outcome as soon as it exists. Tasks
// beyond what the slot takes wait in a local queue, so the master can keep
// several in flight per rank and the rank never waits for the next one.
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <tuple>
#include <mutex>
#include <thread>
#include <vector>

#include "interfaces/mpi_protocol.h"
#include "mw/log.h"
#include "master/journal.h"
#include "mpi_worker.h"
#include "mw/error.h"
#include "mw/multicore.h"

namespace mw::mpi_worker {
namespace {

using namespace mw::detail;

// Collects what the multicore interface reports from its threads; only the
// main thread talks MPI.
class Answers final : public InterfaceEvents {
 public:
  void task_finished(std::uint64_t id, Outcome outcome) override {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back({MpiKind::done, encode_values(id, encode_outcome(outcome))});
  }
  void worker_available() override {}
  void add(MpiKind kind, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back({kind, std::move(body)});
  }
  std::vector<std::pair<MpiKind, std::string>> take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<MpiKind, std::string>> out(std::make_move_iterator(messages_.begin()),
                                                     std::make_move_iterator(messages_.end()));
    messages_.clear();
    return out;
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<MpiKind, std::string>> messages_;
};

std::string host_name() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

int run_rank(const std::string& worker_program, const std::string& scratch_root) {
  Multicore config{1};
  config.worker_program = worker_program;
  config.scratch_root = scratch_root;
  config.die_with_parent = true;  // a rank killed by SIGKILL takes its worker process along
  Answers answers;
  std::unique_ptr<Interface> slot = config.make_interface();
  slot->start(answers);
  std::deque<std::shared_ptr<const TaskSpec>> queued;
  // each_worker blocks until the worker ran it, so it runs beside the loop, on
  // one thread that lives as long as the rank (workers it starts die with the
  // thread that started them: Multicore::die_with_parent).
  std::mutex init_mu;
  std::condition_variable init_cv;
  std::deque<std::tuple<std::uint64_t, std::string, std::string>> init_queue;
  bool init_stop = false;
  std::thread init_thread([&] {
    std::unique_lock<std::mutex> lock(init_mu);
    for (;;) {
      init_cv.wait(lock, [&] { return init_stop || !init_queue.empty(); });
      if (init_stop) return;
      auto [id, function, args] = std::move(init_queue.front());
      init_queue.pop_front();
      lock.unlock();
      bool ok = true;
      std::string message;
      try {
        slot->each_worker(Function{function}, Args{args});
      } catch (const std::exception& e) {
        ok = false;
        message = e.what();
      }
      answers.add(MpiKind::init_done, encode_values(id, ok, message));
      lock.lock();
    }
  });
  Outbox outbox;
  Backoff backoff;
  outbox.send(0, static_cast<int>(MpiKind::ready),
              encode_values(host_name(), static_cast<std::int64_t>(getpid())));

  bool stopping = false;
  while (!stopping) {
    bool busy = false;
    int from = 0, tag = 0;
    std::string body;
    while (!stopping && try_receive(0, from, tag, body)) {
      busy = true;
      switch (static_cast<MpiKind>(tag)) {
        case MpiKind::task:
          queued.push_back(std::make_shared<const TaskSpec>(decode_task_spec(body, "task from rank 0")));
          break;
        case MpiKind::cancel: {
          const auto id = decode_value<std::uint64_t>(body, "cancel from rank 0");
          const auto before = queued.size();
          queued.erase(std::remove_if(queued.begin(), queued.end(), [&](const auto& t) { return t->id == id; }),
                       queued.end());
          if (queued.size() == before) slot->cancel_task(id);
          break;
        }
        case MpiKind::init: {
          auto [id, function, args] =
              decode_values<std::tuple<std::uint64_t, std::string, std::string>>(body, "init from rank 0");
          {
            std::lock_guard<std::mutex> lock(init_mu);
            init_queue.emplace_back(id, function, args);
          }
          init_cv.notify_one();
          break;
        }
        case MpiKind::stop:
          stopping = true;
          break;
        default:
          mw::log(mw::LogLevel::warning, "mw-mpi-worker: ignoring a message with unknown tag " + std::to_string(tag));
      }
    }
    if (g_signalled) stopping = true;
    while (!queued.empty()) {
      const auto worker = slot->reserve_worker();
      if (!worker) break;
      slot->execute_task(*worker, std::move(queued.front()));
      queued.pop_front();
      busy = true;
    }
    for (auto& [kind, message] : answers.take()) {
      outbox.send(0, static_cast<int>(kind), std::move(message));
      busy = true;
    }
    if (outbox.progress()) busy = true;
    if (busy) backoff.busy();
    else backoff.idle();
  }
  {
    std::lock_guard<std::mutex> lock(init_mu);
    init_stop = true;
  }
  init_cv.notify_one();
  slot->shutdown();  // kills the worker process and any exec task; ends a waiting each_worker
  init_thread.join();
  for (auto& [kind, message] : answers.take()) outbox.send(0, static_cast<int>(kind), std::move(message));
  outbox.send(0, static_cast<int>(MpiKind::bye), "");
  while (!outbox.empty()) outbox.progress();
  MPI_Finalize();
  return 0;
}

}  // namespace mw::mpi_worker
