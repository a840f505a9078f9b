// See interfaces/boinc_common.h.
#include "interfaces/boinc_common.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>

#include "mw/error.h"

namespace mw::boinc::detail {

WorkunitSettings settings_for_task(const WorkunitSettings& batch, const TaskSpec& task) {
  WorkunitSettings s = batch;
  if (task.estimates.fpops && *task.estimates.fpops > 0) {
    s.rsc_fpops_bound = *task.estimates.fpops * (s.rsc_fpops_bound / s.rsc_fpops_est);
    s.rsc_fpops_est = *task.estimates.fpops;
  }
  if (task.estimates.memory_bytes) s.rsc_memory_bound = static_cast<double>(*task.estimates.memory_bytes);
  return s;
}

void throw_no_each_worker(const Function& function) {
  throw Error(Errc::usage, "each_worker(" + function.name + ") is not available on BOINC: "
                           "volunteer hosts are not known in advance; pass what every task needs "
                           "as its arguments instead");
}

std::string batch_name_or_default(const std::string& name) {
  if (!name.empty()) return name;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return "mw_" + std::string(host) + "_" + std::to_string(::getpid()) + "_" + std::to_string(std::time(nullptr));
}

std::string workunit_stem(const std::string& batch_name) {
  std::string stem;
  for (char c : batch_name.substr(0, 60))
    stem += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return stem;
}

Outcome rejected_outcome(std::string reason, std::string worker) {
  Outcome o;
  o.status = ResultStatus::rejected;
  o.reason = std::move(reason);
  o.worker = std::move(worker);
  return o;
}

QueuedBoincInterface::QueuedBoincInterface(QueueOptions options) : queue_(std::move(options)) {}

void QueuedBoincInterface::start(InterfaceEvents& events) {
  events_ = &events;
  submit_thread_ = std::thread([this] { submit_loop(); });
  watch_thread_ = std::thread([this] { watch_loop(); });
}

std::optional<WorkerId> QueuedBoincInterface::reserve_worker() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (in_flight_.size() >= queue_.max_in_flight) return std::nullopt;
  return WorkerId{0};  // BOINC's hosts are not ours to pick
}

void QueuedBoincInterface::execute_task(WorkerId, std::shared_ptr<const TaskSpec> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_[task->id] = task;
    to_submit_.push_back(task);
  }
  wake_.notify_all();
}

void QueuedBoincInterface::cancel_task(std::uint64_t task_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.erase(task_id);
    for (auto it = to_submit_.begin(); it != to_submit_.end(); ++it) {
      if ((*it)->id == task_id) {
        to_submit_.erase(it);
        return;  // never reached BOINC
      }
    }
    to_cancel_.push_back(task_id);
  }
  wake_.notify_all();
}

void QueuedBoincInterface::each_worker(const Function& function, const Args&) {
  throw_no_each_worker(function);
}

InterfaceStatus QueuedBoincInterface::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  InterfaceStatus st;
  WorkerStatus w;
  w.name = queue_.worker + ":" + queue_.app;
  w.state = in_flight_.empty() ? "idle" : "busy";
  w.tasks_done = delivered_;
  st.workers.push_back(w);
  st.details["app"] = queue_.app;
  st.details["submitted"] = std::to_string(submitted_);
  st.details["delivered"] = std::to_string(delivered_);
  st.details["waiting_submission"] = std::to_string(to_submit_.size());
  if (!last_error_.empty()) st.details["last_error"] = last_error_;
  add_details(st.details);
  add_hosts(st);
  return st;
}

void QueuedBoincInterface::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  wake_.notify_all();
  if (submit_thread_.joinable()) submit_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  after_stop();
}

std::shared_ptr<const TaskSpec> QueuedBoincInterface::in_flight(std::uint64_t task_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_flight_.find(task_id);
  return it == in_flight_.end() ? nullptr : it->second;
}

bool QueuedBoincInterface::claim(std::uint64_t task_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (in_flight_.erase(task_id) == 0) return false;
  ++delivered_;
  return true;
}

void QueuedBoincInterface::report(std::uint64_t task_id, Outcome outcome) {
  events_->task_finished(task_id, std::move(outcome));
  events_->worker_available();
}

void QueuedBoincInterface::fail(std::uint64_t task_id, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_flight_.erase(task_id) == 0) return;  // cancelled meanwhile
    last_error_ = why;
  }
  report(task_id, rejected_outcome(why, queue_.worker));
}

void QueuedBoincInterface::note_error(const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_error_ = what;
}

void QueuedBoincInterface::submit_loop() {
  for (;;) {
    std::vector<std::shared_ptr<const TaskSpec>> chunk;
    std::vector<std::uint64_t> cancels;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopped_ || !to_submit_.empty() || !to_cancel_.empty(); });
      if (stopped_) return;
      // Let a chunk fill: one chunk of many tasks costs what one task does.
      if (queue_.gather_seconds > 0 && to_cancel_.empty() && to_submit_.size() < queue_.tasks_per_submit)
        wake_.wait_for(lock, std::chrono::duration<double>(queue_.gather_seconds),
                       [&] { return stopped_ || to_submit_.size() >= queue_.tasks_per_submit; });
      if (stopped_) return;
      while (!to_submit_.empty() && chunk.size() < queue_.tasks_per_submit) {
        chunk.push_back(to_submit_.front());
        to_submit_.pop_front();
      }
      cancels.swap(to_cancel_);
    }
    if (!chunk.empty()) {
      try {
        const std::size_t n = submit_chunk(chunk);
        std::lock_guard<std::mutex> lock(mutex_);
        submitted_ += n;
      } catch (const Error& e) {
        for (const auto& task : chunk) fail(task->id, queue_.failure_prefix + e.what());
      }
    }
    if (!cancels.empty()) {
      try {
        cancel_submitted(cancels);
      } catch (const Error& e) {
        note_error(e.what());
      }
    }
  }
}

}  // namespace mw::boinc::detail
