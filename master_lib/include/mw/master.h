// mw/master.h — the master: submit tasks, collect results, whatever the back end.
//
//   int main(int argc, char** argv) {
//     mw::worker_main_if_requested(argc, argv);   // this binary is also the worker
//     mw::Master master;                          // multicore, all cores
//     auto t = master.submit_task(mw::fn("monte_pi"), mw::args(seed, n));
//     auto [task, result] = master.get_result();  // next finished, blocking
//     auto hits = result.value<std::uint64_t>();
//   }
//
// Changing the back end is changing the constructor's argument:
//   mw::Master master(mw::Multicore{4});
//   mw::Master master(mw::Simulator{...});
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mw/interface.h"
#include "mw/result_compare.h"
#include "mw/result.h"
#include "mw/task.h"

namespace mw {

struct Progress {
  std::uint64_t submitted = 0;
  std::uint64_t finished = 0;  // done + failed + cancelled
  std::uint64_t failed = 0;
  double elapsed_seconds = 0;
  double rate_per_second = 0;  // finished tasks per second, recent average
  double eta_seconds = -1;     // -1 when unknown
};

struct MasterOptions {
  // With a work directory the master keeps a journal there (SQLite, WAL): a
  // master restarted on the same directory gets every finished result back
  // without recomputing it and never delivers a result twice.
  std::string work_dir;
  // Back-pressure (Sleigh's loadFactor): submit_task blocks while this many
  // tasks wait for a worker. 0 = no bound.
  std::size_t max_waiting = 0;
  // Called from the master's own thread after every finished task (keep it short).
  std::function<void(const Progress&)> on_progress;
  // Draw a one-line progress bar (count, rate, ETA) on stderr when it is a terminal.
  bool progress_bar = false;
  // Run every task twice and check that both runs agree, with the comparison
  // BOINC's mw-validator uses (mw/result_compare.h), so non-deterministic
  // output shows up before the tasks go to volunteers. The first run's result
  // is delivered either way; a disagreement goes to on_double_run_mismatch
  // (else one line on stderr) and is counted in
  // status().details.details["double_run_mismatches"]. Costs twice the work.
  std::optional<CompareOptions> double_run;
  std::function<void(std::uint64_t task_id, const std::string& why)> on_double_run_mismatch;
};

struct Status {
  std::uint64_t waiting = 0;    // submitted, not yet on a worker
  std::uint64_t running = 0;
  std::uint64_t finished = 0;   // done or failed, not yet delivered by get_result
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;     // among finished + delivered
  std::uint64_t cancelled = 0;
  std::uint64_t from_journal = 0;  // results restored from the journal, not recomputed
  std::string interface;
  InterfaceStatus details;
};

class Master {
 public:
  // The multicore interface with one worker per core.
  Master();
  explicit Master(MasterOptions options);
  Master(std::unique_ptr<Interface> interface, MasterOptions options = {});
  // Any interface configuration with `std::unique_ptr<Interface> make_interface() const`
  // (mw::Multicore, mw::Simulator, ...).
  template <typename Config,
            typename = decltype(std::declval<const Config&>().make_interface())>
  explicit Master(const Config& config, MasterOptions options = {})
      : Master(config.make_interface(), std::move(options)) {}
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // Queue a task; returns at once (unless max_waiting is reached).
  Task submit_task(const Function& function, const Args& arguments, TaskOptions options = {});
  Task submit_task(const Exec& exec, TaskOptions options = {});

  // The next finished task, in completion order, waiting for one if needed.
  // Throws TaskFailed for a failed task (its handle is in the exception), and
  // Error(Errc::unknown_task) when nothing is submitted and undelivered.
  Finished get_result();
  // The same without waiting: nullopt when nothing has finished yet.
  std::optional<Finished> try_get_result();
  // One task's result, waiting for it. Errc::unknown_task for a handle this
  // master never issued or whose result was already delivered; TaskFailed if
  // it failed; Errc::cancelled if it was cancelled.
  Result get_result(Task task);
  // nullopt when it has not finished and `blocking` is false.
  std::optional<Result> get_result(Task task, bool blocking);

  // Runs `function` on each input and returns the results in input order
  // (Sleigh's eachElem). Streams under max_waiting; throws the first TaskFailed.
  template <typename R, typename In>
  std::vector<R> map(const Function& function, const std::vector<In>& inputs,
                     TaskOptions options = {});

  // Runs an initialisation once on every worker, now and on workers started later.
  void each_worker(const Function& function, const Args& arguments = args());

  // Cancels a task that has not finished: true if it was cancelled.
  bool cancel(Task task);
  // Cancels every unfinished task; returns how many.
  std::size_t cancel_all();

  Status status() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  Task submit(TaskSpec spec);
};

template <typename R, typename In>
std::vector<R> Master::map(const Function& function, const std::vector<In>& inputs,
                           TaskOptions options) {
  std::vector<Task> tasks;
  tasks.reserve(inputs.size());
  for (const auto& input : inputs) tasks.push_back(submit_task(function, args(input), options));
  std::vector<R> out;
  out.reserve(inputs.size());
  for (const auto& t : tasks) out.push_back(get_result(t).template value<R>());
  return out;
}

}  // namespace mw
