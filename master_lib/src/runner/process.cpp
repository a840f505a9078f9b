#include "runner/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mw/error.h"
#include "runner/containment.h"
#include "util/fs.h"

extern char** environ;

namespace mw::detail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long the parent keeps reading after the main child has exited and its
// group was killed. Only a process that escaped the group can hold the pipes
// open that long; we stop waiting for it.
constexpr milliseconds kDrainGrace{250};
// Upper bound on waiting for killed group members to disappear.
constexpr milliseconds kReapBudget{2000};
// Memory/CPU sampling: fast at first (short tasks, fast allocators), then slower.
constexpr milliseconds kFastSample{10};
constexpr milliseconds kSlowSample{50};
constexpr milliseconds kFastPhase{100};
// Without a pidfd the only way to notice the exit is to look again soon.
constexpr milliseconds kExitPollFallback{10};
constexpr std::size_t kReadChunk = 64 * 1024;
// Reads per stream per wakeup, so a flood cannot starve the limit checks.
constexpr int kReadsPerWakeup = 16;
// Last look at the pipes before closing them; bounded against an escaped writer.
constexpr int kFinalReads = 64;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // No retry on EINTR: on Linux the descriptor is gone either way.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe make_pipe(const char* purpose) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw Error(Errc::system, std::string("cannot create the ") + purpose +
                                  " pipe for a task: " + errno_text(errno));
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// ---------------------------------------------------------------------------
// The child side. Everything it needs is prepared before fork, because after
// fork in a multithreaded parent only async-signal-safe calls are allowed.

enum ChildStage : int { kStageChdir = 1, kStageStdio, kStageLimits, kStageExec };

struct ChildReport {
  int stage;
  int error;
};

struct ChildPlan {
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* program = nullptr;
  const char* cwd = nullptr;  // null: stay where the parent is
  bool limit_cpu = false;
  rlimit cpu_limit{};
  bool limit_file = false;
  rlimit file_limit{};
  int cgroup_fd = -1;  // the task's cgroup.procs, or -1
};

std::string env_name(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// `base` (the parent's environment when null) plus `extra`; for a repeated
// NAME the last entry wins.
std::vector<std::string> build_environment(const std::vector<std::string>* base,
                                           const std::vector<std::string>& extra) {
  std::vector<std::string> extra_names;
  for (const auto& e : extra) extra_names.push_back(env_name(e));
  auto in_extra_from = [&](const std::string& name, std::size_t from) {
    return std::find(extra_names.begin() + static_cast<std::ptrdiff_t>(from), extra_names.end(),
                     name) != extra_names.end();
  };
  std::vector<std::string> env;
  auto take = [&](std::string entry) {
    if (!in_extra_from(env_name(entry), 0)) env.push_back(std::move(entry));
  };
  if (base) {
    for (const auto& e : *base) take(e);
  } else {
    for (char** e = environ; e && *e; ++e) take(*e);
  }
  for (std::size_t i = 0; i < extra.size(); ++i)
    if (!in_extra_from(extra_names[i], i + 1)) env.push_back(extra[i]);
  return env;
}

// RLIMIT_CPU is only the backstop: it is per process, and a group member that
// dies of it unnoticed (e.g. reaped by a shell that then carries on) hides the
// overrun from the parent's group check. So the soft limit sits at least half a
// second past the real limit, leaving the group check (every 50 ms) to act
// first; the hard limit one second later kills a program that catches SIGXCPU.
// Never above the inherited hard limit.
bool plan_cpu_limit(std::optional<double> seconds, rlimit& out) {
  if (!seconds || std::isnan(*seconds) || *seconds >= 1e15) return false;
  rlim_t soft = static_cast<rlim_t>(std::max(1.0, std::ceil(std::max(0.0, *seconds) + 0.5)));
  rlim_t hard = soft + 1;
  rlimit current{};
  if (getrlimit(RLIMIT_CPU, &current) == 0 && current.rlim_max != RLIM_INFINITY) {
    hard = std::min(hard, current.rlim_max);
    soft = std::min(soft, hard);
  }
  out = rlimit{soft, hard};
  return true;
}

ChildPlan make_plan(const ProcessSpec& spec) {
  ChildPlan plan;
  // PWD is where the program starts, never the caller's directory.
  std::vector<std::string> extra;
  if (!spec.cwd.empty()) extra.push_back("PWD=" + spec.cwd);
  extra.insert(extra.end(), spec.extra_env.begin(), spec.extra_env.end());
  if (spec.control)
    extra.insert(extra.end(), spec.control->extra_env.begin(), spec.control->extra_env.end());
  std::vector<std::string> base;
  if (spec.clean_environment) base = task_base_environment(spec.cwd);
  plan.env_strings = build_environment(spec.clean_environment ? &base : nullptr, extra);
  for (const auto& a : spec.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  for (auto& e : plan.env_strings) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.program = spec.argv.front().c_str();
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.limit_cpu = plan_cpu_limit(spec.limits.cpu_seconds, plan.cpu_limit);
  if (spec.limits.file_bytes) {
    plan.limit_file = true;
    plan.file_limit = rlimit{static_cast<rlim_t>(*spec.limits.file_bytes),
                             static_cast<rlim_t>(*spec.limits.file_bytes)};
  }
  return plan;
}

[[noreturn]] void child_fail(int report_fd, int stage) {
  ChildReport report{stage, errno};
  while (::write(report_fd, &report, sizeof report) < 0 && errno == EINTR) {
  }
  _exit(127);
}

// Moves fd above 2 so placing the standard streams cannot clobber it.
int lift_fd(int fd) { return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3); }

bool place_fd(int fd, int target) {
  int r;
  do r = dup2(fd, target);
  while (r < 0 && (errno == EINTR || errno == EBUSY));
  return r == target;
}

// Every fd >= 3 gets CLOEXEC rather than being closed, so the report pipe
// survives until execve and then disappears with the rest.
void mark_other_fds_cloexec() {
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  rlimit nofile{};
  rlim_t top = getrlimit(RLIMIT_NOFILE, &nofile) == 0 ? nofile.rlim_cur : 65536;
  if (top == RLIM_INFINITY || top > (1u << 20)) top = 1u << 20;
  for (rlim_t fd = 3; fd < top; ++fd) fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
}

void reset_signals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);  // reserved ones fail: fine
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

