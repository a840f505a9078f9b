#include "mw/master.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "master/double_run.h"
#include "master/journal.h"
#include "master/task_fingerprint.h"
#include "mw/hash.h"
#include "mw/log.h"
#include "mw/multicore.h"
#include "mw/worker.h"
#ifdef MW_WITH_STATUS_SERVER
#include "status/http_status_server.h"
#include "status/master_status.h"
#endif

namespace mw {
namespace {

enum class TaskState : std::uint8_t { waiting, running, finished, delivered, cancelled };

// One per submitted task, indexed by id - 1. Kept small: a master may hold a
// million of them; the spec is dropped as soon as the task has finished.
struct TaskRecord {
  std::shared_ptr<const TaskSpec> spec;
  std::unique_ptr<Outcome> outcome;
  TaskState state = TaskState::waiting;
};

// An exec task's program named without a slash is looked up on PATH now, in
// the master, so the task says exactly which file runs.
std::string resolve_program(const std::string& program) {
  if (program.empty()) throw Error(Errc::usage, "Exec: the program is empty");
  if (program.find('/') != std::string::npos) {
    if (program[0] == '/') return program;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) throw Error(Errc::system, "cannot read the current directory");
    return std::string(cwd) + "/" + program;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw Error(Errc::usage, "Exec: program '" + program + "' was not found on PATH");
}

class ProgressBar {
 public:
  void draw(const Progress& p, bool final) {
    auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const int width = 30;
    int filled = p.submitted ? static_cast<int>(width * p.finished / p.submitted) : 0;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    char eta[32] = "?";
    if (p.eta_seconds >= 0 && p.eta_seconds < 10) std::snprintf(eta, sizeof eta, "%.1fs", p.eta_seconds);
    else if (p.eta_seconds >= 10)
      std::snprintf(eta, sizeof eta, "%ldm%02lds", static_cast<long>(p.eta_seconds) / 60,
                    static_cast<long>(p.eta_seconds) % 60);
    char line[160];
    std::snprintf(line, sizeof line, "\r[%s] %llu/%llu  %.1f tasks/s  ETA %s   ", bar.c_str(),
                  static_cast<unsigned long long>(p.finished),
                  static_cast<unsigned long long>(p.submitted), p.rate_per_second, eta);
    std::fputs(line, stderr);
    if (final) std::fputs("\n", stderr);
    std::fflush(stderr);
  }

 private:
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

struct Master::State : InterfaceEvents {
  MasterOptions options;
  std::unique_ptr<Interface> iface;
  std::unique_ptr<detail::Journal> journal;

  mutable std::mutex mu;
  std::condition_variable results_cv;   // a task finished
  std::condition_variable space_cv;     // the waiting queue shrank (back-pressure)
  std::condition_variable dispatch_cv;  // something to dispatch, or a worker may be free
  std::deque<TaskRecord> records;
  std::deque<std::uint64_t> waiting;
  std::deque<std::uint64_t> finished_order;
  bool wake_dispatcher = false;
  bool stopping = false;
  Status counts;

  std::mutex dispatch_mu;  // one dispatcher at a time: the thread, or a waiting get_result
  std::thread dispatcher;

  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  ProgressBar bar;
  bool bar_enabled = false;

#ifdef MW_WITH_STATUS_SERVER
  // Declared last, destroyed first: the server's callbacks read everything above.
  std::unique_ptr<status::MasterStatusBoard> board;
  std::unique_ptr<status::HttpStatusServer> server;

  status::MasterSnapshot snapshot(bool with_interface) const {
    status::MasterSnapshot out;
    {
      std::lock_guard<std::mutex> lock(mu);
      out.status = counts;
      out.progress = make_progress_locked(0, 0);
    }
    if (with_interface) out.status.details = iface->status();
    return out;
  }
#endif

  TaskRecord& record(std::uint64_t id) { return records[id - 1]; }
  bool known(std::uint64_t id) const { return id >= 1 && id <= records.size(); }

