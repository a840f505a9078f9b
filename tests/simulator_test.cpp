// The grid simulator: schedules checked by hand, the three policies,
// availability and re-runs, determinism, real function values and config
// errors. First driven through mw::Interface directly with a tiny master-like
// loop, then through mw::Master.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "mw/master.h"
#include "mw/simulator.h"
#include "mw/worker.h"
#include "support/test_support.h"

// ---- functions the simulated workers call ------------------------------------
int square(int x) { return x * x; }
MW_TASK(square);

std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) { return seed * 1000 + samples; }
MW_TASK(count_hits);

int refuse(int x) { throw std::runtime_error("refused " + std::to_string(x)); }
MW_TASK(refuse);

std::atomic<int> init_calls{0};
void count_init() { ++init_calls; }
MW_TASK(count_init);

namespace mw {
namespace {

using test::error_of;
using RunRow = std::tuple<std::uint64_t, std::string, double, double, bool>;  // task, worker, start, end, ok

std::vector<RunRow> rows(const SimReport& report) {
  std::vector<RunRow> out;
  for (const auto& r : report.schedule) out.emplace_back(r.task, r.worker, r.start, r.end, r.ok);
  return out;
}

SimWorker worker(std::string name, double speed, std::vector<std::pair<double, double>> up = {},
                 double failure_rate = 0) {
  SimWorker w;
  w.name = std::move(name);
  w.speed = speed;
  w.availability = std::move(up);
  w.failure_rate = failure_rate;
  return w;
}

Simulator simulator(std::vector<SimWorker> workers, SimPolicy policy = SimPolicy::fifo) {
  Simulator sim;
  sim.workers = std::move(workers);
  sim.policy = policy;
  return sim;
}

struct Recorder : InterfaceEvents {
  std::vector<std::pair<std::uint64_t, Outcome>> finished;
  int available = 0;
  void task_finished(std::uint64_t id, Outcome outcome) override {
    finished.emplace_back(id, std::move(outcome));
  }
  void worker_available() override { ++available; }

  const Outcome& of(std::uint64_t id) const {
    for (const auto& [task, outcome] : finished)
      if (task == id) return outcome;
    throw std::runtime_error("task " + std::to_string(id) + " did not finish");
  }
};

// What the Master does, single-threaded: dispatch while workers are free, and
// let the clock move only when nothing more can be dispatched.
class Driver {
 public:
  explicit Driver(const Simulator& sim) : iface_(sim.make_interface()) { iface_->start(events_); }
  ~Driver() { iface_->shutdown(); }

  // An exec task (the simulator does not run it) whose cost is its estimate.
  std::uint64_t submit(double cost) {
    TaskSpec spec;
    spec.kind = TaskSpec::Kind::exec;
    spec.program = "/bin/true";
    spec.estimates.cpu_seconds = cost;
    return submit(std::move(spec));
  }
  std::uint64_t submit_call(const std::string& function, const Args& arguments, double cost = 1) {
    TaskSpec spec;
    spec.function = function;
    spec.args = arguments.bytes;
    spec.estimates.cpu_seconds = cost;
    return submit(std::move(spec));
  }
  std::uint64_t submit(TaskSpec spec) {
    spec.id = ++submitted_;
    spec.name = "task_" + std::to_string(spec.id);
    queue_.push_back(std::make_shared<const TaskSpec>(std::move(spec)));
    return submitted_;
  }

  void dispatch() {
    while (!queue_.empty()) {
      auto w = iface_->reserve_worker();
      if (!w) return;
      iface_->execute_task(*w, queue_.front());
      queue_.pop_front();
    }
  }
  void run_until(const std::function<bool()>& done) {
    while (!done()) {
      dispatch();
      if (!iface_->on_master_waiting()) return;
    }
  }
  void run_all() {
    run_until([&] { return events_.finished.size() + cancelled_ >= submitted_; });
  }
  void cancel(std::uint64_t id) {
    iface_->cancel_task(id);
    ++cancelled_;
  }

