// mw::Master on the multicore interface: every contract of the API, worker
// crashes and limits, and a journal that survives a real SIGKILL.
// This binary is its own worker program (see main at the bottom).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "mw/master.h"
#include "mw/multicore.h"
#include "mw/worker.h"
#include "support/test_support.h"

// ---- functions the workers run ---------------------------------------------
int square(int x) { return x * x; }
MW_TASK(square);

std::string shout(std::string text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text + "!";
  return out;
}
MW_TASK(shout);

int fail_loudly(int code) {
  std::fprintf(stderr, "about to fail with %d\n", code);
  std::fflush(stderr);
  throw std::runtime_error("deliberate failure " + std::to_string(code));
}
MW_TASK(fail_loudly);

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
MW_TASK(sleep_ms);

int die_now() {
  raise(SIGKILL);
  return 0;
}
MW_TASK(die_now);

int hold_memory(int megabytes) {
  std::vector<char> block(static_cast<std::size_t>(megabytes) << 20);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
  std::this_thread::sleep_for(std::chrono::seconds(10));
  return block[0];
}
MW_TASK(hold_memory);

int worker_pid() { return static_cast<int>(getpid()); }
MW_TASK(worker_pid);

static int g_offset = 0;
void set_offset(int offset) { g_offset = offset; }
MW_TASK(set_offset);
int add_offset(int x) { return x + g_offset; }
MW_TASK(add_offset);

// Issue 21: the reported case, a std::uint64_t parameter given an int.
std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) { return seed * 1000 + samples; }
MW_TASK(count_hits);