  // --- InterfaceEvents ---------------------------------------------------
  void task_finished(std::uint64_t id, Outcome outcome) override {
    Progress progress;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!known(id) || record(id).state != TaskState::running) return;  // cancelled meanwhile
      // Counting this task, which is published below.
      progress = make_progress_locked(1, outcome.status != ResultStatus::success ? 1 : 0);
    }
    if (mw::log_enabled(LogLevel::debug))
      mw::log(LogLevel::debug, "mw master: task " + std::to_string(id) + " " + to_string(outcome.status) +
                                   (outcome.reason.empty() ? "" : ": " + outcome.reason));
    // The callback runs before the result can be delivered, so a program that
    // has its result has also seen the progress that includes it.
    report_progress(progress);
    {
      std::lock_guard<std::mutex> lock(mu);
      TaskRecord& r = record(id);
      if (r.state != TaskState::running) return;  // cancelled during the callback
      if (journal) journal->finished(id, outcome);
#ifdef MW_WITH_STATUS_SERVER
      if (board) board->task_finished(id, r.spec ? r.spec->name : std::string(), outcome);
#endif
      if (outcome.status != ResultStatus::success) ++counts.failed;
      r.outcome = std::make_unique<Outcome>(std::move(outcome));
      r.state = TaskState::finished;
      r.spec.reset();
      --counts.running;
      ++counts.finished;
      finished_order.push_back(id);
    }
    results_cv.notify_all();
  }

  void worker_available() override {
    {
      std::lock_guard<std::mutex> lock(mu);
      wake_dispatcher = true;
    }
    dispatch_cv.notify_one();
  }

  // --- dispatching --------------------------------------------------------
  // Hands waiting tasks to free workers until one or the other runs out.
  void dispatch_all() {
    std::lock_guard<std::mutex> one_at_a_time(dispatch_mu);
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        while (!waiting.empty() && record(waiting.front()).state != TaskState::waiting)
          waiting.pop_front();  // cancelled while waiting
        if (waiting.empty() || stopping) return;
      }
      std::optional<WorkerId> worker = iface->reserve_worker();
      if (!worker) return;
      std::shared_ptr<const TaskSpec> spec;
      std::uint64_t id = 0;
      {
        std::lock_guard<std::mutex> lock(mu);
        // Only this function pops, so the front is still the task seen above
        // unless it was cancelled meanwhile; then take the next one.
        while (!waiting.empty() && record(waiting.front()).state != TaskState::waiting)
          waiting.pop_front();
        if (waiting.empty()) return;  // the reservation lapses with the next reserve_worker
        id = waiting.front();
        waiting.pop_front();
        TaskRecord& r = record(id);
        r.state = TaskState::running;
        spec = r.spec;
        --counts.waiting;
        ++counts.running;
      }
      space_cv.notify_all();
      iface->execute_task(*worker, std::move(spec));
    }
  }

  void dispatcher_loop() {
    for (;;) {
      dispatch_all();
      std::unique_lock<std::mutex> lock(mu);
      dispatch_cv.wait(lock, [&] { return stopping || wake_dispatcher; });
      if (stopping) return;
      wake_dispatcher = false;
    }
  }

  // Waits until `ready()` holds (called with `lock` held), letting an interface
  // with its own clock advance while the program waits.
  template <typename Pred>
  void wait_for(std::unique_lock<std::mutex>& lock, Pred ready) {
    while (!ready()) {
      lock.unlock();
      dispatch_all();
      bool progressed = iface->on_master_waiting();
      lock.lock();
      if (!progressed && !ready()) results_cv.wait_for(lock, std::chrono::milliseconds(200));
    }
  }

  // --- progress ------------------------------------------------------------
  Progress make_progress_locked(std::uint64_t extra_finished, std::uint64_t extra_failed) const {
    auto now = std::chrono::steady_clock::now();
    Progress p;
    p.submitted = records.size();
    p.finished = counts.finished + counts.delivered + counts.cancelled + extra_finished;
    p.failed = counts.failed + extra_failed;
    p.elapsed_seconds = std::chrono::duration<double>(now - started).count();
    if (p.elapsed_seconds > 0) p.rate_per_second = static_cast<double>(p.finished) / p.elapsed_seconds;
    p.eta_seconds = p.rate_per_second > 0
                        ? static_cast<double>(p.submitted - p.finished) / p.rate_per_second
                        : -1;
    return p;
  }

  void report_progress(const Progress& p) {
    if (options.on_progress) options.on_progress(p);
    if (bar_enabled) bar.draw(p, p.finished == p.submitted);
  }

  // --- delivery ------------------------------------------------------------
  // Marks `id` delivered and returns its result, or throws what it stands for.
  Result deliver_locked(std::uint64_t id) {
    TaskRecord& r = record(id);
    r.state = TaskState::delivered;
    --counts.finished;
    ++counts.delivered;
    if (journal) journal->delivered(id);
    Outcome outcome = std::move(*r.outcome);
    r.outcome.reset();
    if (outcome.status != ResultStatus::success)
      throw TaskFailed(Task{id}, "task_" + std::to_string(id), std::move(outcome));
    return Result(Task{id}, std::move(outcome));
  }

  void pop_delivered_from_order() {
    while (!finished_order.empty() && record(finished_order.front()).state != TaskState::finished)
      finished_order.pop_front();
  }
};

