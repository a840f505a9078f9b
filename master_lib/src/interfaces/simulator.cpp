// The grid simulator: a discrete-event clock behind the ordinary Interface.
//
// Why it is deterministic: simulated time is frozen except inside
// on_master_waiting(), which the Master calls only after it has dispatched all
// it can. Each step takes every event at the earliest pending time (ordered by
// time, kind, sequence number), applies them all, lets free workers serve the
// internal re-run queue, and stops as soon as it has something to tell the
// master, so the master dispatches at that same instant before the clock moves
// again. What happens therefore depends on the order of those calls and on the
// seed, never on how the threads are scheduled.
//
// Locks: mu_ guards the state and is never held while calling the master or
// user code (cost functions, task functions). advance_mu_ serialises
// on_master_waiting and each_worker, so the clock moves one step at a time and
// task functions run one at a time.
#include "mw/simulator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <tuple>

#include "mw/error.h"
#include "mw/worker.h"

namespace mw {
namespace {

constexpr double kForever = std::numeric_limits<double>::infinity();

// Shortest text that reads back as the same double, whatever the C locale.
std::string number_text(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

const char* policy_name(SimPolicy policy) {
  switch (policy) {
    case SimPolicy::fifo: return "fifo";
    case SimPolicy::fastest_worker_first: return "fastest_worker_first";
    case SimPolicy::earliest_completion: return "earliest_completion";
  }
  return "?";
}

// ---- configuration -----------------------------------------------------------

using Periods = std::vector<std::pair<double, double>>;

std::string worker_label(const std::string& name, std::size_t index) {
  return "Simulator: worker '" + name + "' (workers[" + std::to_string(index) + "])";
}

// The worker's up periods, checked, with touching periods merged so that a
// worker up across [0,5) and [5,9) is not seen to leave at 5.
Periods checked_periods(const Periods& periods, const std::string& label) {
  Periods merged;
  for (std::size_t k = 0; k < periods.size(); ++k) {
    const auto [start, end] = periods[k];
    const std::string field = label + ": availability[" + std::to_string(k) + "] = [" +
                              number_text(start) + ", " + number_text(end) + ")";
    if (!(start < end)) throw Error(Errc::usage, field + ": start must be less than end");
    if (!merged.empty() && start < merged.back().second)
      throw Error(Errc::usage, field + " starts before availability[" + std::to_string(k - 1) +
                                   "] ends (periods must be sorted and must not overlap)");
    if (!merged.empty() && start == merged.back().second)
      merged.back().second = end;
    else
      merged.emplace_back(start, end);
  }
  return merged;
}

// ---- state -------------------------------------------------------------------

// A task the simulator holds: running on a worker, or waiting to (re-)run.
struct Job {
  std::shared_ptr<const TaskSpec> task;
  double cost = 0;
  std::string bad_cost;  // set: the cost is unusable and the run fails at once
};

struct Transition {
  double time;
  bool up;
};

struct WorkerState {
  std::string name;
  double speed = 1;
  double failure_rate = 0;
  Periods periods;                   // merged; empty = always up
  std::vector<Transition> transitions;  // those after t=0, alternating down/up
  std::size_t next_transition = 0;
  bool up = true;
  double idle_since = 0;

  std::optional<Job> job;  // the run in progress
  std::uint64_t run = 0;   // names the run in progress; completion events of older runs are stale
  double run_start = 0, run_duration = 0;
  bool run_fails = false;

  std::uint64_t tasks_done = 0;
  double busy_seconds = 0;

  bool free_and_up() const { return up && !job; }
  // When the worker (now up) next goes down; kForever if never.
  double next_down() const {
    for (std::size_t i = next_transition; i < transitions.size(); ++i)
      if (!transitions[i].up) return transitions[i].time;
    return kForever;
  }
  bool comes_up_later() const {
    for (std::size_t i = next_transition; i < transitions.size(); ++i)
      if (transitions[i].up) return true;
    return false;
  }
};

// At one instant a completion comes before a down, so a task that ends exactly
// when its worker leaves completes. Otherwise order within an instant does not
// matter: the whole instant is applied before anyone is told.
enum class EventKind : std::uint8_t { completion, down, up };

struct Event {
  double time;
  EventKind kind;
  std::uint64_t seq;
  std::size_t worker;
  std::uint64_t run;  // completion: the run it ends
};

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return std::tie(a.time, a.kind, a.seq) > std::tie(b.time, b.kind, b.seq);
  }
};

// A finished task on its way to the master.
struct Delivery {
  std::shared_ptr<const TaskSpec> task;
  Outcome outcome;
  std::optional<std::size_t> schedule_index;  // none for a task that never ran
  bool call = false;  // call its function for the value first
};

// What one step of the clock has to tell the master.
struct Step {
  std::vector<Delivery> finished;
  bool worker_free = false;
  bool empty() const { return finished.empty() && !worker_free; }
};

// ---- the interface -------------------------------------------------------------

class SimInterface final : public Interface {
 public:
  SimInterface(const Simulator& config, std::vector<WorkerState> workers)
      : cost_(config.cost),
        policy_(config.policy),
        call_functions_(config.call_functions),
        rng_(config.seed),
        workers_(std::move(workers)) {
    for (std::size_t i = 0; i < workers_.size(); ++i) schedule_transition_locked(i);
  }