namespace mw {
namespace {

using ::testing::HasSubstr;
using test::error_of;


TEST(Master, FunctionTaskRoundTrip) {
  Master master(Multicore{2});
  Task t = master.submit_task(fn("square"), args(7));
  EXPECT_EQ(t.id, 1u);
  EXPECT_EQ(master.get_result(t).value<int>(), 49);
  Task s = master.submit_task(fn("shout"), args(std::string("hey"), 3));
  EXPECT_EQ(master.get_result(s).value<std::string>(), "hey!hey!hey!");
}

TEST(Master, GetResultAnyDeliversEachTaskOnce) {
  Master master(Multicore{2});
  std::set<std::uint64_t> submitted;
  for (int i = 0; i < 40; ++i) submitted.insert(master.submit_task(fn("square"), args(i)).id);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 40; ++i) {
    auto [task, result] = master.get_result();
    EXPECT_TRUE(seen.insert(task.id).second) << "task " << task.id << " delivered twice";
    int input = static_cast<int>(task.id) - 1;
    EXPECT_EQ(result.value<int>(), input * input);
  }
  EXPECT_EQ(seen, submitted);
  EXPECT_THAT(error_of([&] { master.get_result(); }, Errc::unknown_task), HasSubstr("no task is outstanding"));
  EXPECT_FALSE(master.try_get_result().has_value());
}

TEST(Master, NonBlockingReturnsEmptyUntilDone) {
  Master master(Multicore{1});
  Task t = master.submit_task(fn("sleep_ms"), args(400));
  EXPECT_FALSE(master.get_result(t, false).has_value());
  EXPECT_FALSE(master.try_get_result().has_value());
  auto r = master.get_result(t, true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value<int>(), 400);
}

TEST(Master, UnknownAndAlreadyDeliveredTasksAreErrors) {
  Master master(Multicore{1});
  EXPECT_THAT(error_of([&] { master.get_result(Task{999}); }, Errc::unknown_task),
              HasSubstr("task 999 was never submitted"));
  Task t = master.submit_task(fn("square"), args(3));
  EXPECT_EQ(master.get_result(t).value<int>(), 9);
  EXPECT_THAT(error_of([&] { master.get_result(t); }, Errc::unknown_task), HasSubstr("already delivered"));
}

TEST(Master, FailedTaskRaisesWithReasonAndStderrTail) {
  Master master(Multicore{1});
  Task t = master.submit_task(fn("fail_loudly"), args(42));
  try {
    master.get_result(t);
    FAIL() << "expected TaskFailed";
  } catch (const TaskFailed& e) {
    EXPECT_EQ(e.task(), t);
    EXPECT_THAT(e.reason(), HasSubstr("deliberate failure 42"));
    EXPECT_THAT(e.stderr_tail(), HasSubstr("about to fail with 42"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("about to fail with 42"));
  }
  // The worker survived: the next task runs on it.
  EXPECT_EQ(master.get_result(master.submit_task(fn("square"), args(5))).value<int>(), 25);
}

TEST(Master, AnyOrderGetResultAlsoRaisesForFailures) {
  Master master(Multicore{1});
  master.submit_task(fn("fail_loudly"), args(1));
  try {
    master.get_result();
    FAIL() << "expected TaskFailed";
  } catch (const TaskFailed& e) {
    EXPECT_EQ(e.task().id, 1u);
  }
}

// Multicore's workers run this program, so a name it never registered is
// refused when submitted (issue 21), with the names it has.
TEST(Master, UnregisteredFunctionIsRefusedAtSubmit) {
  Master master(Multicore{1});
  const std::string message =
      error_of([&] { master.submit_task(fn("no_such_function"), args(1)); }, Errc::usage);
  EXPECT_THAT(message, HasSubstr("no function named 'no_such_function'"));
  EXPECT_THAT(message, HasSubstr("registered: add_offset, count_hits, die_now"));
}

// A worker program the master cannot look into ("/proc/self/exe" is this
// program under another name): the task fails when it runs, saying which
// names that worker has.
TEST(Master, UnregisteredFunctionFailsTheTaskOnAnotherWorkerProgram) {
  Multicore other;
  other.workers = 1;
  other.worker_program = "/proc/self/exe";
  Master master(other);
  Task t = master.submit_task(fn("no_such_function"), args(1));
  const std::string message = error_of([&] { master.get_result(t); }, Errc::task_failed);
  EXPECT_THAT(message, HasSubstr("no function named 'no_such_function'"));
  EXPECT_THAT(message, HasSubstr("registered: add_offset, count_hits, die_now"));
}

// By name with mw::args, in a program that registered the function: the
// types are compared at submit time, naming the position and both types.
TEST(Master, StringFormWithWrongArgumentsIsRefusedAtSubmit) {
  Master master(Multicore{1});
  std::string message =
      error_of([&] { master.submit_task(fn("count_hits"), args(7, std::uint64_t{2})); }, Errc::usage);
  EXPECT_THAT(message, HasSubstr("argument 1 of count_hits(std::uint64_t, std::uint64_t) is "
                                 "std::int32_t (int), the parameter is std::uint64_t"));
  message = error_of([&] { master.submit_task(fn("square"), args(std::string("x"), 2)); }, Errc::usage);
  EXPECT_THAT(message, HasSubstr("square(std::int32_t (int)) takes 1 argument(s), mw::args has 2"));
}

// Bytes that carry no types (made without mw::args, or for another worker
// program): the worker names the argument whose read went wrong and its type.
TEST(Master, ArgumentsThatDoNotMatchTheSignatureFailTheTask) {
  Master master(Multicore{1});
  Task t = master.submit_task(fn("square"), Args{encode_values(std::string("not an int"), 2)});
  EXPECT_THAT(error_of([&] { master.get_result(t); }, Errc::task_failed),
              HasSubstr("square(std::int32_t (int)) takes 1 argument(s), the task carries 2"));
  // The reported case: an int (4 bytes) where a std::uint64_t (8) is read.
  Task u = master.submit_task(fn("count_hits"), Args{encode_values(std::uint64_t{1}, 7)});
  EXPECT_THAT(error_of([&] { master.get_result(u); }, Errc::task_failed),
              HasSubstr("argument 2 of 2 does not decode as std::uint64_t"));
  Task v = master.submit_task(fn("square"), Args{encode_values(std::uint64_t{7})});
  EXPECT_THAT(error_of([&] { master.get_result(v); }, Errc::task_failed),
              HasSubstr("bytes left over after the last argument: square(std::int32_t (int)) was "
                        "sent an argument of a wider type"));
}

// Issue 21: typed submission through the registration MW_TASK defines.
TEST(Master, TypedSubmitConvertsArgumentsAndKnowsTheResultType) {
  Master master(Multicore{2});
  TypedTask<std::uint64_t> t = master.submit(mw_task_count_hits, 7, 2'000'000);  // ints, converted
  std::uint64_t hits = master.get_result(t);
  EXPECT_EQ(hits, 7u * 1000 + 2'000'000);
  auto s = master.submit(mw_task_shout, "hey", 2);  // const char* becomes std::string
  std::string text = master.get_result(s);
  EXPECT_EQ(text, "hey!hey!");
  // The untyped calls take a typed handle too: it is a Task.
  auto q = master.submit(mw_task_square, 9);
  EXPECT_EQ(master.get_result(static_cast<Task>(q)).value<int>(), 81);
  std::optional<int> later;
  auto r = master.submit(mw_task_square, short{5});
  while (!(later = master.get_result(r, false))) std::this_thread::yield();
  EXPECT_EQ(*later, 25);
}

TEST(Master, TypedSubmitRefusesAnIntegerThatDoesNotFit) {
  Master master(Multicore{1});
  EXPECT_THAT(error_of([&] { master.submit(mw_task_count_hits, -1, 2); }, Errc::usage),
              HasSubstr("argument 1 is -1, which does not fit its parameter's type std::uint64_t"));
  EXPECT_THAT(error_of([&] { master.submit(mw_task_square, std::uint64_t{1} << 40); }, Errc::usage),
              HasSubstr("argument 1 is 1099511627776"));
}

TEST(Master, TypedVoidFunctionAndOptionsAndMap) {
  Master master(Multicore{1});
  TaskOptions options;
  options.name = "offset";
  auto t = master.submit(options, mw_task_set_offset, 3);
  master.get_result(t);  // void: waits, throws on failure
  EXPECT_EQ(master.map(mw_task_square, std::vector<long>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
  EXPECT_EQ(master.map(mw_task_count_hits, std::vector<std::tuple<int, int>>{{1, 2}, {3, 4}}),
            (std::vector<std::uint64_t>{1002, 3004}));
  master.each_worker(fn(mw_task_set_offset), args(0));
}

TEST(Master, ExecTaskWithInputsOutputsAndStdout) {
  Master master(Multicore{2});
  Task t = master.submit_task(Exec("sh", {"-c", "tr a-z A-Z < in.txt > out.txt; echo done"})
                                  .input_bytes("in.txt", "hello")
                                  .output("out.txt"));
  Result r = master.get_result(t);
  EXPECT_EQ(r.output("out.txt"), "HELLO");
  EXPECT_EQ(r.stdout_text(), "done\n");
  EXPECT_THAT(error_of([&] { r.output("nope"); }, Errc::usage), HasSubstr("'nope'"));
}

// Issue 20: a multicore exec task sees the fixed base plus what it declares,
// never the master's own environment.
TEST(Master, ExecTaskEnvironmentIsExplicit) {
  ASSERT_EQ(setenv("MW_SECRET", "master only", 1), 0);
  Master master(Multicore{1});
  Task t = master.submit_task(
      Exec(MW_TASK_PROBE, {"env", "MW_SECRET", "env", "GREETING", "pwd", "env", "PWD"}).env("GREETING", "hi"));
  const std::string out = master.get_result(t).stdout_text();
  unsetenv("MW_SECRET");
  std::istringstream lines(out);
  std::string secret, greeting, cwd, pwd;
  std::getline(lines, secret);
  std::getline(lines, greeting);
  std::getline(lines, cwd);
  std::getline(lines, pwd);
  EXPECT_EQ(secret, "<unset>");
  EXPECT_EQ(greeting, "hi");
  EXPECT_EQ(pwd, cwd);
  EXPECT_THAT(error_of([] { Exec("/bin/true").env("PWD", "/"); }, Errc::usage), HasSubstr("PWD"));
}

TEST(Master, ExecTaskFromAFileInput) {
  test::ScratchDir dir;
  test::write_text(dir / "words.txt", "one two three\n");
  Master master(Multicore{1});
  Task t = master.submit_task(Exec("/usr/bin/wc", {"-w", "w.txt"}).input(dir / "words.txt", "w.txt"));
  EXPECT_THAT(master.get_result(t).stdout_text(), HasSubstr("3"));
}

TEST(Master, FailingExecTaskRaises) {
  Master master(Multicore{1});
  Task t = master.submit_task(Exec("/bin/sh", {"-c", "echo broken >&2; exit 3"}));
  try {
    master.get_result(t);
    FAIL();
  } catch (const TaskFailed& e) {
    EXPECT_EQ(e.status(), ResultStatus::nonzero_exit);
    EXPECT_THAT(e.stderr_tail(), HasSubstr("broken"));
  }
  Task missing = master.submit_task(Exec("/bin/true").output("never.txt"));
  EXPECT_THAT(error_of([&] { master.get_result(missing); }, Errc::task_failed), HasSubstr("'never.txt'"));
  EXPECT_THAT(error_of([&] { master.submit_task(Exec("no-such-program-anywhere")); }, Errc::usage),
              HasSubstr("not found on PATH"));
}

TEST(Master, MapReturnsResultsInInputOrder) {
  Master master(Multicore{2});
  std::vector<int> inputs;
  for (int i = 0; i < 60; ++i) inputs.push_back(60 - i);
  std::vector<int> out = master.map<int>(fn("square"), inputs);
  ASSERT_EQ(out.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) EXPECT_EQ(out[i], inputs[i] * inputs[i]);
}

TEST(Master, EachWorkerInitialisesEveryWorkerIncludingReplacements) {
  Master master(Multicore{2});
  master.each_worker(fn("set_offset"), args(1000));
  std::vector<int> out = master.map<int>(fn("add_offset"), std::vector<int>{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(out, (std::vector<int>{1001, 1002, 1003, 1004, 1005, 1006}));
  // A worker that dies is replaced, and the replacement is initialised too.
  Task dead = master.submit_task(fn("die_now"), args());
  EXPECT_THROW(master.get_result(dead), TaskFailed);
  out = master.map<int>(fn("add_offset"), std::vector<int>{7, 8, 9, 10});
  EXPECT_EQ(out, (std::vector<int>{1007, 1008, 1009, 1010}));
}

TEST(Master, AWorkerKilledMidTaskFailsOnlyThatTask) {
  Master master(Multicore{1});
  int pid = master.get_result(master.submit_task(fn("worker_pid"), args())).value<int>();
  Task slow = master.submit_task(fn("sleep_ms"), args(5000));
  Task queued = master.submit_task(fn("square"), args(6));  // pipelined behind it on the same worker
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  try {
    master.get_result(slow);
    FAIL();
  } catch (const TaskFailed& e) {
    EXPECT_EQ(e.status(), ResultStatus::signaled);
    EXPECT_THAT(e.reason(), HasSubstr("signal 9"));
  }
  EXPECT_EQ(master.get_result(queued).value<int>(), 36);
  int new_pid = master.get_result(master.submit_task(fn("worker_pid"), args())).value<int>();
  EXPECT_NE(new_pid, pid);
  EXPECT_EQ(master.status().details.details.at("worker_restarts"), "1");
}

TEST(Master, FunctionTaskLimits) {
  Master master(Multicore{2});
  TaskOptions wall;
  wall.limits.wall_seconds = 0.3;
  Task slow = master.submit_task(fn("sleep_ms"), args(10000), wall);
  TaskOptions memory;
  memory.limits.memory_bytes = 64ULL << 20;
  Task big = master.submit_task(fn("hold_memory"), args(256), memory);
  try {
    master.get_result(slow);
    FAIL();
  } catch (const TaskFailed& e) {
    EXPECT_EQ(e.status(), ResultStatus::wall_time_exceeded);
  }
  try {
    master.get_result(big);
    FAIL();
  } catch (const TaskFailed& e) {
    EXPECT_EQ(e.status(), ResultStatus::memory_exceeded);
  }
  EXPECT_EQ(master.get_result(master.submit_task(fn("square"), args(4))).value<int>(), 16);
}

TEST(Master, ExecTaskLimits) {
  Master master(Multicore{1});
  TaskOptions wall;
  wall.limits.wall_seconds = 0.3;
  Task t = master.submit_task(Exec("/bin/sleep", {"10"}), wall);
  try {
    master.get_result(t);
    FAIL();
  } catch (const TaskFailed& e) {
    EXPECT_EQ(e.status(), ResultStatus::wall_time_exceeded);
  }
}

TEST(Master, CancelWaitingRunningAndFinishedTasks) {
  Master master(Multicore{1});
  Task running = master.submit_task(fn("sleep_ms"), args(5000));
  Task waiting = master.submit_task(Exec("/bin/sleep", {"5"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(master.cancel(waiting));
  EXPECT_TRUE(master.cancel(running));
  EXPECT_FALSE(master.cancel(running)) << "cancelling twice";
  EXPECT_THAT(error_of([&] { master.get_result(waiting); }, Errc::cancelled), HasSubstr("cancelled"));
  EXPECT_THAT(error_of([&] { master.get_result(running); }, Errc::cancelled), HasSubstr("cancelled"));
  auto start = std::chrono::steady_clock::now();
  Task after = master.submit_task(fn("square"), args(9));
  EXPECT_EQ(master.get_result(after).value<int>(), 81);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3))
      << "the cancelled task still occupied the worker";
  EXPECT_FALSE(master.cancel(after)) << "a delivered task cannot be cancelled";
  EXPECT_FALSE(master.cancel(Task{12345}));
  EXPECT_EQ(master.status().cancelled, 2u);
}

TEST(Master, CancelAll) {
  Master master(Multicore{1});
  for (int i = 0; i < 10; ++i) master.submit_task(fn("sleep_ms"), args(2000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(master.cancel_all(), 10u);
  EXPECT_THAT(error_of([&] { master.get_result(); }, Errc::unknown_task), HasSubstr("no task is outstanding"));
}

TEST(Master, BackPressureBoundsWaitingTasks) {
  MasterOptions options;
  options.max_waiting = 4;
  Master master(Multicore{1}, options);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> peak{0};
  std::thread watcher([&] {
    while (!done) {
      peak = std::max<std::uint64_t>(peak, master.status().waiting);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (int i = 0; i < 30; ++i) master.submit_task(fn("sleep_ms"), args(10));
  for (int i = 0; i < 30; ++i) master.get_result();
  done = true;
  watcher.join();
  EXPECT_LE(peak.load(), 4u);
  EXPECT_GT(peak.load(), 0u);
}

TEST(Master, ProgressCallbackSeesEveryTask) {
  std::atomic<std::uint64_t> calls{0}, last_finished{0};
  MasterOptions options;
  options.on_progress = [&](const Progress& p) {
    ++calls;
    last_finished = p.finished;
  };
  Master master(Multicore{2}, options);
  for (int i = 0; i < 25; ++i) master.submit_task(fn("square"), args(i));
  for (int i = 0; i < 25; ++i) master.get_result();
  EXPECT_EQ(calls.load(), 25u);
  EXPECT_EQ(last_finished.load(), 25u);
}

TEST(Master, StatusCountsAndWorkers) {
  Master master(Multicore{3});
  Task t = master.submit_task(fn("sleep_ms"), args(300));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Status s = master.status();
  EXPECT_EQ(s.interface, "multicore");
  EXPECT_EQ(s.running, 1u);
  EXPECT_EQ(s.details.workers.size(), 3u);
  master.get_result(t);
  s = master.status();
  EXPECT_EQ(s.running, 0u);
  EXPECT_EQ(s.delivered, 1u);
  std::uint64_t done = 0;
  for (const auto& w : s.details.workers) done += w.tasks_done;
  EXPECT_EQ(done, 1u);
}

// ---- the journal, across a real SIGKILL -------------------------------------

std::vector<int> read_numbers(const std::string& path) {
  std::vector<int> out;
  std::ifstream f(path);
  for (int n; f >> n;) out.push_back(n);
  return out;
}

TEST(MasterJournal, ResumesAfterSigkillWithoutRecomputingOrRedelivering) {
  test::ScratchDir dir;
  const int tasks = 16;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(MW_JOURNAL_MASTER, MW_JOURNAL_MASTER, dir.path().c_str(), std::to_string(tasks).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Let it deliver some results, then kill it without warning.
  for (int i = 0; i < 200 && read_numbers(dir / "delivered.log").size() < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  waitpid(pid, nullptr, 0);
  const std::vector<int> first_delivered = read_numbers(dir / "delivered.log");
  ASSERT_GE(first_delivered.size(), 5u);
  ASSERT_LT(first_delivered.size(), static_cast<std::size_t>(tasks)) << "killed too late to test anything";
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // orphaned workers finish and exit
  const std::vector<int> ran_before = read_numbers(dir / "ran.log");

  auto second = test::run_command({MW_JOURNAL_MASTER, dir.path(), std::to_string(tasks)});
  ASSERT_EQ(second.exit_code, 0) << second.err;

  std::vector<int> delivered = read_numbers(dir / "delivered.log");
  std::multiset<int> once(delivered.begin(), delivered.end());
  for (int i = 1; i <= tasks; ++i) EXPECT_EQ(once.count(i), 1u) << "task " << i;
  EXPECT_EQ(delivered.size(), static_cast<std::size_t>(tasks));

  // Nothing delivered in the first run ran again in the second.
  std::vector<int> ran = read_numbers(dir / "ran.log");
  std::multiset<int> runs(ran.begin(), ran.end());
  for (int id : first_delivered) EXPECT_EQ(runs.count(id), 1u) << "task " << id << " was recomputed";
  EXPECT_LT(ran.size(), ran_before.size() + tasks) << "the second run recomputed everything";
  EXPECT_THAT(second.out, HasSubstr("from_journal"));
}

// ---- A multicore master stopped by a signal (issue 20): workers stopped,
// exec task trees killed, scratch removed, death by the signal.

// "" once the process is gone.
std::string proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool dead_or_zombie(pid_t pid) {
  if (kill(pid, 0) == -1 && errno == ESRCH) return true;
  const std::string stat = proc_stat(pid);
  auto paren = stat.rfind(')');
  return paren == std::string::npos || (stat.size() > paren + 2 && stat[paren + 2] == 'Z');
}

// Children of `parent`, from /proc.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
  while (dirent* e = proc ? readdir(proc.get()) : nullptr) {
    const std::string name = e->d_name;
    if (name[0] < '1' || name[0] > '9') continue;
    const std::string stat = proc_stat(std::atoi(name.c_str()));
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") out.push_back(std::atoi(name.c_str()));
  }
  return out;
}

// tests/programs/stoppable_master running, with its two function workers and
// its exec task started and the exec task's setsid descendant escaped.
struct RunningStoppableMaster {
  test::ScratchDir dir;
  std::string scratch = dir / "scratch";
  pid_t master = -1;
  std::vector<pid_t> kids;  // the workers and the exec task
  pid_t escaped = -1;
};

void start_stoppable_master(RunningStoppableMaster& run) {
  ASSERT_EQ(mkdir(run.scratch.c_str(), 0700), 0);
  const std::string pidfile = run.dir / "escaped.pid";
  run.master = fork();
  ASSERT_GE(run.master, 0);
  if (run.master == 0) {
    execl(MW_STOPPABLE_MASTER, MW_STOPPABLE_MASTER, run.scratch.c_str(), MW_TASK_PROBE, pidfile.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    run.kids = children_of(run.master);
    struct stat st;
    if (run.kids.size() >= 3 && stat(pidfile.c_str(), &st) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(run.kids.size(), 3u) << "two workers and one exec task never all ran";
  run.escaped = static_cast<pid_t>(std::atol(test::read_text(pidfile).c_str()));
}

bool dies_within_3s(pid_t pid) {
  for (int i = 0; i < 300; ++i) {
    if (dead_or_zombie(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return dead_or_zombie(pid);
}

class MasterSignalTest : public ::testing::TestWithParam<int> {};

TEST_P(MasterSignalTest, StopsWorkersKillsTaskTreesRemovesScratchAndDies) {
  const int sig = GetParam();
  RunningStoppableMaster run;
  ASSERT_NO_FATAL_FAILURE(start_stoppable_master(run));
  const pid_t master = run.master, escaped = run.escaped;
  std::vector<pid_t> kids = run.kids;
  ASSERT_GT(escaped, 0);
  ASSERT_EQ(kill(master, sig), 0);
  int status = 0;
  ASSERT_EQ(waitpid(master, &status, 0), master);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
  kids.push_back(escaped);
  for (pid_t kid : kids) EXPECT_TRUE(dies_within_3s(kid)) << "process " << kid << " outlived its master";
  EXPECT_TRUE(test::list_tree(run.scratch).empty()) << "the exec tasks' scratch stayed";
}

// SIGKILL leaves the master no chance to clean up: its function workers must
// still end (they watch their task pipe), and its exec task (parent-death
// signal). The escaped setsid descendant and the scratch directory are beyond
// reach then (docs/task-format.md §10.1); the test removes them itself.
TEST(MasterKillTest, WorkersAndExecTasksEndWhenTheMasterIsKilled) {
  RunningStoppableMaster run;
  ASSERT_NO_FATAL_FAILURE(start_stoppable_master(run));
  const pid_t master = run.master, escaped = run.escaped;
  std::vector<pid_t> kids = run.kids;
  ASSERT_EQ(kill(master, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(master, &status, 0), master);
  // The escaped descendant may already be the master's child (a subreaper adopts orphans).
  for (pid_t kid : kids) {
    if (kid == escaped) continue;
    EXPECT_TRUE(dies_within_3s(kid)) << "process " << kid << " (a worker or the exec task) outlived its killed master";
  }
  if (escaped > 0) kill(escaped, SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Signals, MasterSignalTest, ::testing::Values(SIGTERM, SIGINT, SIGHUP),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

}  // namespace
}  // namespace mw


int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
