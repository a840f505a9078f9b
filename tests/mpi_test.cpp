// The MPI interface with a real mpirun (Open MPI, 2–3 worker ranks,
// oversubscribed): tasks of both kinds, a crashing task, a rank killed with
// SIGKILL, each_worker, and a master killed with SIGKILL leaving no process
// behind (checked in the process table).
// This binary is its own worker program, and with --orphan-master it is the
// master that the orphan test kills (see main at the bottom).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "interfaces/mpi_protocol.h"
#include "mw/master.h"
#include "mw/mpi.h"
#include "mw/worker.h"
#include "support/test_support.h"

// ---- functions the ranks run ----------------------------------------------------
int square(int x) { return x * x; }
MW_TASK(square);

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

int g_initialised = 0;
void initialise(int value) { g_initialised = value; }
MW_TASK(initialise);
int initialised() { return g_initialised; }
MW_TASK(initialised);

std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) { return seed * 1000 + samples; }
MW_TASK(count_hits);

namespace {

using namespace std::chrono_literals;

mw::Mpi test_mpi(unsigned ranks) {
  mw::Mpi mpi{ranks};
  mpi.mpi_worker = MW_MPI_WORKER;
  mpi.oversubscribe = true;
  return mpi;
}

// Every process whose parent chain leads to `root` (root excluded).
std::set<int> descendants(int root) {
  std::map<int, int> parent;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      const int pid = std::atoi(e->d_name);
      if (pid <= 0) continue;
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      const auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      char state;
      int ppid = 0;
      rest >> state >> ppid;
      if (state != 'Z') parent[pid] = ppid;
    }
    closedir(d);
  }
  std::set<int> out;
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, ppid] : parent)
      if ((ppid == root || out.count(ppid)) && !out.count(pid)) grew = out.insert(pid).second || grew;
  }
  return out;
}

bool alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

std::string cmdline(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

int pid_in_worker_name(const std::string& name) {
  const auto at = name.find("(pid ");
  return at == std::string::npos ? 0 : std::atoi(name.c_str() + at + 5);
}

void expect_all_gone(const std::set<int>& pids, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  std::set<int> left = pids;
  while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
    for (auto it = left.begin(); it != left.end();) it = alive(*it) ? std::next(it) : left.erase(it);
    std::this_thread::sleep_for(100ms);
  }
  for (int pid : left) {
    ADD_FAILURE() << "process " << pid << " outlived its master: " << cmdline(pid);
    kill(pid, SIGKILL);
  }
}

TEST(MpiProtocol, TaskSpecsSurviveTheWire) {
  mw::TaskSpec t;
  t.id = 42;
  t.name = "wc";
  t.kind = mw::TaskSpec::Kind::exec;
  t.program = "/usr/bin/wc";
  t.arguments = {"-w", "input.txt"};
  t.inputs.push_back({"input.txt", "", "one two"});
  t.outputs.push_back({"out", 100, true});
  t.env = {{"OMP_NUM_THREADS", "1"}, {"WITH_EQUALS", "a=b"}};
  t.limits.wall_seconds = 3.5;
  t.estimates.memory_bytes = 1 << 20;
  const mw::TaskSpec u = mw::detail::decode_task_spec(mw::detail::encode_task_spec(t), "test");
  EXPECT_EQ(u.id, 42u);
  EXPECT_EQ(u.kind, mw::TaskSpec::Kind::exec);
  EXPECT_EQ(u.arguments, t.arguments);
  ASSERT_EQ(u.inputs.size(), 1u);
  EXPECT_EQ(u.inputs[0].bytes, "one two");
  ASSERT_EQ(u.outputs.size(), 1u);
  EXPECT_TRUE(u.outputs[0].optional);
  EXPECT_EQ(u.env, t.env) << "declared environment lost on the way to a rank";
  EXPECT_EQ(u.limits.wall_seconds, 3.5);
  EXPECT_FALSE(u.limits.cpu_seconds);
  EXPECT_EQ(u.estimates.memory_bytes, 1u << 20);
  const std::string bytes = mw::detail::encode_task_spec(t);
  mw::test::error_of([&] { mw::detail::decode_task_spec(bytes.substr(0, bytes.size() / 2), "task from rank 0"); },
                     mw::Errc::format);
}