  std::string name() const override { return "simulator"; }
  bool runs_this_program() const override { return call_functions_; }

  void start(InterfaceEvents& events) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_ = &events;
  }

  // Any free worker will do here: execute_task places the task by policy,
  // because earliest_completion needs the task's cost. The re-run queue is
  // always served first, so a free worker means the queue is empty.
  std::optional<WorkerId> reserve_worker() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return std::nullopt;
    auto w = choose_locked(nullptr);
    if (!w) return std::nullopt;
    return static_cast<WorkerId>(*w);
  }

  void execute_task(WorkerId, std::shared_ptr<const TaskSpec> task) override {
    Job job = make_job(std::move(task));  // user code: outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    if (!first_dispatch_) first_dispatch_ = clock_;
    if (auto w = choose_locked(&job))
      start_run_locked(*w, std::move(job));
    else
      pending_.push_back(std::move(job));  // a lapsed reservation: it waits like a re-run
  }

  void cancel_task(std::uint64_t task_id) override {
    bool freed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                    [&](const Job& j) { return j.task->id == task_id; }),
                     pending_.end());
      for (auto& w : workers_) {
        if (!w.job || w.job->task->id != task_id) continue;
        end_run_early_locked(w);
        w.idle_since = clock_;
        serve_pending_locked();
        freed = w.free_and_up();
        break;
      }
    }
    if (freed && events_) events_->worker_available();
  }

  // In process, once per worker, taking no simulated time.
  void each_worker(const Function& function, const Args& arguments) override {
    if (!call_functions_) return;
    std::lock_guard<std::mutex> one_at_a_time(advance_mu_);
    const detail::TaskInvoker* invoker = detail::find_task_function(function.name);
    if (!invoker)
      throw Error(Errc::task_failed, "each_worker: " + not_registered(function.name));
    for (const auto& w : workers_) {  // names never change: no lock needed
      try {
        (*invoker)(arguments.bytes);
      } catch (const std::exception& e) {
        throw Error(Errc::task_failed,
                    "each_worker: " + function.name + " failed on worker " + w.name + ": " + e.what());
      }
    }
  }

  InterfaceStatus status() const override {
    std::lock_guard<std::mutex> lock(mu_);
    InterfaceStatus st;
    std::uint64_t done = 0;
    for (const auto& w : workers_) {
      WorkerStatus s;
      s.name = w.name;
      s.state = !w.up ? "down" : w.job ? "busy" : "idle";
      s.tasks_done = w.tasks_done;
      s.busy_seconds = w.busy_seconds;
      if (w.job) s.task = w.job->task->id;
      st.workers.push_back(std::move(s));
      done += w.tasks_done;
    }
    st.details["clock"] = number_text(clock_);
    st.details["makespan"] = number_text(makespan_locked());
    st.details["utilisation"] = number_text(utilisation_locked());
    st.details["tasks_done"] = std::to_string(done);
    st.details["interruptions"] = std::to_string(interruptions_);
    st.details["failures"] = std::to_string(failures_);
    st.details["policy"] = policy_name(policy_);
    return st;
  }

  bool on_master_waiting() override {
    std::lock_guard<std::mutex> one_step(advance_mu_);
    Step step;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_ || !events_) return false;
      step = advance_locked();
    }
    if (step.empty()) return false;
    deliver(step);
    return true;
  }

  void shutdown() override {
    std::lock_guard<std::mutex> no_step_in_flight(advance_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    queue_ = {};
    pending_.clear();
  }

  SimReport report() const {
    std::lock_guard<std::mutex> lock(mu_);
    SimReport r;
    r.makespan = makespan_locked();
    r.utilisation = utilisation_locked();
    r.interruptions = interruptions_;
    r.failures = failures_;
    for (const auto& w : workers_) r.workers.push_back({w.name, w.tasks_done, w.busy_seconds});
    r.schedule = schedule_;
    return r;
  }

 private:
  static std::string not_registered(const std::string& function) {
    return "no function named '" + function + "' is registered in this program (MW_TASK(" +
           function + ") missing); registered: " + detail::registered_task_names();
  }

  Job make_job(std::shared_ptr<const TaskSpec> task) const {
    Job job;
    job.task = std::move(task);
    const std::string what = "simulator: the cost of task " + std::to_string(job.task->id);
    try {
      job.cost = cost_ ? cost_(*job.task) : job.task->estimates.cpu_seconds.value_or(1.0);
    } catch (const std::exception& e) {
      job.bad_cost = what + " could not be computed: the cost function threw: " + e.what();
      return job;
    }
    if (!std::isfinite(job.cost) || job.cost < 0)
      job.bad_cost = what + " is " + number_text(job.cost) + " (it must be a finite number >= 0)";
    return job;
  }

  // [0, 1) from 53 bits of one draw: the same on every standard library,
  // which std::uniform_real_distribution is not.
  double uniform_locked() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

  void push_locked(double time, EventKind kind, std::size_t worker, std::uint64_t run = 0) {
    queue_.push(Event{time, kind, next_seq_++, worker, run});
  }

  void schedule_transition_locked(std::size_t i) {
    const WorkerState& w = workers_[i];
    if (w.next_transition >= w.transitions.size()) return;
    const Transition& t = w.transitions[w.next_transition];
    push_locked(t.time, t.up ? EventKind::up : EventKind::down, i);
  }

  // --- placement ---

  double duration_on(const WorkerState& w, const Job& job) const {
    return job.bad_cost.empty() ? job.cost / w.speed : 0.0;
  }

  // Whether worker a suits `job` better than worker b (a has the higher index,
  // so ties stay with b). `job` is null when only "is any worker free" matters.
  bool better(const WorkerState& a, const WorkerState& b, const Job* job) const {
    switch (policy_) {
      case SimPolicy::fifo:
        return a.idle_since < b.idle_since;
      case SimPolicy::fastest_worker_first:
        return a.speed > b.speed;
      case SimPolicy::earliest_completion: {
        if (!job) return a.speed > b.speed;
        const double end_a = clock_ + duration_on(a, *job), end_b = clock_ + duration_on(b, *job);
        const bool cut_a = a.next_down() < end_a, cut_b = b.next_down() < end_b;
        return std::tie(cut_a, end_a) < std::tie(cut_b, end_b);
      }
    }
    return false;
  }

  std::optional<std::size_t> choose_locked(const Job* job) const {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (!workers_[i].free_and_up()) continue;
      if (!best || better(workers_[i], workers_[*best], job)) best = i;
    }
    return best;
  }

  void start_run_locked(std::size_t i, Job job) {
    WorkerState& w = workers_[i];
    w.run_start = clock_;
    w.run_duration = duration_on(w, job);
    w.run_fails = !job.bad_cost.empty() || uniform_locked() < w.failure_rate;
    w.job = std::move(job);
    ++w.run;
    push_locked(clock_ + w.run_duration, EventKind::completion, i, w.run);
  }

  // Free workers take interrupted (and lapsed) tasks before the master hears of them.
  void serve_pending_locked() {
    while (!pending_.empty()) {
      auto w = choose_locked(&pending_.front());
      if (!w) return;
      Job job = std::move(pending_.front());
      pending_.pop_front();
      start_run_locked(*w, std::move(job));
    }
  }

  // A run stops before completing (cut off or cancelled): its time was spent.
  void end_run_early_locked(WorkerState& w) {
    w.busy_seconds += clock_ - w.run_start;
    last_end_ = std::max(last_end_, clock_);
    ++w.run;  // its completion event is stale now
    w.job.reset();
  }

  // --- the clock ---

  // Whether the next instant can matter to a program that waits.
  bool worth_advancing_locked() const {
    if (queue_.empty()) return false;
    if (std::any_of(workers_.begin(), workers_.end(), [](const WorkerState& w) { return w.job.has_value(); }))
      return true;
    // Nothing runs. A free worker then means the master has nothing to give it;
    // otherwise every worker is down and only one coming up can help.
    if (std::any_of(workers_.begin(), workers_.end(), [](const WorkerState& w) { return w.free_and_up(); }))
      return false;
    return std::any_of(workers_.begin(), workers_.end(),
                       [](const WorkerState& w) { return w.comes_up_later(); });
  }

  // Instants one after the other until one has news for the master.
  Step advance_locked() {
    Step step;
    while (worth_advancing_locked()) {
      clock_ = queue_.top().time;
      std::vector<bool> freed(workers_.size(), false);
      while (!queue_.empty() && queue_.top().time == clock_) {
        const Event e = queue_.top();
        queue_.pop();
        apply_locked(e, step, freed);
      }
      serve_pending_locked();
      for (std::size_t i = 0; i < workers_.size(); ++i)
        if (freed[i] && workers_[i].free_and_up()) step.worker_free = true;
      if (!step.empty()) return step;
    }
    strand_pending_locked(step);
    return step;
  }

  void apply_locked(const Event& e, Step& step, std::vector<bool>& freed) {
    WorkerState& w = workers_[e.worker];
    switch (e.kind) {
      case EventKind::completion:
        if (!w.job || w.run != e.run) return;  // cut off or cancelled meanwhile
        step.finished.push_back(complete_run_locked(w));
        freed[e.worker] = true;
        return;
      case EventKind::down:
        w.up = false;
        ++w.next_transition;
        schedule_transition_locked(e.worker);
        if (w.job) {
          ++interruptions_;
          Job job = std::move(*w.job);
          end_run_early_locked(w);
          pending_.push_back(std::move(job));  // behind earlier re-runs, ahead of the master's queue
        }
        return;
      case EventKind::up:
        w.up = true;
        w.idle_since = clock_;
        ++w.next_transition;
        schedule_transition_locked(e.worker);
        freed[e.worker] = true;
        return;
    }
  }

  Delivery complete_run_locked(WorkerState& w) {
    Job job = std::move(*w.job);
    w.job.reset();
    w.idle_since = clock_;
    w.busy_seconds += w.run_duration;
    ++w.tasks_done;
    last_end_ = std::max(last_end_, clock_);
    if (w.run_fails) ++failures_;
    schedule_.push_back({job.task->id, w.name, w.run_start, clock_, !w.run_fails});

    Delivery d;
    d.schedule_index = schedule_.size() - 1;
    d.outcome.wall_seconds = d.outcome.cpu_seconds = w.run_duration;
    d.outcome.worker = w.name;
    if (!job.bad_cost.empty()) {
      d.outcome.status = ResultStatus::rejected;
      d.outcome.reason = job.bad_cost;
    } else if (w.run_fails) {
      d.outcome.status = ResultStatus::nonzero_exit;
      d.outcome.exit_code = 1;
      d.outcome.reason = "simulated failure on worker " + w.name + " at t=" + number_text(clock_) + " s";
    } else {
      d.call = call_functions_ && job.task->kind == TaskSpec::Kind::function;
    }
    d.task = std::move(job.task);
    return d;
  }

  // Tasks waiting for a worker when no worker will ever be up again: fail them
  // rather than leave the program waiting forever.
  void strand_pending_locked(Step& step) {
    for (auto& job : pending_) {
      Delivery d;
      d.outcome.status = ResultStatus::nonzero_exit;
      d.outcome.reason = "simulator: no worker will be up again to run task " +
                         std::to_string(job.task->id) + " (at t=" + number_text(clock_) + " s)";
      d.task = std::move(job.task);
      step.finished.push_back(std::move(d));
    }
    pending_.clear();
  }

  // Outside mu_ (the functions are user code, the events the master's).
  void deliver(Step& step) {
    std::vector<std::size_t> failed_calls;
    for (auto& d : step.finished)
      if (d.call && !call_function(d)) failed_calls.push_back(*d.schedule_index);
    if (!failed_calls.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto i : failed_calls) schedule_[i].ok = false;
      failures_ += failed_calls.size();
    }
    for (auto& d : step.finished) events_->task_finished(d.task->id, std::move(d.outcome));
    if (step.worker_free) events_->worker_available();
  }

  // Puts the function's value, or its failure, into the outcome; false if it failed.
  static bool call_function(Delivery& d) {
    const std::string& name = d.task->function;
    std::string message;
    if (const detail::TaskInvoker* invoker = detail::find_task_function(name)) {
      try {
        d.outcome.value = (*invoker)(d.task->args);
        return true;
      } catch (const std::exception& e) {
        message = "function " + name + " threw: " + e.what();
      } catch (...) {
        message = "function " + name + " threw an exception that is not a std::exception";
      }
    } else {
      message = not_registered(name);
    }
    d.outcome.status = ResultStatus::nonzero_exit;
    d.outcome.reason = std::move(message);
    return false;
  }

  // --- figures ---

  double makespan_locked() const {
    return first_dispatch_ && last_end_ > *first_dispatch_ ? last_end_ - *first_dispatch_ : 0.0;
  }

  // Busy time over the time workers were up between the first dispatch and the last end.
  double utilisation_locked() const {
    if (!first_dispatch_ || !(last_end_ > *first_dispatch_)) return 0;
    const double from = *first_dispatch_, to = last_end_;
    double available = 0, busy = 0;
    for (const auto& w : workers_) {
      busy += w.busy_seconds;
      if (w.periods.empty()) available += to - from;
      for (const auto& [start, end] : w.periods)
        available += std::max(0.0, std::min(end, to) - std::max(start, from));
    }
    return available > 0 ? busy / available : 0;
  }

  // Fixed at construction.
  const std::function<double(const TaskSpec&)> cost_;
  const SimPolicy policy_;
  const bool call_functions_;

  mutable std::mutex advance_mu_;
  mutable std::mutex mu_;
  InterfaceEvents* events_ = nullptr;
  bool stopped_ = false;
  std::mt19937_64 rng_;
  std::vector<WorkerState> workers_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::uint64_t next_seq_ = 0;
  double clock_ = 0;
  std::deque<Job> pending_;  // interrupted (or lapsed) tasks, served before the master's
  std::optional<double> first_dispatch_;
  double last_end_ = -kForever;
  std::uint64_t interruptions_ = 0;
  std::uint64_t failures_ = 0;
  std::vector<SimReport::Run> schedule_;
};

