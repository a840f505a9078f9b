// run_process: one program under limits, its output captured, its whole
// process group gone afterwards. The program is tests/programs/task_probe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "runner/process.h"
#include "support/test_support.h"

namespace mw::detail {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr std::uint64_t kMiB = 1 << 20;

class ProcessTest : public ::testing::Test {
 protected:
  ProcessSpec probe(const std::vector<std::string>& actions) const {
    ProcessSpec spec;
    spec.argv = {MW_TASK_PROBE};
    spec.argv.insert(spec.argv.end(), actions.begin(), actions.end());
    spec.cwd = dir.path();
    return spec;
  }

  // Runs spec and records how long the call itself took.
  ProcessOutcome run(const ProcessSpec& spec) {
    const auto start = std::chrono::steady_clock::now();
    ProcessOutcome out = run_process(spec);
    call_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  }

  static bool group_gone(int pgid) {
    return pgid > 0 && kill(-pgid, 0) == -1 && errno == ESRCH;
  }

  static std::string flood_text(std::size_t n) {
    const std::string pattern = "0123456789abcdef";
    std::string s;
    while (s.size() < n) s += pattern;
    s.resize(n);
    return s;
  }

  test::ScratchDir dir;
  double call_seconds = 0;
};

TEST_F(ProcessTest, ExitCodePropagates) {
  ProcessOutcome r = run(probe({"exit", "7"}));
  EXPECT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.signal, 0);
  EXPECT_GT(r.pid, 0);
  EXPECT_TRUE(group_gone(r.pid));
}

TEST_F(ProcessTest, CapturesStdoutAndStderr) {
  ProcessOutcome r = run(probe({"out", "hello out", "err", "hello err", "out", "again"}));
  ASSERT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "hello out\nagain\n");
  EXPECT_EQ(r.stderr_data, "hello err\n");
  EXPECT_EQ(r.stdout_bytes, 16u);
  EXPECT_EQ(r.stderr_bytes, 10u);
}

TEST_F(ProcessTest, StdoutCapKeepsTheHeadAndCountsAll) {
  ProcessSpec spec = probe({"out", "head line", "flood-out", "300000"});
  spec.stdout_cap = 1000;
  ProcessOutcome r = run(spec);
  ASSERT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_EQ(r.stdout_bytes, 10u + 300000u);
  ASSERT_EQ(r.stdout_data.size(), 1000u);
  EXPECT_EQ(r.stdout_data, "head line\n" + flood_text(990));
}

TEST_F(ProcessTest, StderrCapKeepsTheTailAndCountsAll) {
  ProcessSpec spec = probe({"err", "first line", "flood-err", "300000", "err", "last line"});
  spec.stderr_cap = 100;
  ProcessOutcome r = run(spec);
  ASSERT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_EQ(r.stderr_bytes, 11u + 300000u + 10u);
  const std::string flood = flood_text(300000);
  EXPECT_EQ(r.stderr_data, flood.substr(flood.size() - 90) + "last line\n");
}

TEST_F(ProcessTest, ZeroCapsKeepNothingButCount) {
  ProcessSpec spec = probe({"out", "abc", "err", "defg"});
  spec.stdout_cap = 0;
  spec.stderr_cap = 0;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.stdout_data, "");
  EXPECT_EQ(r.stderr_data, "");
  EXPECT_EQ(r.stdout_bytes, 4u);
  EXPECT_EQ(r.stderr_bytes, 5u);
}

TEST_F(ProcessTest, StdinIsDevNull) {
  ProcessOutcome r = run(probe({"stdin"}));
  EXPECT_EQ(r.stdout_data, "stdin bytes: 0\n");
}

TEST_F(ProcessTest, RunsInItsWorkingDirectory) {
  char real[PATH_MAX];
  ASSERT_NE(realpath(dir.path().c_str(), real), nullptr);
  ProcessOutcome r = run(probe({"pwd", "write", "made-here", "x"}));
  EXPECT_EQ(r.stdout_data, std::string(real) + "\n");
  EXPECT_EQ(test::read_text(dir / "made-here"), "x");
}