Master::Master() : Master(Multicore{}.make_interface()) {}

Master::Master(MasterOptions options) : Master(Multicore{}.make_interface(), std::move(options)) {}

Master::Master(std::unique_ptr<Interface> interface, MasterOptions options)
    : state_(std::make_unique<State>()) {
  if (!interface) throw Error(Errc::usage, "Master needs an interface");
  state_->options = std::move(options);
  if (state_->options.double_run)
    interface = detail::make_double_run_interface(std::move(interface), *state_->options.double_run,
                                                  state_->options.on_double_run_mismatch);
  state_->iface = std::move(interface);
  state_->counts.interface = state_->iface->name();
  state_->bar_enabled = state_->options.progress_bar && isatty(STDERR_FILENO);
  if (!state_->options.work_dir.empty()) {
    state_->journal = std::make_unique<detail::Journal>(state_->options.work_dir);
    state_->iface->use_work_dir(state_->options.work_dir);
  }
  state_->iface->start(*state_);
  mw::log(LogLevel::debug, "mw master: started on the " + state_->counts.interface + " interface" +
                               (state_->options.work_dir.empty() ? "" : ", journal in " + state_->options.work_dir));
  if (!state_->options.status_listen.empty()) start_status_server();
  state_->dispatcher = std::thread([s = state_.get()] { s->dispatcher_loop(); });
}

Master::~Master() {
#ifdef MW_WITH_STATUS_SERVER
  state_->server.reset();  // no request reads the master while it goes
  state_->board.reset();
#endif
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
  }
  state_->dispatch_cv.notify_all();
  state_->space_cv.notify_all();
  if (state_->dispatcher.joinable()) state_->dispatcher.join();
  state_->iface->shutdown();
}

void Master::start_status_server() {
#ifdef MW_WITH_STATUS_SERVER
  State& s = *state_;
  s.board = std::make_unique<status::MasterStatusBoard>(
      [&s](bool with_interface) { return s.snapshot(with_interface); });
  status::Routes routes;
  routes.page_html = [] { return status::MasterStatusBoard::page_html(); };
  routes.status_json = [&s] { return s.board->status_json(); };
  routes.metrics = [&s] { return s.board->metrics(); };
  status::HttpServerOptions http;
  http.listen = s.options.status_listen;
  http.token = s.options.status_token;
  try {
    s.server = std::make_unique<status::HttpStatusServer>(std::move(http), std::move(routes));
  } catch (...) {
    s.board.reset();
    s.iface->shutdown();
    throw;
  }
#else
  state_->iface->shutdown();
  throw Error(Errc::usage, "MasterOptions::status_listen '" + state_->options.status_listen +
                               "': this mwkit was built without the status server "
                               "(MW_WITH_STATUS_SERVER=OFF)");
#endif
}

std::string Master::status_address() const {
#ifdef MW_WITH_STATUS_SERVER
  if (state_->server) return state_->server->bound_address();
#endif
  return "";
}