[[noreturn]] void run_child(const ChildPlan& plan, int out_w, int err_w, int report_w) {
  setpgid(0, 0);
  // Into the task's cgroup before anything can fork; if refused, the parent
  // notices and follows the tree through /proc instead.
  if (plan.cgroup_fd >= 0) (void)!::write(plan.cgroup_fd, "0", 1);
  // The thread that started us waits for us until we end, so its death means
  // the runner died: the task goes with it (a runner's restart would start
  // it again). Dying, the main process orphans the rest of the tree, which the
  // cgroup or the subreaper ends.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  report_w = lift_fd(report_w);
  if (report_w < 0) _exit(127);
  out_w = lift_fd(out_w);
  err_w = lift_fd(err_w);
  int null_fd = lift_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (out_w < 0 || err_w < 0 || null_fd < 0) child_fail(report_w, kStageStdio);
  if (!place_fd(null_fd, 0) || !place_fd(out_w, 1) || !place_fd(err_w, 2))
    child_fail(report_w, kStageStdio);
  mark_other_fds_cloexec();
  reset_signals();

  const rlimit no_core{0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) child_fail(report_w, kStageLimits);
  if (plan.limit_cpu && setrlimit(RLIMIT_CPU, &plan.cpu_limit) != 0)
    child_fail(report_w, kStageLimits);
  if (plan.limit_file && setrlimit(RLIMIT_FSIZE, &plan.file_limit) != 0)
    child_fail(report_w, kStageLimits);
  if (plan.cwd && chdir(plan.cwd) != 0) child_fail(report_w, kStageChdir);

  execve(plan.program, plan.argv.data(), plan.envp.data());
  child_fail(report_w, kStageExec);
}

std::string describe_child_failure(const ChildReport& report, const ProcessSpec& spec) {
  const std::string why = errno_text(report.error);
  const std::string program = "'" + spec.argv.front() + "'";
  switch (report.stage) {
    case kStageChdir:
      return "cannot enter the working directory '" + spec.cwd + "' to run " + program + ": " + why;
    case kStageStdio:
      return "cannot set up stdin/stdout/stderr for " + program + ": " + why;
    case kStageLimits:
      return "cannot set resource limits for " + program + ": " + why;
    default:
      return "cannot execute " + program + ": " + why;
  }
}