TEST_F(ProcessTest, RelativeProgramPathIsResolvedInTheWorkingDirectory) {
  ASSERT_EQ(symlink(MW_TASK_PROBE, (dir / "probe").c_str()), 0);
  ProcessSpec spec = probe({"out", "relative ok"});
  spec.argv[0] = "./probe";
  ProcessOutcome r = run(spec);
  ASSERT_EQ(r.ending, ProcessEnding::exited) << r.exec_error;
  EXPECT_EQ(r.stdout_data, "relative ok\n");
}

TEST_F(ProcessTest, EnvironmentIsInheritedPlusExtraEntries) {
  ASSERT_EQ(setenv("MW_PROCESS_TEST_INHERITED", "from parent", 1), 0);
  ASSERT_EQ(setenv("MW_PROCESS_TEST_OVERRIDDEN", "parent value", 1), 0);
  ProcessSpec spec = probe({"env", "MW_PROCESS_TEST_INHERITED", "env", "MW_PROCESS_TEST_OVERRIDDEN",
                            "env", "MW_EXTRA", "env", "MW_NEVER_SET"});
  spec.extra_env = {"MW_EXTRA=first", "MW_PROCESS_TEST_OVERRIDDEN=child value", "MW_EXTRA=second"};
  ProcessOutcome r = run(spec);
  unsetenv("MW_PROCESS_TEST_INHERITED");
  unsetenv("MW_PROCESS_TEST_OVERRIDDEN");
  EXPECT_EQ(r.stdout_data, "from parent\nchild value\nsecond\n<unset>\n");
}

TEST_F(ProcessTest, NoDescriptorOfTheParentLeaksIntoTheTask) {
  // Deliberately without CLOEXEC, as careless code elsewhere in a process would.
  int null_fd = open("/dev/null", O_RDONLY);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int high = fcntl(null_fd, F_DUPFD, 200);
  ASSERT_GE(null_fd, 0);
  ASSERT_GE(high, 200);
  ProcessOutcome r = run(probe({"check-fds"}));
  for (int fd : {null_fd, fds[0], fds[1], high}) close(fd);
  EXPECT_EQ(r.stdout_data, "fds:\n");
}

TEST_F(ProcessTest, MissingProgramIsExecFailed) {
  ProcessSpec spec = probe({});
  spec.argv = {"./no-such-program", "arg"};
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::exec_failed);
  EXPECT_EQ(r.exec_error, "cannot execute './no-such-program': No such file or directory");
  EXPECT_TRUE(group_gone(r.pid));
}

TEST_F(ProcessTest, NonExecutableFileIsExecFailed) {
  test::write_text(dir / "prog", "#!/bin/sh\necho hi\n");
  ASSERT_EQ(chmod((dir / "prog").c_str(), 0644), 0);
  ProcessSpec spec = probe({});
  spec.argv = {"./prog"};
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::exec_failed);
  EXPECT_EQ(r.exec_error, "cannot execute './prog': Permission denied");
  EXPECT_EQ(r.stdout_data, "");
}

TEST_F(ProcessTest, MissingWorkingDirectoryIsExecFailed) {
  ProcessSpec spec = probe({"out", "x"});
  spec.cwd = dir / "missing";
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::exec_failed);
  EXPECT_THAT(r.exec_error, HasSubstr("missing"));
  EXPECT_THAT(r.exec_error, HasSubstr("No such file or directory"));
}

TEST_F(ProcessTest, CrashIsSignaledWithStderrTailIntact) {
  ProcessOutcome r = run(probe({"err", "err before crash", "crash"}));
  EXPECT_EQ(r.ending, ProcessEnding::signaled);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_THAT(r.stderr_data, EndsWith("err before crash\n"));
  // RLIMIT_CORE 0: nothing dumped into the working directory.
  EXPECT_THAT(test::list_tree(dir.path()), Not(::testing::Contains(StartsWith("core"))));
}