Task Master::submit(TaskSpec spec) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  if (s.options.max_waiting > 0)
    s.space_cv.wait(lock, [&] { return s.stopping || s.counts.waiting < s.options.max_waiting; });
  const std::uint64_t id = s.records.size() + 1;
  spec.id = id;
  if (spec.name.empty()) spec.name = "task_" + std::to_string(id);
  if (mw::log_enabled(LogLevel::trace))
    mw::log(LogLevel::trace, "mw master: task " + std::to_string(id) + " '" + spec.name + "' submitted");
  s.records.emplace_back();
  TaskRecord& r = s.records.back();
  if (s.journal) {
    if (auto past = s.journal->submit(id, detail::task_fingerprint(spec))) {
      using JS = detail::Journal::State;
      if (past->state == JS::finished || past->state == JS::delivered) {
        ++s.counts.from_journal;
        if (past->outcome && past->outcome->status != ResultStatus::success) ++s.counts.failed;
        if (past->state == JS::delivered) {
          r.state = TaskState::delivered;
          ++s.counts.delivered;
        } else {
          r.outcome = std::make_unique<Outcome>(std::move(*past->outcome));
          r.state = TaskState::finished;
          ++s.counts.finished;
          s.finished_order.push_back(id);
        }
        lock.unlock();
        s.results_cv.notify_all();
        return Task{id};
      }
      // Submitted or cancelled before: run it (again).
    }
  }
  r.spec = std::make_shared<const TaskSpec>(std::move(spec));
  s.waiting.push_back(id);
  ++s.counts.waiting;
  s.wake_dispatcher = true;
  lock.unlock();
  s.dispatch_cv.notify_one();
  return Task{id};
}

namespace detail {

void throw_argument_out_of_range(const char* function, std::size_t position,
                                 const std::string& value, const std::string& type) {
  throw Error(Errc::usage, std::string("submit ") + function + ": argument " +
                               std::to_string(position) + " is " + value +
                               ", which does not fit its parameter's type " + type);
}

}  // namespace detail

namespace {

// What can be checked before a function task goes to a worker: when this
// program registered the function, its parameters against mw::args' types
// (the worker can only report the first read that goes wrong); when the
// workers run this very program, that the name is registered at all.
void check_function_task(const Function& function, const Args& arguments, const Interface& iface) {
  const std::vector<const std::type_info*>* parameters = detail::find_task_parameters(function.name);
  if (!parameters) {
    if (iface.runs_this_program() && !detail::find_task_function(function.name))
      throw Error(Errc::usage, "submit_task: no function named '" + function.name +
                                   "' is registered in this program (MW_TASK(" + function.name +
                                   ") missing?); registered: " + detail::registered_task_names());
    return;
  }
  if (arguments.types.empty()) return;  // bytes made without mw::args: nothing to compare
  const auto signature = [&] {
    std::string s = function.name + "(";
    for (std::size_t i = 0; i < parameters->size(); ++i)
      s += (i ? ", " : "") + detail::type_name(*(*parameters)[i]);
    return s + ")";
  };
  if (arguments.types.size() != parameters->size())
    throw Error(Errc::usage, "submit_task: " + signature() + " takes " +
                                 std::to_string(parameters->size()) + " argument(s), mw::args has " +
                                 std::to_string(arguments.types.size()));
  for (std::size_t i = 0; i < parameters->size(); ++i)
    if (*arguments.types[i] != *(*parameters)[i])
      throw Error(Errc::usage, "submit_task: argument " + std::to_string(i + 1) + " of " +
                                   signature() + " is " + detail::type_name(*arguments.types[i]) +
                                   ", the parameter is " + detail::type_name(*(*parameters)[i]) +
                                   " (the encoding carries no types: pass exactly " +
                                   detail::type_name(*(*parameters)[i]) + ", or submit through mw_task_" +
                                   function.name + ", which converts)");
}

}  // namespace