// ---------------------------------------------------------------------------
// The parent side.

// One captured stream: stdout keeps its head, stderr its tail; both count all.
struct Stream {
  UniqueFd fd;
  bool keep_tail = false;
  std::uint64_t cap = 0;
  std::string data;
  std::uint64_t total = 0;

  void take(const char* bytes, std::size_t n) {
    total += n;
    if (!keep_tail) {
      std::size_t room = data.size() < cap ? static_cast<std::size_t>(cap - data.size()) : 0;
      data.append(bytes, std::min(room, n));
      return;
    }
    if (cap == 0) return;
    if (n >= cap) {
      data.assign(bytes + (n - cap), static_cast<std::size_t>(cap));
      return;
    }
    data.append(bytes, n);
    // Trim only once the slack is large, so trimming stays amortised O(1) per byte.
    const std::size_t slack = std::max<std::size_t>(static_cast<std::size_t>(cap), kReadChunk);
    if (data.size() > cap + slack) data.erase(0, data.size() - static_cast<std::size_t>(cap));
  }

  void finish() {
    if (keep_tail && data.size() > cap) data.erase(0, data.size() - static_cast<std::size_t>(cap));
  }

  // Reads what is available; closes the fd at EOF or on error.
  void drain(int max_reads) {
    char buf[kReadChunk];
    for (int i = 0; fd && i < max_reads; ++i) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        take(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        fd.reset();
      } else if (errno == EAGAIN) {
        return;
      } else if (errno != EINTR) {
        fd.reset();
      }
    }
  }
};

struct Usage {
  std::uint64_t rss_bytes = 0;
  double cpu_seconds = 0;
};

bool read_small_file(const std::string& path, char* buf, std::size_t size, std::size_t& len) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  len = 0;
  while (len + 1 < size) {
    ssize_t n = ::read(fd.get(), buf + len, size - 1 - len);
    if (n > 0) len += static_cast<std::size_t>(n);
    else if (n == 0) break;
    else if (errno != EINTR) return false;
  }
  buf[len] = '\0';
  return true;
}

struct ProcStat {
  long pgrp = 0;
  unsigned long long ticks = 0;  // utime + stime + cutime + cstime
  unsigned long long rss_pages = 0;
};

// /proc/<pid>/stat; the command name may hold spaces and parentheses, so
// fields are counted from the last ')'.
bool read_proc_stat(const char* pid, ProcStat& out) {
  char buf[1024];
  std::size_t len = 0;
  if (!read_small_file(std::string("/proc/") + pid + "/stat", buf, sizeof buf, len)) return false;
  char* p = std::strrchr(buf, ')');
  if (!p) return false;
  ++p;
  // Field numbers as in proc(5); the first after ')' is field 3 (the state letter).
  long long fields[25] = {};
  while (*p == ' ') ++p;
  if (!*p) return false;
  ++p;
  for (int field = 4; field <= 24; ++field) {
    char* end = nullptr;
    fields[field] = std::strtoll(p, &end, 10);
    if (end == p) return false;
    p = end;
  }
  auto count = [&](int field) { return static_cast<unsigned long long>(std::max(0LL, fields[field])); };
  out.pgrp = static_cast<long>(fields[5]);
  out.ticks = count(14) + count(15) + count(16) + count(17);
  out.rss_pages = count(24);
  return true;
}

