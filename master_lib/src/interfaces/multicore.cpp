// The multicore interface: N worker slots on this machine.
//
// Each slot runs function tasks in one persistent worker process (this program
// again, with --mw-worker), fed over a pipe with up to kPipelineDepth calls in
// flight so the worker never waits for the master between tasks; and it runs
// exec tasks one process each, through the runner's process layer. One reader
// thread per slot takes answers and the worker's printed output; one watchdog
// thread enforces function tasks' limits by killing the worker, which is then
// replaced. A dead worker fails only the call it was running: the calls queued
// behind it are sent again to its replacement.
#include "mw/multicore.h"
#include "mw/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "master/frames.h"
#include "mw/error.h"
#include "mw/values.h"
#include "runner/containment.h"
#include "runner/process.h"
#include "runner/task_ending.h"
#include "util/fs.h"
#include "util/termination.h"

namespace mw {
namespace {

using namespace detail;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kPipelineDepth = 2;
// each_worker calls travel on the same pipe as tasks, with ids from here up.
constexpr std::uint64_t kInitIdBase = 1ULL << 62;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string tail_of(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

void append_capped_tail(std::string& buffer, const char* data, std::size_t n, std::size_t cap) {
  buffer.append(data, n);
  if (buffer.size() > cap * 2) buffer.erase(0, buffer.size() - cap);
}

// CPU seconds used so far by process `pid` (from /proc; 0 if it is gone).
double process_cpu_seconds(pid_t pid) {
  std::string stat;
  try {
    stat = read_file("/proc/" + std::to_string(pid) + "/stat", 1 << 16);
  } catch (const Error&) {
    return 0;
  }
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  const char* p = stat.c_str() + close_paren + 2;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return 0;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::uint64_t process_rss_bytes(pid_t pid) {
  std::string statm;
  try {
    statm = read_file("/proc/" + std::to_string(pid) + "/statm", 4096);
  } catch (const Error&) {
    return 0;
  }
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(statm.c_str(), "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

void copy_file(const std::string& from, const std::string& to, unsigned mode) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw Error(Errc::io, "cannot read task input '" + from + "': " + errno_text(errno));
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (out < 0) {
    int err = errno;
    ::close(in);
    throw Error(Errc::io, "cannot create '" + to + "': " + errno_text(err));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buf + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int err = errno;
        ::close(in);
        ::close(out);
        throw Error(Errc::io, "cannot write '" + to + "': " + errno_text(err));
      }
      done += w;
    }
  }
  ::close(in);
  ::close(out);
}

// Removes everything inside `dir` (never following links), keeping `dir`.
void empty_directory(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  closedir(d);
  for (const auto& n : names) remove_tree(join_path(dir, n));
}

struct Inflight {
  std::uint64_t id = 0;
  std::shared_ptr<const TaskSpec> task;  // null for an each_worker call
  bool cancelled = false;
};

struct Slot {
  WorkerId id = 0;
  std::string name;

  // The persistent worker (function tasks).
  pid_t pid = -1;
  int to_worker = -1;
  int from_worker = -1;
  int output = -1;
  std::unique_ptr<FrameReader> reader;
  std::deque<Inflight> inflight;
  Clock::time_point head_started;
  double head_cpu_start = 0;
  std::optional<ResultStatus> kill_status;  // why the watchdog killed the worker
  std::string kill_reason;
  std::string pending_output;  // printed since the last answer
  std::string output_tail;
  std::uint64_t restarts = 0;

  // Exec tasks, one at a time.
  std::shared_ptr<const TaskSpec> exec_task;
  bool exec_running = false;
  bool exec_cancelled = false;
  int exec_pid = -1;
  std::condition_variable exec_cv;
  std::thread exec_thread;

  std::thread reader_thread;
  int wake_read = -1, wake_write = -1;  // wakes the reader for shutdown

  std::uint64_t tasks_done = 0;
  double busy_seconds = 0;
  Clock::time_point busy_since;

  // Exec tasks' working directory, made once and emptied after each task:
  // creating and removing a directory per task cost as much as the process.
  std::unique_ptr<TempDir> scratch;

  std::size_t load() const { return inflight.size() + (exec_running ? kPipelineDepth : 0); }
};

class MulticoreInterface final : public Interface {
 public:
  explicit MulticoreInterface(Multicore config) : config_(std::move(config)) {
    if (config_.workers == 0) config_.workers = std::max(1u, std::thread::hardware_concurrency());
    if (config_.worker_program.empty()) config_.worker_program = self_program_path();
    runs_this_program_ = config_.worker_program == self_program_path();
    if (config_.scratch_root.empty()) config_.scratch_root = default_temp_root();
    for (unsigned i = 0; i < config_.workers; ++i) {
      auto slot = std::make_unique<Slot>();
      slot->id = i;
      slot->name = "worker-" + std::to_string(i + 1);
      slots_.push_back(std::move(slot));
    }
  }

  ~MulticoreInterface() override { shutdown(); }

  std::string name() const override { return "multicore"; }
  bool runs_this_program() const override { return runs_this_program_; }

  void start(InterfaceEvents& events) override {
    events_ = &events;
    watchdog_ = std::thread([this] { watchdog_loop(); });
    // Ctrl-C or SIGTERM to the master: no worker computing on, no task tree,
    // no scratch directory left; then the master dies of the signal.
    termination_id_ = add_termination_cleanup([this](int) { shutdown(); });
  }

  std::optional<WorkerId> reserve_worker() override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t n = slots_.size();
    std::optional<WorkerId> best;
    std::size_t best_load = kPipelineDepth;
    for (std::size_t k = 0; k < n; ++k) {
      const Slot& s = *slots_[(next_ + k) % n];
      if (s.load() < best_load) {
        best = s.id;
        best_load = s.load();
        if (best_load == 0) break;
      }
    }
    if (best) next_ = (*best + 1) % n;
    return best;
  }

  void execute_task(WorkerId worker, std::shared_ptr<const TaskSpec> task) override {
    std::unique_lock<std::mutex> lock(mu_);
    Slot& s = *slots_.at(worker);
    if (task->kind == TaskSpec::Kind::exec) {
      s.exec_task = std::move(task);
      s.exec_running = true;
      s.exec_cancelled = false;
      if (!s.exec_thread.joinable()) s.exec_thread = std::thread([this, &s] { exec_loop(s); });
      s.exec_cv.notify_one();
      return;
    }
    if (s.pid < 0) start_worker_locked(s);
    if (s.inflight.empty()) begin_head_locked(s, task.get());
    const std::uint64_t id = task->id;
    s.inflight.push_back({id, task, false});
    send_call_locked(s, FrameType::call, id, task->function, task->args);
  }

  void cancel_task(std::uint64_t task_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& sp : slots_) {
      Slot& s = *sp;
      if (s.exec_task && s.exec_task->id == task_id) {
        s.exec_cancelled = true;
        if (s.exec_pid > 0) kill(-s.exec_pid, SIGKILL);
        return;
      }
      for (std::size_t i = 0; i < s.inflight.size(); ++i) {
        if (s.inflight[i].id != task_id) continue;
        s.inflight[i].cancelled = true;
        // The running call can only be stopped with its worker; queued ones are
        // answered and dropped.
        if (i == 0 && s.pid > 0 && !s.kill_status) {
          s.kill_status = ResultStatus::signaled;
          s.kill_reason = "cancelled";
          kill(-s.pid, SIGKILL);
        }
        return;
      }
    }
  }

