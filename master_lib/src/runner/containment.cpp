#include "runner/containment.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace mw::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kKillBudget{3000};
constexpr const char* kCgroupPrefix = "mw-task-";

std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::set<pid_t>& direct_children() {
  static std::set<pid_t> pids;
  return pids;
}
bool is_direct_child(pid_t pid) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  return direct_children().count(pid) != 0;
}

struct ProcEntry {
  pid_t pid = 0, ppid = 0, pgrp = 0;
  char state = '?';
  unsigned long long start = 0;  // start time, ticks since boot: tells reused pids apart
};

bool read_entry(pid_t pid, ProcEntry& e) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may hold anything
  if (!p) return false;
  int ppid = 0, pgrp = 0;
  char state = '?';
  // Fields 3..5, then skip 6..21 to reach 22 (starttime).
  if (std::sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) return false;
  const char* q = p + 1;
  for (int field = 3; field < 22 && q; ++field) {
    q = std::strchr(q + 1, ' ');
  }
  e.pid = pid;
  e.ppid = ppid;
  e.pgrp = pgrp;
  e.state = state;
  e.start = q ? std::strtoull(q + 1, nullptr, 10) : 0;
  return true;
}

std::vector<ProcEntry> snapshot() {
  std::vector<ProcEntry> all;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
  if (!proc) return all;
  while (dirent* d = readdir(proc.get())) {
    if (d->d_name[0] < '1' || d->d_name[0] > '9') continue;
    ProcEntry e;
    if (read_entry(static_cast<pid_t>(std::atol(d->d_name)), e)) all.push_back(e);
  }
  return all;
}

// An orphan of some task: a child of ours we did not start, outside our own
// process group (tasks get their own group; processes the program using the
// library starts itself normally stay in ours).
bool is_task_orphan(const ProcEntry& e, pid_t self, pid_t self_pgrp) {
  return e.ppid == self && e.pgrp != self_pgrp && !is_direct_child(e.pid);
}

// ---- cgroup v2 ----------------------------------------------------------------

std::string read_text(const std::string& path, std::size_t cap = 1 << 20) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[4096];
  ssize_t n;
  while (out.size() < cap && (n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

bool write_text(const std::string& path, const char* text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text, std::strlen(text)) >= 0;
  ::close(fd);
  return ok;
}

// This process's cgroup v2 directory, if the unified hierarchy is mounted.
std::string own_cgroup_dir() {
  std::string mount;
  std::istringstream mounts(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, devs, root, point;
    fields >> id >> parent >> devs >> root >> point;
    if (root == "/") {
      mount = point;
      break;
    }
  }
  if (mount.empty()) return {};
  std::istringstream groups(read_text("/proc/self/cgroup"));
  for (std::string line; std::getline(groups, line);) {
    if (line.rfind("0::", 0) != 0) continue;
    std::string path = line.substr(3);
    if (path.find("..") != std::string::npos) return {};
    return path == "/" ? mount : mount + path;
  }
  return {};
}

bool cgroup_empty(const std::string& dir) {
  const std::string procs = read_text(dir + "/cgroup.procs", 4096);
  return procs.find_first_not_of(" \n") == std::string::npos;
}

void kill_cgroup(const std::string& dir) noexcept {
  if (write_text(dir + "/cgroup.kill", "1")) return;
  // Kernels before 5.14: member by member (they may fork meanwhile; the
  // caller repeats until the cgroup is empty).
  std::istringstream procs(read_text(dir + "/cgroup.procs"));
  for (long pid; procs >> pid;) kill(static_cast<pid_t>(pid), SIGKILL);
}

// Ends and removes cgroups that runners killed with SIGKILL left behind:
// their name holds the pid of the runner, which no longer exists.
void end_abandoned_cgroups(const std::string& base) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(base.c_str()), closedir);
  if (!dir) return;
  std::vector<std::string> stale;
  const std::size_t prefix = std::strlen(kCgroupPrefix);
  while (dirent* e = readdir(dir.get())) {
    if (std::strncmp(e->d_name, kCgroupPrefix, prefix) != 0) continue;
    const pid_t owner = static_cast<pid_t>(std::atol(e->d_name + prefix));
    if (owner > 0 && kill(owner, 0) != 0 && errno == ESRCH) stale.push_back(base + "/" + e->d_name);
  }
  for (const auto& cg : stale) {
    // Bounded: a cgroup the kernel keeps busy after it emptied (seen with
    // the v1/v2 hybrid layout) is left for a later runner, never waited on.
    const auto give_up = Clock::now() + std::chrono::milliseconds(500);
    while (!cgroup_empty(cg) && Clock::now() < give_up) {
      kill_cgroup(cg);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    rmdir(cg.c_str());
  }
}

// Where per-task cgroups go; empty when they cannot be had here.
const std::string& cgroup_base() {
  static const std::string base = [] {
    std::string dir = own_cgroup_dir();
    if (dir.empty() || access((dir + "/cgroup.procs").c_str(), W_OK) != 0 ||
        access(dir.c_str(), W_OK) != 0)
      return std::string();
    end_abandoned_cgroups(dir);
    return dir;
  }();
  return base;
}