TEST(Mpi, RunsFunctionAndExecTasksOnEveryRank) {
  mw::Master master(test_mpi(3));
  std::vector<mw::Task> tasks;
  for (int i = 0; i < 60; ++i) tasks.push_back(master.submit_task(mw::fn("square"), mw::args(i)));
  const mw::Task exec = master.submit_task(
      mw::Exec("/bin/sh", {"-c", "cat in.txt; echo done > out.txt"}).input_bytes("in.txt", "hello").output("out.txt"));
  std::set<std::string> ranks_used;
  for (int i = 0; i < 60; ++i) {
    mw::Result r = master.get_result(tasks[static_cast<std::size_t>(i)]);
    EXPECT_EQ(r.value<int>(), i * i);
    ranks_used.insert(r.outcome().worker.substr(0, r.outcome().worker.find('@')));
  }
  mw::Result e = master.get_result(exec);
  EXPECT_EQ(e.stdout_text(), "hello");
  EXPECT_EQ(e.output("out.txt"), "done\n");
  EXPECT_EQ(ranks_used, (std::set<std::string>{"rank-1", "rank-2", "rank-3"}));
  const mw::Status st = master.status();
  EXPECT_EQ(st.interface, "mpi");
  ASSERT_EQ(st.details.workers.size(), 3u);
  EXPECT_EQ(st.details.details.at("ranks"), "4");
  EXPECT_GT(std::stod(st.details.details.at("init_seconds")), 0.0);
  EXPECT_EQ(st.details.details.at("job_restarts"), "0");
}

// Issue 21: typed submission's bytes are what the ranks decode (ints
// converted to std::uint64_t before they are encoded).
TEST(Mpi, TypedSubmitAndMapRoundTrip) {
  mw::Master master(test_mpi(2));
  auto t = master.submit(mw_task_count_hits, 7, 8);
  std::uint64_t hits = master.get_result(t);
  EXPECT_EQ(hits, 7008u);
  EXPECT_EQ(master.map(mw_task_square, std::vector<short>{2, 3}), (std::vector<int>{4, 9}));
}