  void each_worker(const Function& function, const Args& arguments) override {
    std::vector<std::uint64_t> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      inits_.push_back({function.name, arguments.bytes});
      for (auto& sp : slots_) {
        Slot& s = *sp;
        if (s.pid < 0) {
          start_worker_locked(s);  // sends every init, this one included
          ids.push_back(next_init_id_ - 1);
        } else {
          ids.push_back(send_init_locked(s, inits_.back()));
        }
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    init_cv_.wait(lock, [&] {
      return stopping_ || std::all_of(ids.begin(), ids.end(),
                                      [&](std::uint64_t id) { return init_results_.count(id); });
    });
    for (auto id : ids) {
      auto it = init_results_.find(id);
      if (it != init_results_.end() && !it->second.first)
        throw Error(Errc::task_failed, "each_worker: " + function.name + " failed: " + it->second.second);
    }
  }

  InterfaceStatus status() const override {
    std::lock_guard<std::mutex> lock(mu_);
    InterfaceStatus st;
    std::uint64_t restarts = 0;
    for (const auto& sp : slots_) {
      const Slot& s = *sp;
      WorkerStatus w;
      w.name = s.name;
      w.tasks_done = s.tasks_done;
      w.busy_seconds = s.busy_seconds;
      if (s.exec_running && s.exec_task) w.task = s.exec_task->id;
      else if (!s.inflight.empty()) w.task = s.inflight.front().id;
      w.state = w.task ? "busy" : (s.pid > 0 ? "idle" : "idle (no worker process yet)");
      if (s.pid > 0) w.name += " (pid " + std::to_string(s.pid) + ")";
      restarts += s.restarts;
      st.workers.push_back(std::move(w));
    }
    st.details["workers"] = std::to_string(slots_.size());
    st.details["worker_program"] = config_.worker_program;
    st.details["worker_restarts"] = std::to_string(restarts);
    st.details["pipeline_depth"] = std::to_string(kPipelineDepth);
    return st;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = stopping_ = true;
      for (auto& sp : slots_) {
        Slot& s = *sp;
        if (s.pid > 0) kill(-s.pid, SIGKILL);
        if (s.exec_pid > 0) kill(-s.exec_pid, SIGKILL);
        if (s.wake_write >= 0) (void)!::write(s.wake_write, "x", 1);
        s.exec_cv.notify_all();
      }
    }
    init_cv_.notify_all();
    watchdog_cv_.notify_all();
    for (auto& sp : slots_) {
      if (sp->reader_thread.joinable()) sp->reader_thread.join();
      if (sp->exec_thread.joinable()) sp->exec_thread.join();
      close_worker_fds(*sp);
      if (sp->pid > 0) {
        waitpid(sp->pid, nullptr, 0);
        unregister_direct_child(sp->pid);
      }
      for (int fd : {sp->wake_read, sp->wake_write})
        if (fd >= 0) ::close(fd);
      sp->scratch.reset();
    }
    if (watchdog_.joinable()) watchdog_.join();
    if (termination_id_) remove_termination_cleanup(termination_id_);
  }

