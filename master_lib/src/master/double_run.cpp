#include "master/double_run.h"
#include "mw/log.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>
#include <map>
#include <mutex>

namespace mw::detail {
namespace {

// Twins carry the task's id with the top bit set; the Master's ids never reach it.
constexpr std::uint64_t kTwinBit = 1ULL << 63;

class DoubleRun : public Interface, private InterfaceEvents {
 public:
  DoubleRun(std::unique_ptr<Interface> inner, CompareOptions compare, MismatchCallback on_mismatch)
      : inner_(std::move(inner)), compare_(std::move(compare)), on_mismatch_(std::move(on_mismatch)) {}

  ~DoubleRun() override { stop_thread(); }

  std::string name() const override { return inner_->name() + "+double-run"; }
  void use_work_dir(const std::string& work_dir) override { inner_->use_work_dir(work_dir); }
  void start(InterfaceEvents& events) override {
    events_ = &events;
    inner_->start(*this);
    // The Master asks for workers only while its own queue holds tasks, so
    // twins still waiting when it empties are dispatched from this thread.
    twin_thread_ = std::thread([this] { twin_loop(); });
  }

  // The Master's dispatcher and the twin thread share the inner interface
  // under dispatch_mu_. A worker handed to the Master stays its own until
  // execute_task (or its next reserve_worker), so the twin thread skips it.
  std::optional<WorkerId> reserve_worker() override {
    std::lock_guard<std::mutex> d(dispatch_mu_);
    master_reserved_.reset();
    dispatch_twins_locked();
    master_reserved_ = inner_->reserve_worker();
    return master_reserved_;
  }

  void execute_task(WorkerId worker, std::shared_ptr<const TaskSpec> task) override {
    auto twin = std::make_shared<TaskSpec>(*task);
    twin->id = task->id | kTwinBit;
    std::lock_guard<std::mutex> d(dispatch_mu_);
    master_reserved_.reset();
    inner_->execute_task(worker, std::move(task));
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_twins_.push_back(twin);
    }
    dispatch_twins_locked();
  }

  void cancel_task(std::uint64_t task_id) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      halves_.erase(task_id);
      for (auto it = pending_twins_.begin(); it != pending_twins_.end(); ++it)
        if ((*it)->id == (task_id | kTwinBit)) {
          pending_twins_.erase(it);
          break;
        }
    }
    inner_->cancel_task(task_id);
    inner_->cancel_task(task_id | kTwinBit);
  }

  void each_worker(const Function& function, const Args& args) override { inner_->each_worker(function, args); }

  InterfaceStatus status() const override {
    InterfaceStatus s = inner_->status();
    std::lock_guard<std::mutex> lock(mu_);
    s.details["double_run_mismatches"] = std::to_string(mismatches_);
    return s;
  }
  bool on_master_waiting() override { return inner_->on_master_waiting(); }
  void shutdown() override {
    stop_thread();
    inner_->shutdown();
  }

 private:
  struct Halves {
    std::optional<Outcome> first, second;
  };

  void task_finished(std::uint64_t id, Outcome outcome) override {
    std::uint64_t task = id & ~kTwinBit;
    Outcome first, second;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Halves& h = halves_[task];
      (id & kTwinBit ? h.second : h.first) = std::move(outcome);
      if (!h.first || !h.second) return;
      first = std::move(*h.first);
      second = std::move(*h.second);
      halves_.erase(task);
    }
    std::string why;
    bool agree = false;
    try {
      agree = outcomes_agree(first, second, compare_, &why);
    } catch (const Error& e) {
      why = std::string("the comparison failed: ") + e.what();
    }
    if (!agree) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++mismatches_;
      }
      if (on_mismatch_)
        on_mismatch_(task, why);
      else
        mw::log(mw::LogLevel::warning, "mwkit: task " + std::to_string(task) + ": the two runs differ: " + why);
    }
    events_->task_finished(task, std::move(first));
  }

  void worker_available() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      twin_wake_ = true;
    }
    twin_cv_.notify_one();
    events_->worker_available();
  }

  // With dispatch_mu_ held: runs waiting twins on free workers.
  void dispatch_twins_locked() {
    for (;;) {
      std::shared_ptr<const TaskSpec> twin;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (pending_twins_.empty()) return;
        twin = pending_twins_.front();
      }
      std::optional<WorkerId> w = inner_->reserve_worker();
      if (!w || (master_reserved_ && *w == *master_reserved_)) return;
      {
        std::lock_guard<std::mutex> lock(mu_);
        pending_twins_.pop_front();
      }
      inner_->execute_task(*w, twin);
    }
  }

  void twin_loop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        twin_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return twin_wake_ || twin_stop_; });
        if (twin_stop_) return;
        twin_wake_ = false;
      }
      std::lock_guard<std::mutex> d(dispatch_mu_);
      dispatch_twins_locked();
    }
  }

  void stop_thread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      twin_stop_ = true;
    }
    twin_cv_.notify_one();
    if (twin_thread_.joinable()) twin_thread_.join();
  }

  std::unique_ptr<Interface> inner_;
  CompareOptions compare_;
  MismatchCallback on_mismatch_;
  InterfaceEvents* events_ = nullptr;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const TaskSpec>> pending_twins_;
  std::map<std::uint64_t, Halves> halves_;
  std::uint64_t mismatches_ = 0;
  std::mutex dispatch_mu_;
  std::optional<WorkerId> master_reserved_;
  std::condition_variable twin_cv_;
  bool twin_wake_ = false, twin_stop_ = false;
  std::thread twin_thread_;
};

}  // namespace

std::unique_ptr<Interface> make_double_run_interface(std::unique_ptr<Interface> inner,
                                                     CompareOptions compare, MismatchCallback on_mismatch) {
  return std::make_unique<DoubleRun>(std::move(inner), std::move(compare), std::move(on_mismatch));
}

}  // namespace mw::detail
