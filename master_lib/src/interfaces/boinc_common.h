// interfaces/boinc_common.h — what mw::boinc::Local and mw::boinc::Remote
// share: both lay tasks onto BOINC workunits the same way, so a master moved
// from the server to a laptop names, sizes and reports its jobs alike.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mw/boinc/workunit_settings.h"
#include "mw/interface.h"
#include "mw/result.h"
#include "mw/task.h"

namespace mw::boinc::detail {

// The batch's settings with the task's own estimates (fpops, memory) taking
// precedence, keeping the ratio between rsc_fpops_bound and rsc_fpops_est.
WorkunitSettings settings_for_task(const WorkunitSettings& batch, const TaskSpec& task);

// BOINC hosts are not known in advance: Errc::usage saying so.
[[noreturn]] void throw_no_each_worker(const Function& function);

// "mw_<host>_<pid>_<time>" when `name` is empty, else `name`.
std::string batch_name_or_default(const std::string& name);

// The first 60 characters of a batch name with anything outside
// [A-Za-z0-9-] made '_': the stem of workunit names.
std::string workunit_stem(const std::string& batch_name);

// A task BOINC could not run (or mwkit could not submit): status rejected.
Outcome rejected_outcome(std::string reason, std::string worker);

// What the queue of a BOINC interface is told by its owner.
struct QueueOptions {
  std::string worker;            // "boinc", "boinc-remote": outcomes' worker, status()'s prefix
  std::string app;
  std::size_t max_in_flight = 100000;   // tasks handed over and not yet back
  std::size_t tasks_per_submit = 1000;  // the largest chunk submit_chunk() gets
  double gather_seconds = 0;     // > 0: wait this long for a chunk to fill
  std::string failure_prefix;    // before the error of a chunk that could not be submitted
};

// The Interface side that Local and Remote share: BOINC has no workers to
// pick, so a task is "running" as soon as it is queued; one submitter thread
// takes chunks of up to tasks_per_submit queued tasks (one chunk costs one
// database transaction or a few RPCs, whatever its size) and carries out
// cancellations of tasks already handed to BOINC. How a chunk reaches BOINC
// and how finished jobs come back is the subclass's: it learns of a finished
// task on a thread of its own (watch_loop) and reports it with claim() and
// report().
//
// A subclass's destructor must call shutdown() (the hooks are its own).
class QueuedBoincInterface : public Interface {
 public:
  void start(InterfaceEvents& events) final;
  std::optional<WorkerId> reserve_worker() final;
  void execute_task(WorkerId worker, std::shared_ptr<const TaskSpec> task) final;
  void cancel_task(std::uint64_t task_id) final;
  void each_worker(const Function& function, const Args& args) final;
  InterfaceStatus status() const final;
  void shutdown() final;

 protected:
  explicit QueuedBoincInterface(QueueOptions options);

  // On the submitter thread, without the lock: returns how many of the
  // chunk's tasks BOINC now has (status()'s "submitted"). Throwing Error
  // fails every task of the chunk with failure_prefix + the error.
  virtual std::size_t submit_chunk(const std::vector<std::shared_ptr<const TaskSpec>>& chunk) = 0;
  // On the submitter thread, without the lock: tasks cancelled after they
  // left the queue. An Error thrown is kept as last_error.
  virtual void cancel_submitted(const std::vector<std::uint64_t>& task_ids) = 0;
  // The body of the thread that follows submitted jobs (started by start()).
  // It must return once stopped_ is set (wake_ is notified then).
  virtual void watch_loop() = 0;
  // After both threads have stopped (retiring batches).
  virtual void after_stop() {}
  // Extra status() details, called with mutex_ held.
  virtual void add_details(std::map<std::string, std::string>& details) const = 0;
  // status()'s hosts, for a subclass that learns them; called with mutex_ held.
  virtual void add_hosts(InterfaceStatus& status) const { (void)status; }

  // The in-flight task `task_id`, or null when it was delivered or cancelled.
  std::shared_ptr<const TaskSpec> in_flight(std::uint64_t task_id) const;
  // Takes `task_id` out of flight and counts it delivered: false when it was
  // not in flight (delivered already, or cancelled) — then report nothing.
  bool claim(std::uint64_t task_id);
  // Tells the Master (after a successful claim()); never with mutex_ held.
  void report(std::uint64_t task_id, Outcome outcome);
  // Claims and reports `task_id` as rejected for `why` (kept as last_error).
  void fail(std::uint64_t task_id, const std::string& why);
  void note_error(const std::string& what);

  const QueueOptions& queue_options() const { return queue_; }

  mutable std::mutex mutex_;
  std::condition_variable wake_;  // notified on new work, cancellations and stop
  bool stopped_ = false;          // under mutex_

 private:
  void submit_loop();

  QueueOptions queue_;
  InterfaceEvents* events_ = nullptr;
  std::map<std::uint64_t, std::shared_ptr<const TaskSpec>> in_flight_;
  std::deque<std::shared_ptr<const TaskSpec>> to_submit_;
  std::vector<std::uint64_t> to_cancel_;
  std::uint64_t submitted_ = 0, delivered_ = 0;
  std::string last_error_;
  std::thread submit_thread_, watch_thread_;
};

}  // namespace mw::boinc::detail