 private:
  bool runs_this_program_ = false;
  // --- worker processes -----------------------------------------------------
  void start_worker_locked(Slot& s) {
    int tasks[2], results[2], out[2];
    if (pipe2(tasks, O_CLOEXEC) != 0 || pipe2(results, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      throw Error(Errc::system, "cannot make pipes for a worker: " + errno_text(errno));
    if (s.wake_read < 0) {
      int wake[2];
      if (pipe2(wake, O_CLOEXEC) != 0) throw Error(Errc::system, "cannot make a pipe: " + errno_text(errno));
      s.wake_read = wake[0];
      s.wake_write = wake[1];
    }
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    const std::string program = config_.worker_program;
    const char* argv[] = {program.c_str(), "--mw-worker", nullptr};
    const bool die_with_parent = config_.die_with_parent;
    const pid_t parent = getpid();
    auto starting = hold_child_starts();  // until the worker is registered
    pid_t pid = fork();
    if (pid < 0) throw Error(Errc::system, "cannot fork a worker: " + errno_text(errno));
    if (pid == 0) {
      setpgid(0, 0);
      if (die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126);  // the parent died before prctl
      }
      int devnull = ::open("/dev/null", O_RDONLY);
      int t = fcntl(tasks[0], F_DUPFD, 10), r = fcntl(results[1], F_DUPFD, 10),
          o = fcntl(out[1], F_DUPFD, 10);
      if (devnull < 0 || t < 0 || r < 0 || o < 0) _exit(126);
      dup2(devnull, 0);
      dup2(o, 1);
      dup2(o, 2);
      dup2(t, 3);
      dup2(r, 4);
      // Nothing else of the master's leaks into the worker.
      if (close_range(5, ~0U, 0) != 0)
        for (int fd = 5; fd < 4096; ++fd) ::close(fd);
      execv(argv[0], const_cast<char* const*>(argv));
      const char msg[] = "mw worker: cannot execute the worker program\n";
      (void)!::write(2, msg, sizeof msg - 1);
      _exit(127);
    }
    setpgid(pid, pid);
    register_direct_child(pid);  // the subreaper's orphan sweep must leave it to us
    starting.unlock();
    ::close(tasks[0]);
    ::close(results[1]);
    ::close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    s.pid = pid;
    s.to_worker = tasks[1];
    s.from_worker = results[0];
    s.output = out[0];
    s.reader = std::make_unique<FrameReader>(s.from_worker);
    s.kill_status.reset();
    s.kill_reason.clear();
    s.output_tail.clear();
    s.pending_output.clear();
    if (!s.reader_thread.joinable()) s.reader_thread = std::thread([this, &s] { reader_loop(s); });
    for (const auto& init : inits_) send_init_locked(s, init);
    // The reader may be waiting for a worker to exist.
    (void)!::write(s.wake_write, "w", 1);
  }

  std::uint64_t send_init_locked(Slot& s, const std::pair<std::string, std::string>& init) {
    const std::uint64_t id = next_init_id_++;
    if (s.inflight.empty()) begin_head_locked(s, nullptr);
    s.inflight.push_back({id, nullptr, false});
    send_call_locked(s, FrameType::init, id, init.first, init.second);
    return id;
  }

  void send_call_locked(Slot& s, FrameType type, std::uint64_t id, const std::string& function,
                        const std::string& args) {
    try {
      write_frame(s.to_worker, type, encode_values(id, function, args));
    } catch (const Error&) {
      // The worker is gone; its reader sees the end of file and resends.
    }
  }

  void begin_head_locked(Slot& s, const TaskSpec* task) {
    s.head_started = Clock::now();
    s.head_cpu_start = (task && task->limits.cpu_seconds) ? process_cpu_seconds(s.pid) : 0;
  }

  void close_worker_fds(Slot& s) {
    for (int* fd : {&s.to_worker, &s.from_worker, &s.output}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  // --- the reader -------------------------------------------------------------
  void drain_output_locked(Slot& s) {
    char buf[1 << 15];
    for (;;) {
      ssize_t n = ::read(s.output, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      const auto len = static_cast<std::size_t>(n);
      if (s.pending_output.size() < config_.stdout_cap)
        s.pending_output.append(buf, std::min<std::size_t>(len, config_.stdout_cap - s.pending_output.size()));
      append_capped_tail(s.output_tail, buf, len, config_.stderr_cap);
    }
  }

  void reader_loop(Slot& s) {
    for (;;) {
      int from = -1, output = -1;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        from = s.from_worker;
        output = s.output;
      }
      pollfd fds[3] = {{s.wake_read, POLLIN, 0}, {from, POLLIN, 0}, {output, POLLIN, 0}};
      int nfds = from >= 0 ? 3 : 1;
      if (poll(fds, static_cast<nfds_t>(nfds), -1) < 0 && errno != EINTR) return;
      if (fds[0].revents) {
        char drain[64];
        (void)!::read(s.wake_read, drain, sizeof drain);
        continue;
      }
      if (nfds == 1) continue;
      if (fds[2].revents) {
        std::lock_guard<std::mutex> lock(mu_);
        drain_output_locked(s);
      }
      if (fds[1].revents) {
        bool alive = false;
        try {
          alive = s.reader->read_some();
        } catch (const Error&) {
          alive = false;
        }
        if (!alive) {
          worker_died(s);
          continue;
        }
        FrameType type;
        std::string payload;
        for (;;) {
          bool got = false;
          try {
            got = s.reader->pop(type, payload);
          } catch (const Error& e) {
            std::lock_guard<std::mutex> lock(mu_);
            if (s.pid > 0) kill(-s.pid, SIGKILL);  // a worker that speaks garbage is replaced
            break;
          }
          if (!got) break;
          if (type == FrameType::done) answer(s, payload);
        }
      }
    }
  }

  void answer(Slot& s, const std::string& payload) {
    std::uint64_t id = 0;
    bool ok = false;
    std::string value;
    double cpu = 0;
    try {
      std::tie(id, ok, value, cpu) =
          decode_values<std::tuple<std::uint64_t, bool, std::string, double>>(payload, "worker answer");
    } catch (const Error&) {
      std::lock_guard<std::mutex> lock(mu_);
      if (s.pid > 0) kill(-s.pid, SIGKILL);
      return;
    }
    Outcome outcome;
    Inflight done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (s.inflight.empty() || s.inflight.front().id != id) {
        if (s.pid > 0) kill(-s.pid, SIGKILL);  // out of order: the worker is confused
        return;
      }
      drain_output_locked(s);
      done = std::move(s.inflight.front());
      s.inflight.pop_front();
      const double wall = seconds_since(s.head_started);
      if (!s.inflight.empty()) begin_head_locked(s, s.inflight.front().task.get());
      if (!done.task) {
        init_results_[id] = {ok, value};
        init_cv_.notify_all();
        return;
      }
      ++s.tasks_done;
      s.busy_seconds += wall;
      outcome.status = ok ? ResultStatus::success : ResultStatus::nonzero_exit;
      if (ok) outcome.value = std::move(value);
      else outcome.reason = std::move(value);
      outcome.stdout_text = std::move(s.pending_output);
      s.pending_output.clear();
      if (!ok) outcome.stderr_tail = tail_of(outcome.stdout_text, 4096);
      outcome.cpu_seconds = cpu;
      outcome.wall_seconds = wall;
      outcome.worker = s.name;
    }
    if (!done.cancelled) events_->task_finished(id, std::move(outcome));
    events_->worker_available();
  }

  // The worker is gone: fail the call it was running, start a replacement and
  // send it the calls that were queued behind.
  void worker_died(Slot& s) {
    int wstatus = 0;
    pid_t pid = s.pid;
    if (pid > 0) {
      kill(-pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      unregister_direct_child(pid);
    }
    std::optional<Inflight> lost;
    Outcome outcome;
    {
      std::lock_guard<std::mutex> lock(mu_);
      drain_output_locked(s);
      close_worker_fds(s);
      s.pid = -1;
      if (stopping_) return;
      ++s.restarts;
      if (!s.inflight.empty()) {
        lost = std::move(s.inflight.front());
        s.inflight.pop_front();
      }
      outcome.worker = s.name;
      outcome.wall_seconds = seconds_since(s.head_started);
      outcome.stderr_tail = tail_of(s.output_tail, 4096);
      outcome.stdout_text = std::move(s.pending_output);
      if (s.kill_status) {
        outcome.status = *s.kill_status;
        outcome.reason = s.kill_reason;
      } else if (WIFSIGNALED(wstatus)) {
        outcome.status = ResultStatus::signaled;
        outcome.signal = WTERMSIG(wstatus);
        outcome.reason = "the worker process was killed by signal " + std::to_string(WTERMSIG(wstatus)) +
                         " (" + strsignal(WTERMSIG(wstatus)) + ") while running this task";
      } else {
        outcome.status = ResultStatus::nonzero_exit;
        outcome.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
        outcome.reason = "the worker process exited (code " + std::to_string(*outcome.exit_code) +
                         ") while running this task";
      }
      if (lost && !lost->task) {
        init_results_[lost->id] = {false, outcome.reason + (outcome.stderr_tail.empty() ? "" : ": " + outcome.stderr_tail)};
        init_cv_.notify_all();
      }
      std::deque<Inflight> queued = std::move(s.inflight);
      s.inflight.clear();
      if (!queued.empty() || !inits_.empty()) {
        try {
          start_worker_locked(s);
          for (auto& q : queued) {
            if (!q.task) continue;  // an init: start_worker_locked sent all of them again
            if (s.inflight.empty()) begin_head_locked(s, q.task.get());
            s.inflight.push_back(q);
            send_call_locked(s, FrameType::call, q.id, q.task->function, q.task->args);
          }
        } catch (const Error& e) {
          mw::log(mw::LogLevel::warning, "mw multicore: cannot restart " + s.name + ": " + e.what());
        }
      }
    }
    if (lost && lost->task && !lost->cancelled) events_->task_finished(lost->id, std::move(outcome));
    events_->worker_available();
  }

  // --- limits on function tasks -----------------------------------------------
  void watchdog_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    auto next_sweep = Clock::now();
    while (!stopping_) {
      watchdog_cv_.wait_for(lock, std::chrono::milliseconds(50));
      if (Clock::now() >= next_sweep) {
        // Processes of task trees that came back to us (the subreaper) and
        // ended between tasks: nobody else will reap them.
        next_sweep = Clock::now() + std::chrono::seconds(1);
        lock.unlock();
        reap_orphans();
        lock.lock();
      }
      for (auto& sp : slots_) {
        Slot& s = *sp;
        if (s.pid < 0 || s.inflight.empty() || s.kill_status || !s.inflight.front().task) continue;
        const Limits& l = s.inflight.front().task->limits;
        std::optional<ResultStatus> over;
        std::string why;
        if (l.wall_seconds && seconds_since(s.head_started) > *l.wall_seconds) {
          over = ResultStatus::wall_time_exceeded;
          why = "killed at its wall-time limit of " + std::to_string(*l.wall_seconds) + " s";
        } else if (l.memory_bytes && process_rss_bytes(s.pid) > *l.memory_bytes) {
          over = ResultStatus::memory_exceeded;
          why = "killed at its memory limit of " + std::to_string(*l.memory_bytes) + " bytes";
        } else if (l.cpu_seconds && process_cpu_seconds(s.pid) - s.head_cpu_start > *l.cpu_seconds) {
          over = ResultStatus::cpu_time_exceeded;
          why = "killed at its CPU-time limit of " + std::to_string(*l.cpu_seconds) + " s";
        }
        if (over) {
          s.kill_status = over;
          s.kill_reason = why;
          kill(-s.pid, SIGKILL);
        }
      }
    }
  }

  // --- exec tasks ---------------------------------------------------------------
  void exec_loop(Slot& s) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      s.exec_cv.wait(lock, [&] { return stopping_ || (s.exec_running && s.exec_task); });
      if (stopping_) return;
      std::shared_ptr<const TaskSpec> task = s.exec_task;
      lock.unlock();
      const auto started = Clock::now();
      Outcome outcome = run_exec(s, *task);
      lock.lock();
      // Killed by shutdown (e.g. the master got SIGTERM): not the task's doing,
      // so no result for it.
      const bool cancelled = s.exec_cancelled || stopping_;
      s.exec_running = false;
      s.exec_task.reset();
      s.exec_pid = -1;
      ++s.tasks_done;
      s.busy_seconds += seconds_since(started);
      lock.unlock();
      if (!cancelled) events_->task_finished(task->id, std::move(outcome));
      events_->worker_available();
      lock.lock();
    }
  }

