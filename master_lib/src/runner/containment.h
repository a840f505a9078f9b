// Internal: keeping a task's whole process tree together, so that it ends
// with the task whatever its members do (setsid, double fork, new groups).
//
// Two mechanisms, chosen per task:
//   cgroup     — a cgroup v2 directory per task, made beside this process's
//                own cgroup when that is writable (root, or a delegated
//                subtree). The task enters it before exec, so every
//                descendant is a member; cgroup.kill ends them all at once.
//   subreaper  — otherwise. This process is a child subreaper, so orphaned
//                descendants come back to it instead of to init; the tree is
//                followed through /proc (parent links, the task's process
//                group, and every member seen on earlier looks) and killed
//                member by member. A process that escapes between two looks
//                (about every 50 ms) and whose parents are gone is found as
//                an orphan child of this process outside its process group.
// In both, the task's main process gets SIGKILL if the thread that started
// it dies (PR_SET_PDEATHSIG). A runner killed with SIGKILL cannot clean up:
// the next TaskTree made by any runner ends the cgroups such runners left.
#pragma once

#include <mutex>

#include <sys/types.h>

#include <map>
#include <string>

namespace mw::detail {

// Processes this program started itself and waits for (task main processes,
// multicore workers): the orphan sweep never reaps them.
void register_direct_child(pid_t pid);
void unregister_direct_child(pid_t pid);

// Held from just before a child is forked until it is registered, and while
// the subreaper mechanism scans this process's children for orphans: a child
// being started has left our process group but is not registered yet, and
// would otherwise be taken for another task's orphan and killed or reaped.
std::unique_lock<std::mutex> hold_child_starts();

// Makes this process a child subreaper (once).
void become_subreaper();

// Reaps zombie children that were reparented to this subreaper from task
// trees: not a registered direct child, not in this process's group. A
// long-lived master calls it now and then; each TaskTree calls it at the end.
void reap_orphans() noexcept;

class TaskTree {
 public:
  // use_cgroup=false forces the subreaper mechanism (tests); enabled=false
  // makes every call a no-op (tools allowed to leave daemons behind).
  explicit TaskTree(bool use_cgroup = true, bool enabled = true);
  ~TaskTree();
  TaskTree(const TaskTree&) = delete;
  TaskTree& operator=(const TaskTree&) = delete;

  // The child writes "0" here before exec to enter the task's cgroup; -1
  // when there is none.
  int cgroup_procs_fd() const { return procs_fd_; }
  const char* mechanism() const {
    return !enabled_ ? "process group" : cgroup_.empty() ? "subreaper" : "cgroup";
  }

  // The task's main process exists (its pid is also its process group).
  void started(pid_t main_pid);
  // Subreaper mechanism: remembers the members alive now. Cheap with a cgroup.
  void observe();
  // Sends SIGKILL to every member now, without waiting. Thread-safe.
  void signal_all() noexcept;
  // Kills every member and returns once none is left (bounded), having
  // reaped those that became this process's children. Call after the main
  // process was reaped.
  void kill_all() noexcept;

 private:
  std::string cgroup_;  // empty: subreaper mechanism
  int procs_fd_ = -1;
  bool enabled_ = true;
  pid_t main_ = 0;
  std::map<pid_t, unsigned long long> seen_;  // pid -> start time
};

}  // namespace mw::detail