  Interface& iface() { return *iface_; }
  Recorder& events() { return events_; }
  SimReport report() const { return simulation_report(*iface_); }

 private:
  Recorder events_;
  std::unique_ptr<Interface> iface_;
  std::deque<std::shared_ptr<const TaskSpec>> queue_;
  std::uint64_t submitted_ = 0;
  std::uint64_t cancelled_ = 0;
};

// ---- 1. a schedule checked by hand ---------------------------------------------

// fast (speed 2) and slow (speed 1), costs 4 4 2 2 2, FIFO:
//   t=0  task1 -> fast [0,2)   (both idle since 0: the lower index)
//        task2 -> slow [0,4)
//   t=2  task3 -> fast [2,3)
//   t=3  task4 -> fast [3,4)
//   t=4  slow and fast both free since 4: task5 -> fast [4,5)
// makespan 5; busy fast 5, slow 4 -> utilisation 9/10.
const std::vector<RunRow> kHandSchedule = {
    {1, "fast", 0, 2, true}, {3, "fast", 2, 3, true}, {2, "slow", 0, 4, true},
    {4, "fast", 3, 4, true}, {5, "fast", 4, 5, true}};

TEST(Simulator, FifoScheduleCheckedByHand) {
  Driver d(simulator({worker("fast", 2), worker("slow", 1)}));
  for (double cost : {4, 4, 2, 2, 2}) d.submit(cost);
  d.run_all();

  SimReport r = d.report();
  EXPECT_EQ(rows(r), kHandSchedule);
  EXPECT_DOUBLE_EQ(r.makespan, 5);
  EXPECT_DOUBLE_EQ(r.utilisation, 0.9);
  ASSERT_EQ(r.workers.size(), 2u);
  EXPECT_EQ(r.workers[0].tasks, 4u);
  EXPECT_DOUBLE_EQ(r.workers[0].busy_seconds, 5);
  EXPECT_EQ(r.workers[1].tasks, 1u);
  EXPECT_DOUBLE_EQ(r.workers[1].busy_seconds, 4);
  // Results arrive in completion order, and carry the simulated duration.
  std::vector<std::uint64_t> order;
  for (const auto& f : d.events().finished) order.push_back(f.first);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 3, 2, 4, 5}));
  EXPECT_DOUBLE_EQ(d.events().of(2).wall_seconds, 4);
  EXPECT_DOUBLE_EQ(d.events().of(2).cpu_seconds, 4);
  EXPECT_EQ(d.events().of(2).worker, "slow");
  EXPECT_EQ(d.events().of(2).status, ResultStatus::success);
}

// FIFO gives a new task to the worker idle longest: neither the lowest index
// nor the fastest.
TEST(Simulator, FifoPicksTheWorkerIdleLongest) {
  Driver d(simulator({worker("w0", 2), worker("w1", 1), worker("w2", 1)}));
  d.submit(4);   // w0 [0,2)
  d.submit(1);   // w1 [0,1)
  d.submit(10);  // w2 [0,10)
  d.run_until([&] { return d.events().finished.size() == 2; });
  d.submit(2);   // t=2: w1 idle since 1, w0 since 2 -> w1 [2,4)
  d.run_all();
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{2, "w1", 0, 1, true},
                                                   {1, "w0", 0, 2, true},
                                                   {4, "w1", 2, 4, true},
                                                   {3, "w2", 0, 10, true}}));
}

// ---- 2. policies -------------------------------------------------------------------

// A (speed 2) is up for [0,3) then from 10; B (speed 1) always. Tasks cost 8 and 2.
//   fastest_worker_first: task1 -> A [0,4), cut off at 3, re-run on B [3,11);
//                         task2 -> B [0,2). Makespan 11.
//   earliest_completion:  task1 would be cut off on A, so B [0,8);
//                         task2 -> A [0,1) (ends before A leaves). Makespan 8.
Simulator cut_off_case(SimPolicy policy) {
  return simulator({worker("A", 2, {{0, 3}, {10, 1e9}}), worker("B", 1)}, policy);
}