TEST_F(ProcessTest, SignalsTheTaskSendsItselfAreReported) {
  EXPECT_EQ(run(probe({"kill-self", "TERM"})).signal, SIGTERM);
  ProcessOutcome r = run(probe({"abort"}));
  EXPECT_EQ(r.ending, ProcessEnding::signaled);
  EXPECT_EQ(r.signal, SIGABRT);
}

TEST_F(ProcessTest, UnknownProbeActionExitsTwo) {
  ProcessOutcome r = run(probe({"no-such-action"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("no-such-action"));
}

TEST_F(ProcessTest, WallLimitKills) {
  ProcessSpec spec = probe({"out", "started", "sleep", "30"});
  spec.limits.wall_seconds = 0.5;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::wall_time);
  EXPECT_EQ(r.signal, 0);
  EXPECT_LT(call_seconds, 1.5);
  EXPECT_GE(r.wall_seconds, 0.5);
  EXPECT_EQ(r.stdout_data, "started\n");
}

TEST_F(ProcessTest, WallLimitKillsTheWholeGroup) {
  ProcessSpec spec = probe({"fork-sleep", "30", "sleep", "30"});
  spec.limits.wall_seconds = 0.5;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::wall_time);
  EXPECT_LT(call_seconds, 1.5);
  EXPECT_TRUE(group_gone(r.pid)) << "a process of group " << r.pid << " survived";
}

TEST_F(ProcessTest, GrandchildHoldingThePipesDoesNotHang) {
  ProcessOutcome r = run(probe({"fork-sleep", "30", "out", "done", "exit", "0"}));
  EXPECT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "done\n");
  EXPECT_LT(call_seconds, 1.5);
  EXPECT_TRUE(group_gone(r.pid));
}

TEST_F(ProcessTest, CpuLimitKills) {
  ProcessSpec spec = probe({"spin-forever"});
  spec.limits.cpu_seconds = 1;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::cpu_time);
  EXPECT_GE(r.cpu_seconds, 0.9);
  EXPECT_LT(call_seconds, 4.0);
}

TEST_F(ProcessTest, CpuLimitCountsChildren) {
  ProcessSpec spec = probe({"fork-spin", "sleep", "10"});
  spec.limits.cpu_seconds = 1;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::cpu_time);
  EXPECT_LT(call_seconds, 4.0);
  EXPECT_TRUE(group_gone(r.pid));
}

TEST_F(ProcessTest, MemoryLimitKillsPromptly) {
  ProcessSpec spec = probe({"alloc", "200", "sleep", "10"});
  spec.limits.memory_bytes = 64 * kMiB;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::memory);
  EXPECT_LT(call_seconds, 2.0);
  EXPECT_GT(r.peak_memory_bytes, 64 * kMiB);
}

TEST_F(ProcessTest, MemoryLimitCountsTheWholeGroup) {
  // Each process stays under the limit; together they are over it.
  ProcessSpec spec = probe({"alloc", "40", "fork-sleep", "10", "sleep", "10"});
  spec.limits.memory_bytes = 64 * kMiB;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::memory);
  EXPECT_LT(call_seconds, 2.0);
}

TEST_F(ProcessTest, PeakMemoryIsReported) {
  ProcessOutcome r = run(probe({"alloc", "50"}));
  ASSERT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_GE(r.peak_memory_bytes, 48 * kMiB);
  EXPECT_LT(r.peak_memory_bytes, 200 * kMiB);
}

TEST_F(ProcessTest, CpuTimeIsMeasured) {
  ProcessOutcome r = run(probe({"spin", "0.5"}));
  ASSERT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_GE(r.cpu_seconds, 0.4);
  EXPECT_LT(r.cpu_seconds, 2.0);
  EXPECT_GE(r.wall_seconds, 0.4);
}