// The checked state of every worker at t=0.
std::vector<WorkerState> make_workers(const std::vector<SimWorker>& config) {
  if (config.empty()) throw Error(Errc::usage, "Simulator: workers is empty (it needs at least one worker)");
  std::vector<WorkerState> workers;
  for (std::size_t i = 0; i < config.size(); ++i) {
    const SimWorker& c = config[i];
    WorkerState w;
    w.name = c.name.empty() ? "worker_" + std::to_string(i) : c.name;
    const std::string label = worker_label(w.name, i);
    for (const auto& other : workers)
      if (other.name == w.name) throw Error(Errc::usage, label + ": name is used by another worker too");
    if (!(c.speed > 0) || !std::isfinite(c.speed))
      throw Error(Errc::usage, label + ": speed must be a finite number > 0, got " + number_text(c.speed));
    if (!(c.failure_rate >= 0 && c.failure_rate <= 1))
      throw Error(Errc::usage, label + ": failure_rate must be in [0, 1], got " + number_text(c.failure_rate));
    w.speed = c.speed;
    w.failure_rate = c.failure_rate;
    w.periods = checked_periods(c.availability, label);
    // The clock starts at 0: periods before it only say whether the worker starts up.
    w.up = w.periods.empty();
    for (const auto& [start, end] : w.periods) {
      if (start <= 0 && 0 < end) w.up = true;
      if (start > 0) w.transitions.push_back({start, true});
      if (end > 0 && end < kForever) w.transitions.push_back({end, false});
    }
    workers.push_back(std::move(w));
  }
  return workers;
}

}  // namespace

std::unique_ptr<Interface> Simulator::make_interface() const {
  return std::make_unique<SimInterface>(*this, make_workers(workers));
}

SimReport simulation_report(const Interface& interface) {
  const auto* sim = dynamic_cast<const SimInterface*>(&interface);
  if (!sim)
    throw Error(Errc::usage, "simulation_report: the interface is '" + interface.name() +
                                 "', not one made by mw::Simulator::make_interface");
  return sim->report();
}

}  // namespace mw