TEST(Simulator, FastestWorkerFirstIgnoresTheComingDownTime) {
  Driver d(cut_off_case(SimPolicy::fastest_worker_first));
  d.submit(8);
  d.submit(2);
  d.run_all();
  SimReport r = d.report();
  EXPECT_EQ(rows(r), (std::vector<RunRow>{{2, "B", 0, 2, true}, {1, "B", 3, 11, true}}));
  EXPECT_EQ(r.interruptions, 1u);
  EXPECT_DOUBLE_EQ(r.makespan, 11);
}

TEST(Simulator, EarliestCompletionAvoidsAWorkerAboutToLeave) {
  Driver d(cut_off_case(SimPolicy::earliest_completion));
  d.submit(8);
  d.submit(2);
  d.run_all();
  SimReport r = d.report();
  EXPECT_EQ(rows(r), (std::vector<RunRow>{{2, "A", 0, 1, true}, {1, "B", 0, 8, true}}));
  EXPECT_EQ(r.interruptions, 0u);
  EXPECT_DOUBLE_EQ(r.makespan, 8);
}

TEST(Simulator, FastestWorkerFirstTiesGoToTheLowerIndex) {
  Driver d(simulator({worker("a", 1), worker("b", 3), worker("c", 3)},
                     SimPolicy::fastest_worker_first));
  d.submit(3);
  d.submit(3);
  d.submit(3);
  d.run_all();
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{1, "b", 0, 1, true},
                                                   {2, "c", 0, 1, true},
                                                   {3, "a", 0, 3, true}}));
}

// ---- 3. determinism --------------------------------------------------------------

Simulator random_grid(std::uint64_t seed) {
  Simulator sim = simulator({worker("w0", 1, {}, 0.1), worker("w1", 1.5, {{0, 20}, {30, 60}, {70, 1e9}}, 0.1),
                             worker("w2", 2, {}, 0.1), worker("w3", 0.5, {{5, 40}, {45, 1e9}}, 0.1)});
  sim.seed = seed;
  sim.cost = [](const TaskSpec& t) { return 1 + static_cast<double>(t.id * 37 % 11) * 0.75; };
  return sim;
}

struct RunResult {
  std::vector<RunRow> schedule;
  std::vector<std::tuple<std::uint64_t, ResultStatus, std::string>> outcomes;
  SimReport report;
};

RunResult run_random_grid(std::uint64_t seed) {
  Driver d(random_grid(seed));
  for (int i = 0; i < 50; ++i) d.submit(1);
  d.run_all();
  RunResult out;
  out.report = d.report();
  out.schedule = rows(out.report);
  for (const auto& [id, o] : d.events().finished) out.outcomes.emplace_back(id, o.status, o.reason);
  return out;
}

TEST(Simulator, SameSeedSameScheduleDifferentSeedDifferentFailures) {
  RunResult a = run_random_grid(7), b = run_random_grid(7), c = run_random_grid(8);
  ASSERT_EQ(a.outcomes.size(), 50u);
  EXPECT_GT(a.report.failures, 0u);
  EXPECT_GT(a.report.interruptions, 0u);
  EXPECT_EQ(a.schedule, b.schedule);
  EXPECT_EQ(a.outcomes, b.outcomes);
  EXPECT_NE(a.schedule, c.schedule);
  EXPECT_NE(a.outcomes, c.outcomes);
  // Every run in the schedule lies inside one of its worker's up periods.
  for (const auto& r : a.report.schedule) {
    if (r.worker == "w1") {
      EXPECT_TRUE(r.end <= 20 || (r.start >= 30 && r.end <= 60) || r.start >= 70);
    }
    if (r.worker == "w3") {
      EXPECT_TRUE((r.start >= 5 && r.end <= 40) || r.start >= 45);
    }
  }
}