TEST_F(ProcessTest, ConcurrentCallsAreIndependent) {
  constexpr int kThreads = 4;
  std::vector<ProcessOutcome> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string n = std::to_string(i);
      ProcessSpec spec = probe({"out", "thread " + n, "env", "MW_THREAD", "err", "e" + n,
                                "flood-out", std::to_string(10000 * (i + 1)), "sleep", "0.2",
                                "exit", std::to_string(10 + i)});
      spec.extra_env = {"MW_THREAD=" + n};
      spec.stdout_cap = 20;
      results[static_cast<std::size_t>(i)] = run_process(spec);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    const ProcessOutcome& r = results[static_cast<std::size_t>(i)];
    const std::string n = std::to_string(i);
    EXPECT_EQ(r.ending, ProcessEnding::exited) << i;
    EXPECT_EQ(r.exit_code, 10 + i);
    EXPECT_EQ(r.stdout_data, ("thread " + n + "\n" + n + "\n" + flood_text(20)).substr(0, 20));
    EXPECT_EQ(r.stdout_bytes, 9u + 2u + 10000u * static_cast<unsigned>(i + 1));
    EXPECT_EQ(r.stderr_data, "e" + n + "\n");
    EXPECT_TRUE(group_gone(r.pid));
  }
}

TEST_F(ProcessTest, EmptyArgvIsExecFailed) {
  ProcessSpec spec;
  spec.cwd = dir.path();
  ProcessOutcome r = run_process(spec);
  EXPECT_EQ(r.ending, ProcessEnding::exec_failed);
  EXPECT_THAT(r.exec_error, HasSubstr("no program"));
}


// ---- The whole tree ends with the task (issue 20).

// Gone and reaped: a zombie would still answer kill(pid, 0).
bool process_gone(pid_t pid) { return pid > 0 && kill(pid, 0) == -1 && errno == ESRCH; }

pid_t read_pid(const std::string& path) { return static_cast<pid_t>(std::atol(test::read_text(path).c_str())); }

class TreeTest : public ProcessTest, public ::testing::WithParamInterface<bool> {};

TEST_P(TreeTest, SetsidDoubleForkedDescendantEndsWithTheTask) {
  const std::string pidfile = dir / "escaped.pid";
  ProcessSpec spec = probe({"escape", pidfile, "60", "out", "done", "exit", "0"});
  spec.allow_cgroup = GetParam();
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::exited);
  EXPECT_EQ(r.stdout_data, "done\n");
  const pid_t escaped = read_pid(pidfile);
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(process_gone(escaped)) << "pid " << escaped << " outlived its task";
  EXPECT_LT(call_seconds, 5.0);
}

TEST_P(TreeTest, SetsidDescendantEndsAtTheWallLimit) {
  const std::string pidfile = dir / "escaped.pid";
  ProcessSpec spec = probe({"escape", pidfile, "60", "sleep", "60"});
  spec.allow_cgroup = GetParam();
  spec.limits.wall_seconds = 0.5;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::wall_time);
  EXPECT_TRUE(process_gone(read_pid(pidfile)));
}

// Where this process may make cgroups (root on a host with the unified
// hierarchy mounted read-write, as in CI), tasks get one each.
TEST_F(ProcessTest, CgroupIsUsedWhereOneCanBeHad) {
  std::string mount, own;
  std::istringstream mounts(test::read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);)
    if (line.find(" - cgroup2 ") != std::string::npos && line.find(" / ") != std::string::npos) {
      std::istringstream f(line);
      std::string a, b, c, root;
      f >> a >> b >> c >> root >> mount;
      break;
    }
  std::istringstream groups(test::read_text("/proc/self/cgroup"));
  for (std::string line; std::getline(groups, line);)
    if (line.rfind("0::", 0) == 0) own = line.substr(3);
  const std::string base = own == "/" ? mount : mount + own;
  if (mount.empty() || access(base.c_str(), W_OK) != 0 || access((base + "/cgroup.procs").c_str(), W_OK) != 0)
    GTEST_SKIP() << "no writable cgroup v2 hierarchy here";
  ProcessSpec spec = probe({"out", "x"});
  EXPECT_EQ(run(spec).containment, "cgroup");
  spec.allow_cgroup = false;
  EXPECT_EQ(run(spec).containment, "subreaper");
}