// Resident memory and CPU of every process in the group. Children that group
// members already reaped count through cutime/cstime of their parent.
Usage scan_group(pid_t pgid, pid_t main_pid) {
  static const long tick = sysconf(_SC_CLK_TCK);
  static const long page = sysconf(_SC_PAGESIZE);
  Usage usage;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
  if (!proc) return usage;
  unsigned long long ticks = 0;
  while (dirent* e = readdir(proc.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    ProcStat st;
    if (!read_proc_stat(e->d_name, st)) continue;  // gone meanwhile
    if (st.pgrp != pgid && std::atol(e->d_name) != main_pid) continue;
    usage.rss_bytes += st.rss_pages * static_cast<std::uint64_t>(page);
    ticks += st.ticks;
  }
  usage.cpu_seconds = static_cast<double>(ticks) / static_cast<double>(tick > 0 ? tick : 100);
  return usage;
}

std::uint64_t main_child_rss(pid_t pid) {
  static const long page = sysconf(_SC_PAGESIZE);
  char buf[256];
  std::size_t len = 0;
  if (!read_small_file("/proc/" + std::to_string(pid) + "/statm", buf, sizeof buf, len)) return 0;
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<std::uint64_t>(page);
}

void kill_group(pid_t pgid) {
  kill(-pgid, SIGKILL);  // ESRCH: nothing left, which is what we want
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int poll_timeout_ms(Clock::time_point now, Clock::time_point until) {
  if (until <= now) return 0;
  auto ms = std::chrono::ceil<milliseconds>(until - now).count();
  return static_cast<int>(std::min<long long>(ms, 60 * 60 * 1000));
}

class Supervisor;

// Runs in progress, for interrupt_all_runs().
struct LiveRuns {
  std::mutex mu;
  std::set<Supervisor*> runs;
  bool interrupted = false;
};
LiveRuns& live_runs() {
  static LiveRuns live;
  return live;
}

// Size of a watched output, without following links (a link is not an output).
std::optional<std::uint64_t> watched_size(const std::string& cwd, const std::string& name) {
  struct stat st;
  if (lstat(join_path(cwd, name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

// Watches one started child until it and its whole tree are gone.
class Supervisor {
 public:
  Supervisor(const ProcessSpec& spec, pid_t pid, Clock::time_point start, Stream out, Stream err,
             TaskTree& tree)
      : spec_(spec), pid_(pid), start_(start), out_(std::move(out)), err_(std::move(err)),
        tree_(tree) {
    {
      std::lock_guard<std::mutex> lock(live_runs().mu);
      live_runs().runs.insert(this);
      if (live_runs().interrupted) interrupt();
    }
    pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
    scan_group_ = spec.limits.memory_bytes || spec.limits.cpu_seconds;
    const auto& wall = spec.limits.wall_seconds;
    if (wall && !std::isnan(*wall) && *wall < 1e9)
      deadline_ = start_ + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(std::max(0.0, *wall)));
    next_sample_ = start_;
    if (spec.control && spec.control->poll) {
      control_ = spec.control;
      poll_every_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(std::max(0.01, control_->poll_seconds)));
      next_poll_ = start_ + poll_every_;
    }
  }

  ~Supervisor() {
    std::lock_guard<std::mutex> lock(live_runs().mu);
    live_runs().runs.erase(this);
  }
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  ProcessOutcome run() {
    watch_until_exit();
    // The task is over when its main process is: nothing it started stays.
    tree_.observe();
    kill_group(pid_);
    tree_.signal_all();
    drain_after_exit();
    reap_everything();
    tree_.kill_all();
    return outcome();
  }

  // From another thread (under live_runs().mu): kill everything, report stopped.
  void interrupt() noexcept {
    interrupted_ = true;
    kill(pid_, SIGKILL);
    tree_.signal_all();
  }

 private:
  void watch_until_exit() {
    while (!main_exited()) {
      const auto now = Clock::now();
      if (interrupted_ && !killed_for_) kill_for(ProcessEnding::stopped);
      if (!killed_for_ && control_ && now >= next_poll_) poll_control(now);
      if (!killed_for_) enforce_limits(now);
      wait_for_events(next_wakeup(Clock::now()));
    }
    end_ = Clock::now();
    if (suspended_since_) suspended_total_ += *end_ - *suspended_since_;
  }

  // Time the task has been allowed to run: suspension does not count.
  Clock::duration running_time(Clock::time_point now) const {
    Clock::duration paused = suspended_total_;
    if (suspended_since_) paused += now - *suspended_since_;
    return now - start_ - paused;
  }

  void poll_control(Clock::time_point now) {
    next_poll_ = now + poll_every_;
    RunProgress progress;
    progress.process_group = static_cast<int>(pid_);
    progress.elapsed_seconds = std::chrono::duration<double>(running_time(now)).count();
    progress.cpu_seconds = scan_group(pid_, pid_).cpu_seconds;
    progress.suspended = suspended_since_.has_value();
    switch (control_->poll(progress)) {
      case RunAction::keep_going:
        break;
      case RunAction::suspend:
        if (!suspended_since_) {
          kill(-pid_, SIGSTOP);
          suspended_since_ = now;
        }
        break;
      case RunAction::resume:
        if (suspended_since_) {
          kill(-pid_, SIGCONT);
          suspended_total_ += now - *suspended_since_;
          suspended_since_.reset();
        }
        break;
      case RunAction::stop:
        kill_for(ProcessEnding::stopped);
        break;
    }
  }

  // Looks without reaping: the zombie keeps the group id from being reused
  // while we still signal it.
  bool main_exited() {
    siginfo_t info{};
    int r;
    do r = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    while (r < 0 && errno == EINTR);
    return r < 0 || info.si_pid != 0;  // r < 0 (ECHILD): someone else reaped it; stop watching
  }

  void enforce_limits(Clock::time_point now) {
    if (deadline_ && !suspended_since_ && now - suspended_total_ >= *deadline_)
      return kill_for(ProcessEnding::wall_time);
    if (now < next_sample_) return;
    next_sample_ = now + (now - start_ < kFastPhase ? kFastSample : kSlowSample);
    tree_.observe();
    for (const auto& [name, max_bytes] : spec_.limits.watched_files) {
      const auto size = watched_size(spec_.cwd, name);
      if (size && *size > max_bytes) {
        // Worded as collect_outputs words it: the same overrun reads the same
        // whether it was caught while the task ran or after.
        limit_detail_ = "output '" + name + "' is " + std::to_string(*size) +
                        " bytes, over its limit of " + std::to_string(max_bytes);
        return kill_for(ProcessEnding::file_too_large);
      }
    }
    if (!scan_group_) {
      polled_peak_ = std::max(polled_peak_, main_child_rss(pid_));
      return;
    }
    const Usage usage = scan_group(pid_, pid_);
    polled_peak_ = std::max(polled_peak_, usage.rss_bytes);
    polled_cpu_ = std::max(polled_cpu_, usage.cpu_seconds);
    const auto& limits = spec_.limits;
    if (limits.memory_bytes && usage.rss_bytes > *limits.memory_bytes)
      kill_for(ProcessEnding::memory);
    else if (limits.cpu_seconds && usage.cpu_seconds >= *limits.cpu_seconds)
      kill_for(ProcessEnding::cpu_time);
  }

  void kill_for(ProcessEnding reason) {
    killed_for_ = reason;
    kill(pid_, SIGKILL);  // in case the child left its group
    kill_group(pid_);
    tree_.signal_all();
  }

  Clock::time_point next_wakeup(Clock::time_point now) const {
    auto wake = Clock::time_point::max();
    if (!killed_for_) {
      if (deadline_ && !suspended_since_) wake = std::min(wake, *deadline_ + suspended_total_);
      wake = std::min(wake, next_sample_);
      if (control_) wake = std::min(wake, next_poll_);
    }
    if (!pidfd_) wake = std::min(wake, now + kExitPollFallback);
    return wake;
  }

  // Polls the open pipes (and the pidfd) until `until`, reading what arrives.
  void wait_for_events(Clock::time_point until) {
    pollfd fds[3];
    nfds_t n = 0;
    Stream* streams[2] = {&out_, &err_};
    int slot[2] = {-1, -1};
    for (int i = 0; i < 2; ++i) {
      if (!streams[i]->fd) continue;
      slot[i] = static_cast<int>(n);
      fds[n++] = pollfd{streams[i]->fd.get(), POLLIN, 0};
    }
    if (pidfd_ && !end_) fds[n++] = pollfd{pidfd_.get(), POLLIN, 0};
    const int timeout =
        until == Clock::time_point::max() ? -1 : poll_timeout_ms(Clock::now(), until);
    if (poll(fds, n, timeout) <= 0) return;  // timeout or EINTR: the caller loops
    for (int i = 0; i < 2; ++i)
      if (slot[i] >= 0 && fds[slot[i]].revents != 0) streams[i]->drain(kReadsPerWakeup);
  }

  // The group is dead or dying; the pipes reach EOF as soon as its members
  // are gone. Only a process that escaped the group can keep them open.
  void drain_after_exit() {
    const auto give_up = Clock::now() + kDrainGrace;
    while ((out_.fd || err_.fd) && Clock::now() < give_up) wait_for_events(give_up);
    out_.drain(kFinalReads);  // whatever is already buffered, without waiting
    err_.drain(kFinalReads);
    out_.fd.reset();
    err_.fd.reset();
  }

  // Kills the group again (members may have forked meanwhile) and collects
  // every member that is our child: the main child, and orphans reparented to
  // us as subreaper. Returns when kill(-pgid, 0) reports nothing left.
  void reap_everything() {
    const auto give_up = Clock::now() + kReapBudget;
    for (;;) {
      kill_group(pid_);
      reap_available();
      if (!main_reaped_) {
        if (kill(pid_, 0) != 0 && errno == ESRCH) break;  // reaped by someone else
      } else if (kill(-pid_, 0) != 0 && errno == ESRCH) {
        break;
      }
      if (Clock::now() >= give_up) break;
      std::this_thread::sleep_for(milliseconds(1));
    }
    if (!main_reaped_) reap_main_blocking();
  }

  void reap_available() {
    for (;;) {
      int status = 0;
      rusage ru{};
      pid_t r = wait4(-pid_, &status, WNOHANG, &ru);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      if (r == pid_) record_main(status, ru);
    }
    if (!main_reaped_) {  // the child may have left its group
      int status = 0;
      rusage ru{};
      pid_t r;
      do r = wait4(pid_, &status, WNOHANG, &ru);
      while (r < 0 && errno == EINTR);
      if (r == pid_) record_main(status, ru);
    }
  }

  void reap_main_blocking() {
    int status = 0;
    rusage ru{};
    pid_t r;
    do r = wait4(pid_, &status, 0, &ru);
    while (r < 0 && errno == EINTR);
    if (r == pid_) record_main(status, ru);
  }

  void record_main(int status, const rusage& ru) {
    main_reaped_ = true;
    unregister_direct_child(pid_);
    status_ = status;
    usage_ = ru;
  }

  ProcessOutcome outcome() {
    ProcessOutcome o;
    o.pid = pid_;
    o.containment = tree_.mechanism();
    o.wall_seconds = std::chrono::duration<double>(*end_ - start_ - suspended_total_).count();
    o.cpu_seconds = static_cast<double>(usage_.ru_utime.tv_sec + usage_.ru_stime.tv_sec) +
                    static_cast<double>(usage_.ru_utime.tv_usec + usage_.ru_stime.tv_usec) / 1e6;
    o.peak_memory_bytes =
        std::max(static_cast<std::uint64_t>(usage_.ru_maxrss) * 1024u, polled_peak_);
    out_.finish();
    err_.finish();
    o.stdout_data = std::move(out_.data);
    o.stderr_data = std::move(err_.data);
    o.stdout_bytes = out_.total;
    o.stderr_bytes = err_.total;
    classify(o);
    return o;
  }

  void classify(ProcessOutcome& o) const {
    if (killed_for_) {
      o.ending = *killed_for_;
      o.limit_detail = limit_detail_;
    } else if (interrupted_) {
      o.ending = ProcessEnding::stopped;
    } else if (WIFSIGNALED(status_) && WTERMSIG(status_) == SIGXFSZ && spec_.limits.file_bytes) {
      o.ending = ProcessEnding::file_too_large;
      o.limit_detail = "a file of the task reached the limit of " +
                       std::to_string(*spec_.limits.file_bytes) + " bytes per file";
    } else if (WIFSIGNALED(status_)) {
      const int sig = WTERMSIG(status_);
      const auto& cpu_limit = spec_.limits.cpu_seconds;
      const bool over_cpu =
          cpu_limit && std::max(o.cpu_seconds, polled_cpu_) >= *cpu_limit;
      // SIGXCPU is the soft RLIMIT_CPU; SIGKILL past it is the hard one.
      if (cpu_limit && (sig == SIGXCPU || (sig == SIGKILL && over_cpu))) {
        o.ending = ProcessEnding::cpu_time;
      } else {
        o.ending = ProcessEnding::signaled;
        o.signal = sig;
      }
    } else {
      o.ending = ProcessEnding::exited;
      o.exit_code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 0;
    }
  }

  const ProcessSpec& spec_;
  const pid_t pid_;  // also the process-group id
  const Clock::time_point start_;
  Stream out_;
  Stream err_;
  UniqueFd pidfd_;
  bool scan_group_ = false;
  std::optional<Clock::time_point> deadline_;
  Clock::time_point next_sample_;
  std::optional<Clock::time_point> end_;
  std::optional<ProcessEnding> killed_for_;
  const RunControl* control_ = nullptr;
  Clock::duration poll_every_{};
  Clock::time_point next_poll_;
  std::optional<Clock::time_point> suspended_since_;
  Clock::duration suspended_total_{};
  std::uint64_t polled_peak_ = 0;
  double polled_cpu_ = 0;
  bool main_reaped_ = false;
  int status_ = 0;
  rusage usage_{};
  TaskTree& tree_;
  std::atomic<bool> interrupted_{false};
  std::string limit_detail_;
};

// Blocks every signal in this thread across vfork, so no handler of the
// parent's can run in the child (on our stack) before it resets them.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t saved_;
};

// Blocks until the child has exec'd (EOF: the CLOEXEC write end closed) or
// reported why it could not.
bool read_child_report(int fd, ChildReport& report) {
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&report);
  while (got < sizeof report) {
    ssize_t n = ::read(fd, bytes + got, sizeof report - got);
    if (n > 0) got += static_cast<std::size_t>(n);
    else if (n == 0 || errno != EINTR) break;
  }
  return got == sizeof report;
}

ProcessOutcome exec_failed(std::string message) {
  ProcessOutcome o;
  o.ending = ProcessEnding::exec_failed;
  o.exec_error = std::move(message);
  return o;
}

ProcessOutcome reap_failed_child(pid_t pid, Clock::time_point start, std::string message) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  unregister_direct_child(pid);
  kill_group(pid);
  ProcessOutcome o = exec_failed(std::move(message));
  o.pid = pid;
  o.wall_seconds = seconds_between(start, Clock::now());
  return o;
}

}  // namespace