std::atomic<bool> cgroups_refused{false};

}  // namespace

void register_direct_child(pid_t pid) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  direct_children().insert(pid);
}

void unregister_direct_child(pid_t pid) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  direct_children().erase(pid);
}

std::unique_lock<std::mutex> hold_child_starts() {
  static std::mutex starting;
  return std::unique_lock<std::mutex>(starting);
}

void become_subreaper() {
  static std::once_flag once;
  std::call_once(once, [] { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); });
}

void reap_orphans() noexcept {
  try {
    const auto no_starts = hold_child_starts();
    const pid_t self = getpid(), self_pgrp = getpgrp();
    for (const ProcEntry& e : snapshot())
      if (e.state == 'Z' && is_task_orphan(e, self, self_pgrp)) waitpid(e.pid, nullptr, WNOHANG);
  } catch (...) {
  }
}

TaskTree::TaskTree(bool use_cgroup, bool enabled) : enabled_(enabled) {
  become_subreaper();
  if (!enabled_) return;
  if (!use_cgroup || cgroups_refused.load() || cgroup_base().empty()) return;
  static std::atomic<unsigned long> counter{0};
  std::string dir = cgroup_base() + "/" + kCgroupPrefix + std::to_string(getpid()) + "-" +
                    std::to_string(++counter);
  if (mkdir(dir.c_str(), 0755) != 0) {
    if (errno != EEXIST) cgroups_refused = true;  // read-only, no permission: do not retry
    return;
  }
  procs_fd_ = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (procs_fd_ < 0) {
    rmdir(dir.c_str());
    return;
  }
  cgroup_ = std::move(dir);
}

TaskTree::~TaskTree() {
  if (main_ != 0) kill_all();
  if (procs_fd_ >= 0) ::close(procs_fd_);
  if (!cgroup_.empty()) rmdir(cgroup_.c_str());
}

void TaskTree::started(pid_t main_pid) {
  if (!enabled_) return;
  main_ = main_pid;
  if (cgroup_.empty()) return;
  // The child entered the cgroup itself before exec; if the kernel refused,
  // fall back to following the tree through /proc for this and later tasks.
  const std::string name = cgroup_.substr(cgroup_.rfind('/'));
  const std::string own = read_text("/proc/" + std::to_string(main_pid) + "/cgroup", 1 << 16);
  if (own.find(name + "\n") != std::string::npos || own.find("0::") == std::string::npos) return;
  ::close(procs_fd_);
  procs_fd_ = -1;
  rmdir(cgroup_.c_str());
  cgroup_.clear();
}

void TaskTree::observe() {
  if (!cgroup_.empty() || main_ == 0) return;
  const auto no_starts = hold_child_starts();
  const pid_t self = getpid(), self_pgrp = getpgrp();
  const std::vector<ProcEntry> all = snapshot();
  std::set<pid_t> members;
  for (const auto& e : all) {
    auto it = seen_.find(e.pid);
    if (e.pid == main_ || e.pgrp == main_ || (it != seen_.end() && it->second == e.start) ||
        is_task_orphan(e, self, self_pgrp))
      members.insert(e.pid);
  }
  // Descendants of members, however deep: repeat until nothing is added.
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& e : all)
      if (!members.count(e.pid) && members.count(e.ppid)) grew = members.insert(e.pid).second || grew;
  }
  for (const auto& e : all)
    if (members.count(e.pid) && e.pid != self) seen_[e.pid] = e.start;
}

void TaskTree::signal_all() noexcept {
  if (main_ == 0) return;
  kill(-main_, SIGKILL);
  if (!cgroup_.empty()) {
    kill_cgroup(cgroup_);
    return;
  }
  for (const auto& [pid, start] : seen_) {
    ProcEntry e;
    if (read_entry(pid, e) && e.start == start) kill(pid, SIGKILL);
  }
}

void TaskTree::kill_all() noexcept {
  if (main_ == 0) return;
  const auto give_up = Clock::now() + kKillBudget;
  for (;;) {
    bool left = false;
    if (!cgroup_.empty()) {
      kill_cgroup(cgroup_);
      left = !cgroup_empty(cgroup_);
    } else {
      try {
        observe();
      } catch (...) {
      }
      const pid_t self = getpid();
      for (auto it = seen_.begin(); it != seen_.end();) {
        ProcEntry e;
        if (!read_entry(it->first, e) || e.start != it->second) {
          it = seen_.erase(it);
          continue;
        }
        if (e.state != 'Z') {
          kill(e.pid, SIGKILL);
          left = true;
        } else if (e.ppid == self && !is_direct_child(e.pid)) {
          waitpid(e.pid, nullptr, WNOHANG);
        } else if (e.ppid != self) {
          left = true;  // its parent, a member, is dying: it comes back to us
        }
        ++it;
      }
    }
    reap_orphans();
    if (!left || Clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  main_ = 0;
}

}  // namespace mw::detail