Task Master::submit_task(const Function& function, const Args& arguments, TaskOptions options) {
  check_function_task(function, arguments, *state_->iface);
  TaskSpec spec;
  spec.kind = TaskSpec::Kind::function;
  spec.name = std::move(options.name);
  spec.function = function.name;
  spec.args = arguments.bytes;
  spec.limits = options.limits;
  spec.estimates = options.estimates;
  return submit(std::move(spec));
}

Task Master::submit_task(const Exec& exec, TaskOptions options) {
  TaskSpec spec;
  spec.kind = TaskSpec::Kind::exec;
  spec.name = std::move(options.name);
  spec.program = resolve_program(exec.program_);
  spec.arguments = exec.arguments_;
  for (const auto& in : exec.inputs_) spec.inputs.push_back({in.name, in.path, in.bytes});
  spec.outputs = exec.outputs_;
  spec.ship_program = exec.ship_program_;
  spec.env = exec.env_;
  spec.limits = options.limits;
  spec.estimates = options.estimates;
  return submit(std::move(spec));
}

Finished Master::get_result() {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.wait_for(lock, [&] {
    s.pop_delivered_from_order();
    return !s.finished_order.empty() || (s.counts.waiting == 0 && s.counts.running == 0);
  });
  if (s.finished_order.empty())
    throw Error(Errc::unknown_task, "get_result: no task is outstanding (all were delivered or cancelled)");
  std::uint64_t id = s.finished_order.front();
  s.finished_order.pop_front();
  return Finished{Task{id}, s.deliver_locked(id)};
}

std::optional<Finished> Master::try_get_result() {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.pop_delivered_from_order();
  if (s.finished_order.empty()) return std::nullopt;
  std::uint64_t id = s.finished_order.front();
  s.finished_order.pop_front();
  return Finished{Task{id}, s.deliver_locked(id)};
}

Result Master::get_result(Task task) { return *get_result(task, true); }

std::optional<Result> Master::get_result(Task task, bool blocking) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  if (!s.known(task.id))
    throw Error(Errc::unknown_task, "task " + std::to_string(task.id) + " was never submitted to this master");
  auto state = [&] { return s.record(task.id).state; };
  if (state() == TaskState::delivered)
    throw Error(Errc::unknown_task, "task " + std::to_string(task.id) + "'s result was already delivered");
  auto done = [&] { return state() != TaskState::waiting && state() != TaskState::running; };
  if (!done()) {
    if (!blocking) return std::nullopt;
    s.wait_for(lock, done);
  }
  if (state() == TaskState::cancelled)
    throw Error(Errc::cancelled, "task " + std::to_string(task.id) + " was cancelled");
  if (state() == TaskState::delivered)  // another thread took it while we waited
    throw Error(Errc::unknown_task, "task " + std::to_string(task.id) + "'s result was already delivered");
  return s.deliver_locked(task.id);
}

void Master::each_worker(const Function& function, const Args& arguments) {
  state_->iface->each_worker(function, arguments);
}

bool Master::cancel(Task task) {
  State& s = *state_;
  bool was_running = false;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.known(task.id)) return false;
    TaskRecord& r = s.record(task.id);
    if (r.state == TaskState::waiting) {
      --s.counts.waiting;
    } else if (r.state == TaskState::running) {
      --s.counts.running;
      was_running = true;
    } else {
      return false;
    }
    r.state = TaskState::cancelled;
    r.spec.reset();
    ++s.counts.cancelled;
    if (s.journal) s.journal->cancelled(task.id);
  }
  if (was_running) s.iface->cancel_task(task.id);
  s.results_cv.notify_all();
  s.space_cv.notify_all();
  return true;
}

std::size_t Master::cancel_all() {
  std::vector<std::uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (std::uint64_t id = 1; id <= state_->records.size(); ++id) {
      auto st = state_->record(id).state;
      if (st == TaskState::waiting || st == TaskState::running) ids.push_back(id);
    }
  }
  std::size_t n = 0;
  for (auto id : ids) n += cancel(Task{id}) ? 1 : 0;
  return n;
}

Status Master::status() const {
  Status out;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    out = state_->counts;
  }
  out.details = state_->iface->status();
  return out;
}

}  // namespace mw