TEST(Simulator, FailedRunsSayWhereAndWhen) {
  Driver d(simulator({worker("w", 1, {}, 1.0)}));
  d.submit(2);
  d.run_all();
  const Outcome& o = d.events().of(1);
  EXPECT_EQ(o.status, ResultStatus::nonzero_exit);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.reason, "simulated failure on worker w at t=2 s");
  SimReport r = d.report();
  EXPECT_EQ(rows(r), (std::vector<RunRow>{{1, "w", 0, 2, false}}));
  EXPECT_EQ(r.failures, 1u);
}

// ---- 4. availability ---------------------------------------------------------------

TEST(Simulator, InterruptedTaskRunsAgainWhenItsWorkerReturns) {
  Driver d(simulator({worker("A", 1, {{0, 5}, {8, 1e9}})}));
  d.submit(7);  // [0,5) cut off; again [8,15)
  d.run_all();
  SimReport r = d.report();
  EXPECT_EQ(rows(r), (std::vector<RunRow>{{1, "A", 8, 15, true}}));
  EXPECT_EQ(r.interruptions, 1u);
  EXPECT_DOUBLE_EQ(d.events().of(1).wall_seconds, 7);
  EXPECT_DOUBLE_EQ(r.workers[0].busy_seconds, 12);  // 5 lost + 7
}

// A up [0,5) and from 8, B always, both speed 1; costs 7, 6, 1; FIFO:
//   t=0  task1 -> A [0,7), task2 -> B [0,6); task3 waits in the master
//   t=5  A leaves: task1 is cut off and waits in the re-run queue
//   t=6  task2 ends; B takes task1 [6,13) before the master hears B is free
//   t=8  A returns: task3 -> A [8,9)
// Makespan 13. Up time in [0,13]: A 5+5, B 13 = 23; busy: A 5+1, B 6+7 = 19.
TEST(Simulator, ReRunsComeBeforeTheMastersQueue) {
  Driver d(simulator({worker("A", 1, {{0, 5}, {8, 1e9}}), worker("B", 1)}));
  d.submit(7);
  d.submit(6);
  d.submit(1);
  d.dispatch();
  ASSERT_TRUE(d.iface().on_master_waiting());  // up to t=6
  InterfaceStatus mid = d.iface().status();
  EXPECT_EQ(mid.details["clock"], "6");
  EXPECT_EQ(mid.workers[0].state, "down");
  EXPECT_EQ(mid.workers[1].state, "busy");
  EXPECT_EQ(mid.workers[1].task, std::optional<std::uint64_t>(1));
  d.run_all();

  SimReport r = d.report();
  EXPECT_EQ(rows(r), (std::vector<RunRow>{{2, "B", 0, 6, true}, {3, "A", 8, 9, true}, {1, "B", 6, 13, true}}));
  EXPECT_EQ(r.interruptions, 1u);
  EXPECT_DOUBLE_EQ(r.makespan, 13);
  EXPECT_DOUBLE_EQ(r.utilisation, 19.0 / 23.0);
  EXPECT_DOUBLE_EQ(r.workers[0].busy_seconds, 6);
  EXPECT_DOUBLE_EQ(r.workers[1].busy_seconds, 13);
}

TEST(Simulator, ATaskEndingAsItsWorkerLeavesCompletes) {
  Driver d(simulator({worker("A", 1, {{0, 4}})}));
  d.submit(4);
  d.run_all();
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{1, "A", 0, 4, true}}));
  EXPECT_EQ(d.report().interruptions, 0u);
}

TEST(Simulator, TouchingPeriodsAreOnePeriod) {
  Driver d(simulator({worker("A", 1, {{0, 3}, {3, 10}})}));
  d.submit(5);
  d.run_all();
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{1, "A", 0, 5, true}}));
}