TEST(Mpi, ACrashingTaskFailsAloneAndTheRankCarriesOn) {
  mw::Master master(test_mpi(2));
  const mw::Task crash = master.submit_task(mw::fn("die_now"), mw::args());
  std::vector<mw::Task> fine;
  for (int i = 0; i < 10; ++i) fine.push_back(master.submit_task(mw::fn("square"), mw::args(i)));
  try {
    master.get_result(crash);
    ADD_FAILURE() << "a task that killed its worker process succeeded";
  } catch (const mw::TaskFailed& e) {
    EXPECT_EQ(e.status(), mw::ResultStatus::signaled) << e.what();
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(master.get_result(fine[static_cast<std::size_t>(i)]).value<int>(), i * i);
  EXPECT_EQ(master.status().details.details.at("job_restarts"), "0");
}

TEST(Mpi, EachWorkerRunsOnEveryRank) {
  mw::Master master(test_mpi(2));
  master.each_worker(mw::fn("initialise"), mw::args(7));
  std::vector<mw::Task> tasks;
  for (int i = 0; i < 8; ++i) tasks.push_back(master.submit_task(mw::fn("initialised"), mw::args()));
  for (auto t : tasks) EXPECT_EQ(master.get_result(t).value<int>(), 7);
}

TEST(Mpi, AKilledRankFailsOnlyItsTasks) {
  mw::Mpi mpi = test_mpi(2);
  mpi.pipeline_depth = 1;  // one task per rank, so the test knows where each runs
  mw::Master master(mpi);
  const mw::Task victim = master.submit_task(mw::fn("sleep_ms"), mw::args(20000));
  const mw::Task bystander = master.submit_task(mw::fn("sleep_ms"), mw::args(1500));
  int rank1_pid = 0;
  for (int i = 0; i < 100 && !rank1_pid; ++i) {
    const auto st = master.status();
    if (st.details.workers[0].task == victim.id && st.details.workers[1].task == bystander.id)
      rank1_pid = pid_in_worker_name(st.details.workers[0].name);
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(rank1_pid, 0) << "the two tasks did not start on ranks 1 and 2";
  std::set<int> rank1_tree = descendants(rank1_pid);
  ASSERT_FALSE(rank1_tree.empty()) << "rank 1 has no worker process";
  ASSERT_EQ(kill(rank1_pid, SIGKILL), 0);
  try {
    master.get_result(victim);
    ADD_FAILURE() << "the task of a killed rank succeeded";
  } catch (const mw::TaskFailed& e) {
    EXPECT_THAT(e.reason(), ::testing::HasSubstr("MPI rank 1 died"));
  }
  // The other rank's task is sent to the restarted job and succeeds.
  EXPECT_EQ(master.get_result(bystander).value<int>(), 1500);
  EXPECT_EQ(master.get_result(master.submit_task(mw::fn("square"), mw::args(9))).value<int>(), 81);
  EXPECT_EQ(master.status().details.details.at("job_restarts"), "1");
  expect_all_gone(rank1_tree, std::chrono::seconds(5));  // its worker died with it
}

TEST(Mpi, AMissingMpirunIsAClearError) {
  mw::Mpi mpi = test_mpi(1);
  mpi.mpirun = "/nonexistent/mpirun";
  const std::string message =
      mw::test::error_of([&] { mw::Master master(mpi); }, mw::Errc::system);
  EXPECT_THAT(message, ::testing::HasSubstr("/nonexistent/mpirun"));
}

// Starts this binary as a master (--orphan-master), waits until its ranks run
// a function task and an exec task, and returns its pid and its descendants.
// With `tmpdir`, the master makes its temporary files there.
std::pair<int, std::set<int>> start_orphan_master(int& from_child, const std::string& tmpdir = "") {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    if (!tmpdir.empty()) setenv("TMPDIR", tmpdir.c_str(), 1);
    ::close(out[0]);
    ::close(out[1]);
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    execl(self, self, "--orphan-master", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out[1]);
  from_child = out[0];
  std::string line;
  char c;
  while (::read(from_child, &c, 1) == 1 && c != '\n') line += c;
  EXPECT_EQ(line, "running");
  return {pid, descendants(pid)};
}

TEST(Mpi, AMasterKilledWithSigkillLeavesNoProcessBehind) {
  int from_child = -1;
  auto [master, tree] = start_orphan_master(from_child);
  // mpirun, its 3 ranks, 2 persistent workers and an exec task at least.
  std::string names;
  for (int pid : tree) names += cmdline(pid) + "\n";
  EXPECT_THAT(names, ::testing::HasSubstr("mw-mpi-worker"));
  EXPECT_THAT(names, ::testing::HasSubstr("--mw-worker"));
  EXPECT_THAT(names, ::testing::HasSubstr("sleep 120"));
  ASSERT_GE(tree.size(), 6u) << names;
  kill(master, SIGKILL);
  waitpid(master, nullptr, 0);
  ::close(from_child);
  expect_all_gone(tree, std::chrono::seconds(20));
}

// Ctrl-C, SIGTERM, a closed terminal: the master kills the job (every rank
// and its tasks), removes its socket directory and dies of the signal.
TEST(Mpi, AMasterStoppedBySigtermLeavesNoProcessAndNoTemporaryFiles) {
  mw::test::ScratchDir tmp;
  int from_child = -1;
  auto [master, tree] = start_orphan_master(from_child, tmp.path());
  ASSERT_GE(tree.size(), 6u);
  ASSERT_FALSE(mw::test::list_tree(tmp.path()).empty()) << "no socket directory to check";
  kill(master, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(master, &status, 0), master);
  ::close(from_child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
  expect_all_gone(tree, std::chrono::seconds(20));
  EXPECT_THAT(mw::test::list_tree(tmp.path()), ::testing::IsEmpty());
}

TEST(Mpi, AMasterThatEndsNormallyLeavesNoProcessBehind) {
  std::set<int> tree;
  const std::set<int> before = descendants(getpid());
  {
    mw::Master master(test_mpi(2));
    master.submit_task(mw::fn("sleep_ms"), mw::args(60000));
    master.submit_task(mw::Exec("/bin/sleep", {"120"}));
    std::this_thread::sleep_for(1s);
    for (int pid : descendants(getpid()))
      if (!before.count(pid)) tree.insert(pid);
    ASSERT_GE(tree.size(), 5u);
  }
  expect_all_gone(tree, std::chrono::seconds(5));
}

// The master of the orphan test: keeps both ranks busy, then waits to be killed.
int orphan_master() {
  mw::Master master(test_mpi(2));
  master.submit_task(mw::fn("sleep_ms"), mw::args(120000));
  master.submit_task(mw::Exec("/bin/sleep", {"120"}));
  std::this_thread::sleep_for(1500ms);
  std::cout << "running" << std::endl;
  std::this_thread::sleep_for(300s);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "--orphan-master") == 0) return orphan_master();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