// Two runners on the subreaper mechanism (no cgroup, as in a container or a
// chroot): the end of one task scans this process's children for orphans of
// its tree while the other is starting its task. A child being started is
// registered before any scan can see it, so none is taken for an orphan and
// killed (it was: "killed by signal 9" for a fresh task, in a chroot).
TEST_F(ProcessTest, SubreaperScansNeverKillATaskBeingStarted) {
  std::atomic<int> bad{0};
  std::string first_bad;
  std::mutex mu;
  auto runner = [&] {
    for (int i = 0; i < 300; ++i) {
      ProcessSpec spec;
      spec.argv = {"/bin/true"};
      spec.cwd = dir.path();
      spec.allow_cgroup = false;
      const ProcessOutcome r = run_process(spec);
      if (r.ending != ProcessEnding::exited || r.exit_code != 0) {
        std::lock_guard<std::mutex> lock(mu);
        if (bad++ == 0) first_bad = "ending " + std::to_string(static_cast<int>(r.ending)) + ", signal " +
                                    std::to_string(r.signal) + ", exit " + std::to_string(r.exit_code);
      }
    }
  };
  std::thread a(runner), b(runner), c(runner);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(bad.load(), 0) << "first: " << first_bad;
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, TreeTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "CgroupWhereAvailable" : "Subreaper"; });

TEST_F(ProcessTest, CleanEnvironmentIsTheFixedBaseAndPwdIsTheWorkingDirectory) {
  ASSERT_EQ(setenv("MW_SECRET", "do not leak", 1), 0);
  ProcessSpec spec = probe({"env", "MW_SECRET", "env", "PWD", "env", "HOME", "env", "TMPDIR",
                            "env", "PATH", "env", "LANG", "env", "MW_EXTRA"});
  spec.clean_environment = true;
  spec.extra_env = {"MW_EXTRA=declared"};
  ProcessOutcome r = run(spec);
  unsetenv("MW_SECRET");
  EXPECT_EQ(r.stdout_data, "<unset>\n" + dir.path() + "\n" + dir.path() + "\n" + dir.path() +
                               "\n/usr/local/bin:/usr/bin:/bin\nC.UTF-8\ndeclared\n");
}

TEST_F(ProcessTest, PwdIsTheWorkingDirectoryEvenWhenInheriting) {
  ProcessOutcome r = run(probe({"env", "PWD"}));
  EXPECT_EQ(r.stdout_data, dir.path() + "\n");
}

TEST_F(ProcessTest, WatchedOutputIsStoppedWhileItGrows) {
  ProcessSpec spec = probe({"fill", "big", "1024"});  // 1 GiB if nothing stops it
  spec.limits.watched_files = {{"big", 100}};
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::file_too_large);
  EXPECT_THAT(r.limit_detail, HasSubstr("'big'"));
  struct stat st {};
  ASSERT_EQ(lstat((dir / "big").c_str(), &st), 0);
  EXPECT_LT(st.st_size, 512 * static_cast<off_t>(kMiB)) << "the task wrote on long after its limit";
}

TEST_F(ProcessTest, FileSizeLimitStopsAnyFile) {
  ProcessSpec spec = probe({"fill", "scratch-file", "8"});
  spec.limits.file_bytes = kMiB;
  ProcessOutcome r = run(spec);
  EXPECT_EQ(r.ending, ProcessEnding::file_too_large);
  struct stat st {};
  ASSERT_EQ(lstat((dir / "scratch-file").c_str(), &st), 0);
  EXPECT_LE(st.st_size, static_cast<off_t>(kMiB));
}

}  // namespace
}  // namespace mw::detail