TEST(Simulator, AWorkerComingUpIsAnnouncedAndUsed) {
  Driver d(simulator({worker("late", 1, {{10, 20}})}));
  d.submit(1);
  d.dispatch();  // nobody is up at t=0
  EXPECT_FALSE(d.iface().reserve_worker());
  EXPECT_TRUE(d.iface().on_master_waiting());
  EXPECT_EQ(d.events().available, 1);
  d.run_all();
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{1, "late", 10, 11, true}}));
}

TEST(Simulator, ATaskNoWorkerWillEverRunAgainFails) {
  Driver d(simulator({worker("brief", 1, {{0, 5}})}));
  d.submit(10);
  d.run_all();
  ASSERT_EQ(d.events().finished.size(), 1u);
  EXPECT_EQ(d.events().of(1).status, ResultStatus::nonzero_exit);
  EXPECT_NE(d.events().of(1).reason.find("no worker will be up again"), std::string::npos);
  EXPECT_FALSE(d.iface().on_master_waiting());
}

// ---- 5. figures ----------------------------------------------------------------------

TEST(Simulator, StatusCarriesTheFigures) {
  Driver d(simulator({worker("fast", 2), worker("slow", 1)}));
  for (double cost : {4, 4, 2, 2, 2}) d.submit(cost);
  d.run_all();
  InterfaceStatus st = d.iface().status();
  EXPECT_EQ(st.details["clock"], "5");
  EXPECT_EQ(st.details["makespan"], "5");
  EXPECT_EQ(st.details["utilisation"], "0.9");
  EXPECT_EQ(st.details["tasks_done"], "5");
  EXPECT_EQ(st.details["interruptions"], "0");
  EXPECT_EQ(st.details["failures"], "0");
  EXPECT_EQ(st.details["policy"], "fifo");
  ASSERT_EQ(st.workers.size(), 2u);
  EXPECT_EQ(st.workers[0].name, "fast");
  EXPECT_EQ(st.workers[0].state, "idle");
  EXPECT_EQ(st.workers[0].tasks_done, 4u);
  EXPECT_DOUBLE_EQ(st.workers[1].busy_seconds, 4);
  EXPECT_FALSE(st.workers[1].task);
}

// Makespan counts from the first dispatch, not from t=0; utilisation only
// counts the time workers were up.
TEST(Simulator, MakespanStartsAtTheFirstDispatch) {
  Driver d(simulator({worker("a", 1, {{2, 100}}), worker("b", 1, {{2, 4}})}));
  d.submit(3);  // a [2,5)
  d.submit(1);  // b [2,3)
  d.run_all();
  SimReport r = d.report();
  EXPECT_DOUBLE_EQ(r.makespan, 3);
  EXPECT_DOUBLE_EQ(r.utilisation, 4.0 / 5.0);  // busy 3+1 over up 3+2
}

TEST(Simulator, DefaultCostIsTheEstimateElseOne) {
  Driver d(simulator({worker("w", 2)}));
  TaskSpec no_estimate;
  no_estimate.kind = TaskSpec::Kind::exec;
  d.submit(no_estimate);  // cost 1 at speed 2
  d.submit(6);            // cost 6 at speed 2
  d.run_all();
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{1, "w", 0, 0.5, true}, {2, "w", 0.5, 3.5, true}}));
}

TEST(Simulator, ABadCostRejectsTheTask) {
  Simulator sim = simulator({worker("w", 1)});
  sim.cost = [](const TaskSpec& t) {
    if (t.id == 2) throw std::runtime_error("no estimate");
    return t.id == 1 ? -1.0 : 2.0;
  };
  Driver d(sim);
  d.submit(1);
  d.submit(1);
  d.submit(1);
  d.run_all();
  EXPECT_EQ(d.events().of(1).status, ResultStatus::rejected);
  EXPECT_EQ(d.events().of(1).reason, "simulator: the cost of task 1 is -1 (it must be a finite number >= 0)");
  EXPECT_EQ(d.events().of(2).status, ResultStatus::rejected);
  EXPECT_NE(d.events().of(2).reason.find("no estimate"), std::string::npos);
  EXPECT_EQ(d.events().of(3).status, ResultStatus::success);
  EXPECT_DOUBLE_EQ(d.events().of(3).wall_seconds, 2);
}