ProcessOutcome run_process(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv.front().empty())
    return exec_failed("cannot execute a task: no program was given");
  {
    std::lock_guard<std::mutex> lock(live_runs().mu);
    if (live_runs().interrupted) {
      ProcessOutcome o;
      o.ending = ProcessEnding::stopped;
      return o;
    }
  }
  TaskTree tree(spec.allow_cgroup, spec.contain_tree);
  ChildPlan plan = make_plan(spec);
  plan.cgroup_fd = tree.cgroup_procs_fd();
  Pipe out = make_pipe("stdout");
  Pipe err = make_pipe("stderr");
  Pipe report = make_pipe("exec-error");

  const auto start = Clock::now();
  pid_t pid;
  int fork_error = 0;
  auto starting = hold_child_starts();  // until the child is registered
  {
    // vfork: the child borrows our memory until it execs, so starting a task
    // does not copy the page tables of a large, many-threaded master (fork did,
    // and two workers forking at once serialised on the address-space lock).
    // run_child is written for it: no allocation, only system calls, and every
    // signal blocked until it has reset the handlers.
    SignalsBlocked blocked;
    pid = vfork();
    if (pid == 0) run_child(plan, out.write.get(), err.write.get(), report.write.get());
    fork_error = errno;
  }
  if (pid < 0)
    throw Error(Errc::system,
                "cannot fork to run '" + spec.argv.front() + "': " + errno_text(fork_error));
  setpgid(pid, pid);  // also done by the child; whichever runs first wins the race
  register_direct_child(pid);
  starting.unlock();
  tree.started(pid);
  if (spec.on_started) spec.on_started(pid);
  out.write.reset();
  err.write.reset();
  report.write.reset();

  ChildReport failure{};
  if (read_child_report(report.read.get(), failure))
    return reap_failed_child(pid, start, describe_child_failure(failure, spec));

  Stream out_stream{std::move(out.read), false, spec.stdout_cap, {}, 0};
  Stream err_stream{std::move(err.read), true, spec.stderr_cap, {}, 0};
  for (Stream* s : {&out_stream, &err_stream})
    fcntl(s->fd.get(), F_SETFL, fcntl(s->fd.get(), F_GETFL) | O_NONBLOCK);
  return Supervisor(spec, pid, start, std::move(out_stream), std::move(err_stream), tree).run();
}

void interrupt_all_runs() noexcept {
  std::lock_guard<std::mutex> lock(live_runs().mu);
  live_runs().interrupted = true;
  for (Supervisor* run : live_runs().runs) run->interrupt();
}

std::vector<std::string> task_base_environment(const std::string& cwd) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin",
          "HOME=" + cwd,
          "TMPDIR=" + cwd,
          "LANG=C.UTF-8",
          "SHELL=/bin/sh",
          "PWD=" + cwd};
}

}  // namespace mw::detail