  Outcome run_exec(Slot& s, const TaskSpec& task) {
    Outcome outcome;
    outcome.worker = s.name;
    if (!s.scratch) s.scratch = std::make_unique<TempDir>(config_.scratch_root, "mw-exec-");
    const std::string& dir = s.scratch->path();
    try {
      run_exec_in(dir, s, task, outcome);
    } catch (const Error& e) {
      outcome.status = ResultStatus::exec_failed;
      outcome.reason = e.what();
    }
    empty_directory(dir);
    return outcome;
  }

  void run_exec_in(const std::string& dir, Slot& s, const TaskSpec& task, Outcome& outcome) {
    {
      for (const auto& in : task.inputs) {
        const std::string dest = join_path(dir, in.name);
        if (in.path.empty()) write_file_atomic(dest, in.bytes);
        else copy_file(in.path, dest, 0644);
      }
      ProcessSpec spec;
      std::string program = task.program;
      if (task.ship_program) {
        const std::string name = base_name(task.program);
        copy_file(task.program, join_path(dir, name), 0755);
        program = "./" + name;
      }
      spec.argv.push_back(program);
      spec.argv.insert(spec.argv.end(), task.arguments.begin(), task.arguments.end());
      spec.cwd = dir;
      spec.limits.wall_seconds = task.limits.wall_seconds;
      spec.limits.cpu_seconds = task.limits.cpu_seconds;
      spec.limits.memory_bytes = task.limits.memory_bytes;
      watch_outputs(task.outputs, task.limits.disk_bytes, spec.limits);
      spec.stdout_cap = config_.stdout_cap;
      spec.stderr_cap = config_.stderr_cap;
      spec.clean_environment = true;
      for (const auto& var : task.env) spec.extra_env.push_back(var.name + "=" + var.value);
      spec.extra_env.push_back("MW_TASK_NAME=" + task.name);
      spec.on_started = [this, &s](int pid) {
        std::lock_guard<std::mutex> lock(mu_);
        s.exec_pid = pid;
        if (s.exec_cancelled) kill(-pid, SIGKILL);
      };
      ProcessOutcome run = run_process(spec);
      Ending ending = describe_ending(run, task.limits);
      outcome.status = ending.status;
      outcome.reason = ending.reason;
      outcome.exit_code = ending.exit_code;
      outcome.signal = ending.signal;
      outcome.cpu_seconds = run.cpu_seconds;
      outcome.wall_seconds = run.wall_seconds;
      outcome.stdout_text = std::move(run.stdout_data);
      outcome.stderr_tail = tail_of(run.stderr_data, 4096);
      if (outcome.status == ResultStatus::success) {
        CollectedOutputs outputs = collect_outputs(task.outputs, task.limits.disk_bytes, dir);
        outcome.status = outputs.status;
        outcome.reason = outputs.reason;
        for (const auto& f : outputs.files) outcome.outputs[f.name] = read_file(join_path(dir, f.name));
      }
    }
  }

  Multicore config_;
  InterfaceEvents* events_ = nullptr;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::size_t next_ = 0;
  std::vector<std::pair<std::string, std::string>> inits_;
  std::uint64_t next_init_id_ = kInitIdBase;
  std::map<std::uint64_t, std::pair<bool, std::string>> init_results_;
  std::condition_variable init_cv_;
  std::condition_variable watchdog_cv_;
  std::thread watchdog_;
  bool stopping_ = false;
  bool stopped_ = false;
  int termination_id_ = 0;
};

}  // namespace

std::unique_ptr<Interface> Multicore::make_interface() const {
  return std::make_unique<MulticoreInterface>(*this);
}

}  // namespace mw