// ---- 6. function tasks -----------------------------------------------------------------

TEST(Simulator, FunctionTasksReturnRealValues) {
  Driver d(simulator({worker("w", 1)}));
  d.submit_call("square", args(7));
  d.submit_call("refuse", args(3));
  d.submit_call("nope", args());
  d.run_all();
  EXPECT_EQ(d.events().of(1).status, ResultStatus::success);
  EXPECT_EQ(decode_value<int>(d.events().of(1).value, "square"), 49);
  EXPECT_EQ(d.events().of(2).status, ResultStatus::nonzero_exit);
  EXPECT_EQ(d.events().of(2).reason, "function refuse threw: refused 3");
  EXPECT_EQ(d.events().of(3).status, ResultStatus::nonzero_exit);
  EXPECT_NE(d.events().of(3).reason.find("no function named 'nope'"), std::string::npos);
  SimReport r = d.report();
  EXPECT_EQ(r.failures, 2u);
  EXPECT_EQ(rows(r), (std::vector<RunRow>{{1, "w", 0, 1, true}, {2, "w", 1, 2, false}, {3, "w", 2, 3, false}}));
}

TEST(Simulator, WithoutCallingFunctionsValuesAreEmpty) {
  Simulator sim = simulator({worker("w", 1)});
  sim.call_functions = false;
  Driver d(sim);
  d.submit_call("refuse", args(3));
  d.run_all();
  EXPECT_EQ(d.events().of(1).status, ResultStatus::success);
  EXPECT_TRUE(d.events().of(1).value.empty());
}

TEST(Simulator, ExecTasksSucceedWithoutOutputs) {
  Driver d(simulator({worker("w", 1)}));
  TaskSpec spec;
  spec.kind = TaskSpec::Kind::exec;
  spec.program = "/bin/false";
  spec.outputs.push_back(OutputSpec{"out.txt", 100, false});
  d.submit(spec);
  d.run_all();
  EXPECT_EQ(d.events().of(1).status, ResultStatus::success);
  EXPECT_TRUE(d.events().of(1).outputs.empty());
}

TEST(Simulator, EachWorkerCallsOncePerWorker) {
  Driver d(simulator({worker("a", 1), worker("b", 1), worker("c", 1)}));
  init_calls = 0;
  d.iface().each_worker(fn("count_init"), args());
  EXPECT_EQ(init_calls, 3);
  EXPECT_EQ(d.iface().status().details["clock"], "0");
  std::string message = error_of([&] { d.iface().each_worker(fn("refuse"), args(1)); }, Errc::task_failed);
  EXPECT_NE(message.find("refused 1"), std::string::npos);
  message = error_of([&] { d.iface().each_worker(fn("nope"), args()); }, Errc::task_failed);
  EXPECT_NE(message.find("nope"), std::string::npos);
}

// ---- cancel --------------------------------------------------------------------------------

TEST(Simulator, CancellingFreesTheWorkerAtOnce) {
  Driver d(simulator({worker("w", 1)}));
  const auto long_task = d.submit(10);
  d.submit(1);
  d.dispatch();
  EXPECT_FALSE(d.iface().reserve_worker());
  d.cancel(long_task);
  EXPECT_EQ(d.events().available, 1);
  EXPECT_TRUE(d.iface().reserve_worker());
  d.run_all();
  ASSERT_EQ(d.events().finished.size(), 1u);
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{2, "w", 0, 1, true}}));
}

