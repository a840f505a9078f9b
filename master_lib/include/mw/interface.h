// mw/interface.h — the contract every back end implements (PyMW's interface).
//
// The Master owns the queue and calls an interface from one dispatcher thread:
// reserve_worker() until it says no worker is free, execute_task() for each
// worker it got. The interface reports back through InterfaceEvents, from any
// thread: a finished task, and "a worker may be free now". A new back end is
// one class implementing this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mw/result.h"
#include "mw/task.h"

namespace mw {

using WorkerId = std::uint32_t;

struct WorkerStatus {
  std::string name;
  std::string state;                 // "idle", "busy", "starting", "down", ...
  std::uint64_t tasks_done = 0;
  double busy_seconds = 0;
  std::optional<std::uint64_t> task;  // what it is running
};

// What one machine did, for back ends whose tasks run on machines they do not
// pick (HTCondor execute hosts, BOINC volunteers' computers): they learn the
// host only when a task starts or ends there.
struct HostStatus {
  std::string id;       // the back end's identity: BOINC's host id, HTCondor's machine name or address
  std::string name;     // what to show: the host name when known, else the id
  std::string details;  // free text, e.g. a BOINC host's OS and CPU model; may be empty
  std::uint64_t tasks_done = 0;    // ended successfully there
  std::uint64_t tasks_failed = 0;  // ended failed there
  std::optional<std::uint64_t> running;  // running there now, when the back end knows
  double last_seen = 0;  // Unix time of the last event from it
};

// At most this many hosts are listed in InterfaceStatus::hosts: a project of
// 10^5 volunteers must not make every status() copy them all.
inline constexpr std::size_t kHostsListed = 50;

// Interface-specific figures for status(): workers plus free-form key/values
// (e.g. "startup_seconds", "makespan", "utilisation").
struct InterfaceStatus {
  std::vector<WorkerStatus> workers;
  std::map<std::string, std::string> details;
  // The kHostsListed most recently seen hosts, latest first; hosts_seen counts
  // every host seen so far (listed or not). Both empty/0 for back ends whose
  // workers are their hosts (multicore, MPI, the simulator).
  std::vector<HostStatus> hosts;
  std::uint64_t hosts_seen = 0;
};

class InterfaceEvents {
 public:
  virtual ~InterfaceEvents() = default;
  // A task ended (successfully or not). Called exactly once per executed task,
  // unless the task was cancelled (then at most once).
  virtual void task_finished(std::uint64_t task_id, Outcome outcome) = 0;
  // A worker may have become free: the Master will call reserve_worker() again.
  virtual void worker_available() = 0;
};

class Interface {
 public:
  virtual ~Interface() = default;

  virtual std::string name() const = 0;
  // The master's work directory (MasterOptions::work_dir), given before
  // start() when the master has one. A back end that hands tasks to a system
  // that outlives the master (remote BOINC jobs) records there what it handed
  // over, so a restarted master takes those up instead of handing them over
  // again. Default: unused. Throws Error when the directory is unusable.
  virtual void use_work_dir(const std::string& work_dir) { (void)work_dir; }
  // True when function tasks run in this very program (multicore with its
  // default worker program, the simulator calling functions): the master can
  // then refuse, at submit time, a function name this program never
  // registered, instead of the task failing when it runs. Default: false.
  virtual bool runs_this_program() const { return false; }
  // Called once, before anything else but use_work_dir; `events` outlives the
  // interface's use.
  virtual void start(InterfaceEvents& events) = 0;
  // A free worker for the next execute_task; nullopt when none is free. The
  // master reserves and executes from one dispatcher at a time, so picking a
  // worker need not mark it: a reservation not followed by execute_task simply
  // lapses at the next reserve_worker().
  virtual std::optional<WorkerId> reserve_worker() = 0;
  // Starts `task` on the worker just reserved (now busy) and returns at once.
  virtual void execute_task(WorkerId worker, std::shared_ptr<const TaskSpec> task) = 0;
  // Stops a running task if it can (best effort). No task_finished is owed for it.
  virtual void cancel_task(std::uint64_t task_id) = 0;
  // Runs `function(args)` once on every worker, now and on any worker started
  // later (Sleigh's eachWorker). Blocks until the current workers have run it;
  // throws TaskFailed-like Error if it fails on one.
  virtual void each_worker(const Function& function, const Args& args) = 0;
  virtual InterfaceStatus status() const = 0;
  // The program waits for a result and the master has dispatched all it can.
  // Back ends with a clock of their own (the simulator) advance it here, and may
  // call events synchronously from inside; the master holds no lock meanwhile.
  // Returns true if it made progress (an event was delivered). Others: false.
  virtual bool on_master_waiting() { return false; }
  // Stops every worker; no events are sent after it returns.
  virtual void shutdown() = 0;
};

}  // namespace mw
