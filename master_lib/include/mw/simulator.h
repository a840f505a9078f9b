// mw/simulator.h — a deterministic grid simulator behind the ordinary Master API.
//
// Nothing is timed for real: a task's duration on a worker comes from a cost
// function, and a discrete-event clock advances whenever the program waits for
// a result. Function tasks registered in this program are still called (in
// process, one at a time) so results carry real values; exec tasks are not run.
//
// Determinism: the clock moves only while the program waits in get_result and
// the master has dispatched everything it could, so the same program with the
// same seed gives the same schedule whatever the threads do.
//
// What a task's outcome looks like:
//   - function task, call_functions and MW_TASK-registered here: the function's
//     value (or, if it throws, a failure with its message); registered nowhere:
//     a failure, as on a real worker; call_functions == false: an empty value.
//   - exec task: success with no outputs (result.output(name) has nothing).
//   - a simulated failure (failure_rate): status nonzero_exit, exit_code 1,
//     reason "simulated failure on worker <name> at t=<end> s".
//   - a cost that is negative, not finite, or a cost function that throws:
//     status rejected at the time of dispatch, naming the cost.
//   - a task waiting for a worker when none will ever be up again: nonzero_exit,
//     saying so (rather than a program that waits forever).
//   wall_seconds = cpu_seconds = the simulated duration; worker = worker name.
//
// Placement: reserve_worker() only tells the master that some worker is free;
// execute_task() places the task by the policy, since earliest_completion needs
// the task's cost. A task cut off by its worker going down goes into an
// internal re-run queue (the master is not told) that free workers serve, in
// order, before the master is offered them again. A cancelled task frees its
// worker at the current simulated time. each_worker calls the function once
// per worker, in this process, taking no simulated time (nothing when
// call_functions is false).
//
//   mw::Simulator sim;
//   sim.workers = {{"fast", 2.0}, {"slow", 0.5}};
//   sim.cost = [](const mw::TaskSpec&) { return 10.0; };   // seconds at speed 1
//   mw::Master master(sim);
//   ... the same program as on multicore ...
//   master.status().details.details["makespan"]
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mw/interface.h"

namespace mw {

struct SimWorker {
  std::string name;    // default "worker_<index>"; names must be unique
  double speed = 1.0;  // work units per simulated second; duration = cost / speed
  // Periods when the worker is up, as [start, end) pairs of simulated seconds,
  // sorted, not overlapping (touching periods merge); empty = always up. A
  // task running when its worker goes down is interrupted and run again from
  // scratch on the next free worker; one ending exactly at the down time completes.
  std::vector<std::pair<double, double>> availability;
  // Probability that a task fails on this worker (drawn from the simulator's seeded RNG,
  // once per run); a failed task is reported failed after its full duration.
  double failure_rate = 0.0;
};

enum class SimPolicy {
  fifo,                   // the free worker that has been idle longest
  fastest_worker_first,   // the fastest free worker
  earliest_completion,    // the free worker that would finish the task soonest, counting
                          // when it goes down next (tasks that would be cut off avoid it)
};                        // ties: the lowest worker index

struct Simulator {
  std::vector<SimWorker> workers;
  // Cost of a task in work units (seconds at speed 1). Default: the task's
  // estimates.cpu_seconds, else 1.
  std::function<double(const TaskSpec&)> cost;
  SimPolicy policy = SimPolicy::fifo;
  std::uint64_t seed = 1;
  bool call_functions = true;  // call registered function tasks for their values

  // Checks the configuration first: Errc::usage naming the worker and the field
  // (no workers, speed <= 0, failure_rate outside [0, 1], bad availability, a duplicate name).
  std::unique_ptr<Interface> make_interface() const;
};

// What a finished simulation looked like; also in Master::status().details.details
// as "makespan", "utilisation", "tasks_done", "interruptions", "failures" (with
// "clock" and "policy").
struct SimReport {
  // Simulated seconds from the first dispatch to the end of the last run that
  // ended (completed, failed, interrupted or cancelled; normally the last completion).
  double makespan = 0;
  double utilisation = 0;  // busy time / (workers' available time within the makespan)
  std::uint64_t interruptions = 0;  // runs cut off by their worker going down
  std::uint64_t failures = 0;       // runs that ended failed (the !ok entries of schedule)
  struct PerWorker {
    std::string name;
    std::uint64_t tasks = 0;  // runs that completed or failed on it
    double busy_seconds = 0;  // of runs that have ended, interrupted ones included
  };
  std::vector<PerWorker> workers;
  // (task id, worker name, start, end) for every completed or failed run, in order of
  // end (runs ending together: in the order they started). Interrupted runs are not listed.
  struct Run {
    std::uint64_t task = 0;
    std::string worker;
    double start = 0, end = 0;
    bool ok = true;
  };
  std::vector<Run> schedule;
};

// The report of the simulator behind `interface` (which must be one made by
// Simulator::make_interface; anything else is Errc::usage). With a Master:
//   auto iface = sim.make_interface();
//   const mw::Interface& simulated = *iface;
//   mw::Master master(std::move(iface));
//   ... mw::simulation_report(simulated) while `master` lives

SimReport simulation_report(const Interface& interface);

}  // namespace mw