// A and A2 leave at 5, cutting off tasks 1 and 2; at 6 B takes task1 and
// task2 still waits for a worker when the master cancels it.
TEST(Simulator, CancellingATaskWaitingForAReRunDropsIt) {
  Driver d(simulator({worker("A", 1, {{0, 5}}), worker("A2", 1, {{0, 5}}), worker("B", 1)}));
  d.submit(7);  // A, cut off
  d.submit(7);  // A2, cut off
  d.submit(6);  // B [0,6)
  d.dispatch();
  ASSERT_TRUE(d.iface().on_master_waiting());  // t=6
  EXPECT_EQ(d.iface().status().workers[2].task, std::optional<std::uint64_t>(1));
  d.cancel(2);
  d.run_all();
  EXPECT_EQ(rows(d.report()), (std::vector<RunRow>{{3, "B", 0, 6, true}, {1, "B", 6, 13, true}}));
  EXPECT_EQ(d.report().interruptions, 2u);
  EXPECT_FALSE(d.iface().on_master_waiting());
}

// ---- 7. bad configurations ----------------------------------------------------------------

TEST(Simulator, BadConfigsNameTheWorkerAndField) {
  auto message_of = [](Simulator sim) {
    return error_of([&] { sim.make_interface(); }, Errc::usage);
  };
  EXPECT_NE(message_of(simulator({})).find("workers is empty"), std::string::npos);

  std::string m = message_of(simulator({worker("ok", 1), worker("slowpoke", 0)}));
  EXPECT_NE(m.find("'slowpoke'"), std::string::npos) << m;
  EXPECT_NE(m.find("speed"), std::string::npos) << m;

  m = message_of(simulator({worker("flaky", 1, {}, 1.5)}));
  EXPECT_NE(m.find("'flaky'"), std::string::npos) << m;
  EXPECT_NE(m.find("failure_rate"), std::string::npos) << m;

  m = message_of(simulator({worker("w", 1, {{5, 9}, {0, 3}})}));
  EXPECT_NE(m.find("'w'"), std::string::npos) << m;
  EXPECT_NE(m.find("availability[1]"), std::string::npos) << m;
  EXPECT_NE(m.find("sorted"), std::string::npos) << m;

  m = message_of(simulator({worker("w", 1, {{0, 6}, {5, 9}})}));
  EXPECT_NE(m.find("availability[1]"), std::string::npos) << m;

  m = message_of(simulator({worker("v", 1, {{4, 4}})}));
  EXPECT_NE(m.find("'v'"), std::string::npos) << m;
  EXPECT_NE(m.find("availability[0]"), std::string::npos) << m;
  EXPECT_NE(m.find("start must be less than end"), std::string::npos) << m;

  m = message_of(simulator({worker("twin", 1), worker("twin", 2)}));
  EXPECT_NE(m.find("'twin' (workers[1])"), std::string::npos) << m;
}

TEST(Simulator, UnnamedWorkersGetIndexNames) {
  Driver d(simulator({SimWorker{}, SimWorker{}}));
  EXPECT_EQ(d.iface().status().workers[1].name, "worker_1");
}

class NotASimulator : public Interface {
 public:
  std::string name() const override { return "other"; }
  void start(InterfaceEvents&) override {}
  std::optional<WorkerId> reserve_worker() override { return std::nullopt; }
  void execute_task(WorkerId, std::shared_ptr<const TaskSpec>) override {}
  void cancel_task(std::uint64_t) override {}
  void each_worker(const Function&, const Args&) override {}
  InterfaceStatus status() const override { return {}; }
  void shutdown() override {}
};

TEST(Simulator, ReportOfAnotherInterfaceIsAUsageError) {
  NotASimulator other;
  std::string m = error_of([&] { simulation_report(other); }, Errc::usage);
  EXPECT_NE(m.find("'other'"), std::string::npos) << m;
}

// ---- through mw::Master ------------------------------------------------------------------------

TEST(SimulatorMaster, RunsTheHandCheckedScheduleWithRealValues) {
  auto iface = simulator({worker("fast", 2), worker("slow", 1)}).make_interface();
  const Interface& sim = *iface;
  Master master(std::move(iface));
  std::vector<Task> tasks;
  int x = 1;
  for (double cost : {4, 4, 2, 2, 2}) {
    TaskOptions options;
    options.estimates.cpu_seconds = cost;
    tasks.push_back(master.submit_task(fn("square"), args(x++), options));
  }
  std::vector<std::uint64_t> order;
  for (int i = 0; i < 5; ++i) {
    Finished f = master.get_result();
    order.push_back(f.task.id);
    EXPECT_EQ(f.result.value<int>(), static_cast<int>(f.task.id * f.task.id));
  }
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 3, 2, 4, 5}));
  EXPECT_EQ(rows(simulation_report(sim)), kHandSchedule);
  Status st = master.status();
  EXPECT_EQ(st.interface, "simulator");
  EXPECT_EQ(st.details.details["makespan"], "5");
  EXPECT_EQ(st.details.details["utilisation"], "0.9");
}

TEST(SimulatorMaster, MapGivesValuesInInputOrder) {
  Master master(simulator({worker("a", 1), worker("b", 3)}));
  EXPECT_EQ(master.map<int>(fn("square"), std::vector<int>{1, 2, 3, 4}), (std::vector<int>{1, 4, 9, 16}));
}

// Issue 21: typed submission on the simulator, and its submit-time checks
// (the simulator calls this program's functions).
TEST(SimulatorMaster, TypedSubmitAndMap) {
  Master master(simulator({worker("a", 1), worker("b", 3)}));
  auto t = master.submit(mw_task_count_hits, 4, 5u);
  std::uint64_t hits = master.get_result(t);
  EXPECT_EQ(hits, 4005u);
  EXPECT_EQ(master.map(mw_task_square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
  EXPECT_THAT(error_of([&] { master.submit_task(fn("count_hits"), args(7, 2)); }, Errc::usage),
              ::testing::HasSubstr("argument 1 of count_hits(std::uint64_t, std::uint64_t) is std::int32_t (int)"));
  EXPECT_THAT(error_of([&] { master.submit_task(fn("shuot"), args(1)); }, Errc::usage),
              ::testing::HasSubstr("no function named 'shuot' is registered in this program (MW_TASK(shuot) "
                                   "missing?); registered: count_hits, count_init, refuse, square"));
}

// The master's dispatcher thread must not change anything: the same schedule
// as the single-threaded driver, every time.
TEST(SimulatorMaster, ScheduleIsTheDriversWhateverTheThreadsDo) {
  const RunResult expected = run_random_grid(7);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto iface = random_grid(7).make_interface();
    const Interface& sim = *iface;
    Master master(std::move(iface));
    for (int i = 0; i < 50; ++i) master.submit_task(Exec("/bin/true"));
    std::size_t failed = 0;
    for (int i = 0; i < 50; ++i) {
      try {
        master.get_result();
      } catch (const TaskFailed& e) {
        EXPECT_NE(e.reason().find("simulated failure"), std::string::npos);
        ++failed;
      }
    }
    SimReport r = simulation_report(sim);
    EXPECT_EQ(rows(r), expected.schedule) << "attempt " << attempt;
    EXPECT_EQ(failed, r.failures);
  }
}

TEST(SimulatorMaster, GetResultOfOneTaskAdvancesTheClock) {
  auto iface = simulator({worker("w", 1)}).make_interface();
  const Interface& sim = *iface;
  Master master(std::move(iface));
  TaskOptions slow, quick;
  slow.estimates.cpu_seconds = 10;
  quick.estimates.cpu_seconds = 1;
  Task a = master.submit_task(fn("square"), args(3), slow);
  Task b = master.submit_task(fn("square"), args(4), quick);
  EXPECT_EQ(master.get_result(b).value<int>(), 16);
  EXPECT_EQ(master.get_result(a).value<int>(), 9);
  EXPECT_EQ(rows(simulation_report(sim)), (std::vector<RunRow>{{1, "w", 0, 10, true}, {2, "w", 10, 11, true}}));
}

}  // namespace
}  // namespace mw
