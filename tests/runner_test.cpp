// The runner end to end: verify → unpack → run under limits → collect → result
// bundle. The task program is tests/programs/task_probe, told what to do.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "mw/bundle.h"
#include "mw/hash.h"
#include "mw/runner.h"
#include "support/test_support.h"

namespace mw {
namespace {

using ::testing::HasSubstr;

class RunnerTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  PrivateKey key = PrivateKey::generate();
  std::vector<PublicKey> trusted{key.public_key()};
  RunnerOptions options;

  void SetUp() override {
    mkdir((dir / "scratch").c_str(), 0700);
    options.scratch_root = dir / "scratch";
  }

  // A task that ships the probe and runs it with `actions`.
  TaskBuilder probe_task(const std::vector<std::string>& actions, const std::string& name = "probe_task") {
    TaskBuilder t(name);
    t.bundled_program(MW_TASK_PROBE, "probe").args(actions);
    return t;
  }

  ResultManifest run(const TaskBuilder& t) {
    t.write_bundle(dir / "task.zip", key);
    return run_task_bundle(dir / "task.zip", trusted, dir / "result.zip", options);
  }

  ResultBundle result_bundle() { return ResultBundle::open(dir / "result.zip"); }
};

TEST_F(RunnerTest, SuccessCollectsOutputsAndStreams) {
  auto t = probe_task({"write", "out.txt", "hello result", "out", "to stdout", "err", "to stderr"});
  t.output("out.txt", 100);
  auto r = run(t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.task_name, "probe_task");
  auto rb = result_bundle();
  EXPECT_EQ(rb.manifest().status, ResultStatus::success);
  EXPECT_EQ(rb.manifest().task_sha256, TaskBundle::open(dir / "task.zip").manifest_sha256());
  EXPECT_EQ(rb.read_output("out.txt"), "hello result");
  EXPECT_EQ(rb.read_output("mw.stdout"), "to stdout\n");
  EXPECT_THAT(rb.read_output("mw.stderr"), HasSubstr("to stderr"));
  EXPECT_GT(r.wall_seconds, 0);
}

TEST_F(RunnerTest, ScratchDirectoryIsRemovedUnlessKept) {
  auto t = probe_task({"pwd"});
  ASSERT_TRUE(run(t).ok());
  EXPECT_TRUE(test::list_tree(dir / "scratch").empty());
  options.keep_scratch = true;
  ASSERT_TRUE(run(t).ok());
  EXPECT_FALSE(test::list_tree(dir / "scratch").empty());
}

// Issue 20: nothing of the runner's environment reaches the task, only the
// fixed base and what task.xml declares (under its signature); PWD is the
// scratch directory, not the runner's.
TEST_F(RunnerTest, EnvironmentIsTheFixedBasePlusDeclaredVariables) {
  ASSERT_EQ(setenv("MW_SECRET", "from the master", 1), 0);
  auto t = probe_task({"env", "MW_SECRET", "env", "DECLARED", "env", "LANG", "env", "PATH", "pwd",
                       "env", "PWD", "env", "HOME", "env", "MW_TASK_NAME"});
  t.env("DECLARED", "by the task").env("LANG", "en_GB.UTF-8");
  auto r = run(t);
  unsetenv("MW_SECRET");
  ASSERT_TRUE(r.ok()) << r.reason;
  std::istringstream out(result_bundle().read_output("mw.stdout"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0], "<unset>");
  EXPECT_EQ(lines[1], "by the task");
  EXPECT_EQ(lines[2], "en_GB.UTF-8");
  EXPECT_EQ(lines[3], "/usr/local/bin:/usr/bin:/bin");
  EXPECT_EQ(lines[5], lines[4]) << "PWD is not the working directory";
  EXPECT_EQ(lines[6], lines[4]) << "HOME is not the scratch directory";
  EXPECT_EQ(lines[7], "probe_task");
}

TEST_F(RunnerTest, DeclaredEnvironmentIsSigned) {
  auto t = probe_task({"env", "X"});
  t.env("X", "1");
  t.write_bundle(dir / "task.zip", key);
  TaskBundle b = TaskBundle::open(dir / "task.zip");
  ASSERT_EQ(b.manifest().env.size(), 1u);
  EXPECT_EQ(b.manifest().env[0], (EnvVar{"X", "1"}));
  const std::string xml = task_to_xml(b.manifest());
  EXPECT_THAT(xml, HasSubstr("<env>"));
}

TEST_F(RunnerTest, RunsInsideItsScratchDirWithStdinClosed) {
  auto r = run(probe_task({"pwd", "stdin"}));
  ASSERT_TRUE(r.ok()) << r.reason;
  std::string out = result_bundle().read_output("mw.stdout");
  EXPECT_THAT(out, HasSubstr(dir / "scratch/mw-run-"));
  EXPECT_THAT(out, HasSubstr("stdin bytes: 0"));
}

TEST_F(RunnerTest, InputFilesAreThereToRead) {
  auto t = probe_task({"copy", "in.txt", "copy.txt"});
  t.file_bytes("in.txt", "payload\n").output("copy.txt", 100);
  ASSERT_TRUE(run(t).ok());
  EXPECT_EQ(result_bundle().read_output("copy.txt"), "payload\n");
}

TEST_F(RunnerTest, NonZeroExit) {
  auto r = run(probe_task({"exit", "3"}));
  EXPECT_EQ(r.status, ResultStatus::nonzero_exit);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.reason, HasSubstr("exited with code 3"));
}

TEST_F(RunnerTest, CrashReportsSignalAndStderrTail) {
  auto r = run(probe_task({"err", "about to crash", "crash"}));
  EXPECT_EQ(r.status, ResultStatus::signaled);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_THAT(r.stderr_tail, HasSubstr("about to crash"));
  EXPECT_EQ(result_bundle().manifest().stderr_tail, r.stderr_tail);
}

TEST_F(RunnerTest, WallTimeLimitKills) {
  auto t = probe_task({"sleep", "30"});
  Limits l;
  l.wall_seconds = 0.5;
  t.limits(l);
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::wall_time_exceeded);
  EXPECT_LT(r.wall_seconds, 5);
  EXPECT_EQ(result_bundle().manifest().status, ResultStatus::wall_time_exceeded);
}

TEST_F(RunnerTest, DefaultLimitsApplyWhenManifestHasNone) {
  options.default_limits.wall_seconds = 0.5;
  auto r = run(probe_task({"sleep", "30"}));
  EXPECT_EQ(r.status, ResultStatus::wall_time_exceeded);
}

TEST_F(RunnerTest, CpuTimeLimitKills) {
  auto t = probe_task({"spin-forever"});
  Limits l;
  l.cpu_seconds = 1;
  l.wall_seconds = 60;
  t.limits(l);
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::cpu_time_exceeded) << r.reason;
  EXPECT_LT(r.wall_seconds, 20);
}

TEST_F(RunnerTest, MemoryLimitKills) {
  auto t = probe_task({"alloc", "256", "sleep", "20"});
  Limits l;
  l.memory_bytes = 64ULL << 20;
  l.wall_seconds = 60;
  t.limits(l);
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::memory_exceeded) << r.reason;
  EXPECT_LT(r.wall_seconds, 15);
  EXPECT_THAT(r.reason, HasSubstr("memory limit of 64 MiB"));
}

TEST_F(RunnerTest, MissingOutputIsAnErrorResult) {
  auto t = probe_task({"exit", "0"});
  t.output("never.txt", 10);
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::output_missing);
  EXPECT_THAT(r.reason, HasSubstr("'never.txt'"));
}

TEST_F(RunnerTest, OptionalOutputMayBeAbsent) {
  auto t = probe_task({"exit", "0"});
  t.output("maybe.txt", 10, /*optional=*/true);
  EXPECT_TRUE(run(t).ok());
}

TEST_F(RunnerTest, OversizedOutputIsAnErrorResult) {
  auto t = probe_task({"write", "out.txt", "0123456789abcdef"});
  t.output("out.txt", 8);
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::output_too_large);
  EXPECT_THAT(r.reason, HasSubstr("16 bytes, over its limit of 8"));
}

TEST_F(RunnerTest, OutputsOverTheDiskLimit) {
  auto t = probe_task({"write", "a", "0123456789", "write", "b", "0123456789"});
  t.output("a", 100).output("b", 100);
  Limits l;
  l.disk_bytes = 15;
  t.limits(l);
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::output_too_large);
  EXPECT_THAT(r.reason, HasSubstr("disk limit of 15"));
}

TEST_F(RunnerTest, OutputThatIsASymlinkIsNotFollowed) {
  auto t = probe_task({"symlink", "/etc/passwd", "out.txt"});
  t.output("out.txt", 1 << 20);
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::output_missing);
  EXPECT_THAT(r.reason, HasSubstr("not a regular file"));
  EXPECT_EQ(r.find_output("out.txt"), nullptr);
}

TEST_F(RunnerTest, TaskCannotPlantALinkAsItsCapturedStdout) {
  auto r = run(probe_task({"symlink", (dir / "victim").c_str(), "mw.stdout", "out", "x"}));
  ASSERT_TRUE(r.ok()) << r.reason;
  struct stat st;
  EXPECT_NE(lstat((dir / "victim").c_str(), &st), 0) << "the runner wrote through the task's link";
  EXPECT_EQ(result_bundle().read_output("mw.stdout"), "x\n");
}

TEST_F(RunnerTest, StdoutIsCappedButCounted) {
  options.stdout_cap = 1000;
  auto r = run(probe_task({"flood-out", "50000"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stdout_bytes, 50000u);
  EXPECT_EQ(result_bundle().read_output("mw.stdout").size(), 1000u);
}

TEST_F(RunnerTest, HostProgramAndFunctionTaskArgv) {
  TaskBuilder t("echo_task");
  t.host_program("/bin/echo").function("my_fn").args({"a b", "c"});
  auto r = run(t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(result_bundle().read_output("mw.stdout"), "--mw-call my_fn a b c\n");
}

TEST_F(RunnerTest, MissingHostProgramIsExecFailed) {
  TaskBuilder t("t");
  t.host_program("/nonexistent/program");
  auto r = run(t);
  EXPECT_EQ(r.status, ResultStatus::exec_failed);
  EXPECT_THAT(r.reason, HasSubstr("/nonexistent/program"));
}

TEST_F(RunnerTest, UntrustedKeyIsRejectedAndNothingRuns) {
  const std::string marker = dir / "ran";
  auto t = probe_task({"write", marker, "x"});
  t.write_bundle(dir / "task.zip", PrivateKey::generate());
  auto r = run_task_bundle(dir / "task.zip", trusted, dir / "result.zip", options);
  EXPECT_EQ(r.status, ResultStatus::rejected);
  EXPECT_THAT(r.reason, HasSubstr("not among the 1 trusted key(s)"));
  EXPECT_FALSE(test::read_text(dir / "result.zip").empty());
  struct stat st;
  EXPECT_NE(stat(marker.c_str(), &st), 0) << "a task with a bad signature ran";
  EXPECT_EQ(result_bundle().manifest().status, ResultStatus::rejected);
}

TEST_F(RunnerTest, TamperedProgramIsRejectedAndNothingRuns) {
  const std::string marker = dir / "ran";
  test::write_text(dir / "prog.sh", "#!/bin/sh\ntouch " + marker + "\n");
  TaskBuilder t("t");
  t.bundled_program(dir / "prog.sh");
  t.write_directory(dir / "task_dir", key);
  test::write_text(dir / "task_dir/prog.sh", "#!/bin/sh\ntouch " + marker + "\n#evil\n");
  auto r = run_task_bundle(dir / "task_dir", trusted, dir / "result.zip", options);
  EXPECT_EQ(r.status, ResultStatus::rejected);
  struct stat st;
  EXPECT_NE(stat(marker.c_str(), &st), 0);
  // Same size, different bytes.
  test::write_text(dir / "task_dir/prog.sh", "#!/bin/sh\ntouch " + marker + "\n");
  std::string body = test::read_text(dir / "task_dir/prog.sh");
  body[body.size() - 2] = 'X';
  test::write_text(dir / "task_dir/prog.sh", body);
  r = run_task_bundle(dir / "task_dir", trusted, dir / "result.zip", options);
  EXPECT_EQ(r.status, ResultStatus::rejected);
  EXPECT_THAT(r.reason, HasSubstr("SHA-256"));
  EXPECT_NE(stat(marker.c_str(), &st), 0);
}

TEST_F(RunnerTest, MissingBundleIsRejectedNotThrown) {
  auto r = run_task_bundle(dir / "nope.zip", trusted, dir / "result.zip", options);
  EXPECT_EQ(r.status, ResultStatus::rejected);
  EXPECT_THAT(r.reason, HasSubstr("nope.zip"));
}

// ---- run_unpacked_task: the pieces the BOINC wrapper uses.

class UnpackedRunTest : public RunnerTest {
 protected:
  // Unpacks `t` into dir/work the way a caller of run_unpacked_task does.
  TaskBundle unpack(const TaskBuilder& t) {
    t.write_bundle(dir / "task.zip", key);
    TaskBundle b = TaskBundle::open(dir / "task.zip");
    b.verify_signature(trusted);
    mkdir((dir / "work").c_str(), 0700);
    b.extract_to(dir / "work");
    return b;
  }
};

TEST_F(UnpackedRunTest, PollSeesProgressAndExtraEnvironmentReachesTheTask) {
  TaskBundle b = unpack(probe_task({"env", "MW_EXTRA", "spin", "0.3", "sleep", "0.4"}));
  RunControl control;
  control.poll_seconds = 0.1;
  control.extra_env = {"MW_EXTRA=yes"};
  int polls = 0;
  double last_cpu = 0, last_elapsed = 0;
  control.poll = [&](const RunProgress& p) {
    ++polls;
    last_cpu = p.cpu_seconds;
    last_elapsed = p.elapsed_seconds;
    EXPECT_GT(p.process_group, 0);
    return RunAction::keep_going;
  };
  UnpackedRun run = run_unpacked_task(b.manifest(), b.manifest_sha256(), dir / "work", options, control);
  ASSERT_FALSE(run.stopped);
  ASSERT_TRUE(run.result.ok()) << run.result.reason;
  EXPECT_EQ(run.result.task_sha256, b.manifest_sha256());
  EXPECT_GE(polls, 3);
  EXPECT_GT(last_cpu, 0.1);
  EXPECT_GT(last_elapsed, 0.3);
  EXPECT_EQ(test::read_text(dir / "work/mw.stdout"), "yes\n");
}

TEST_F(UnpackedRunTest, SuspendedTimeDoesNotCountAgainstTheWallLimit) {
  Limits limits;
  limits.wall_seconds = 1;
  TaskBundle b = unpack(probe_task({"sleep", "0.6"}).limits(limits));
  RunControl control;
  control.poll_seconds = 0.1;
  control.poll = [&](const RunProgress& p) {
    // Suspended from 0.2 s of running time until 1.5 s have passed outside.
    static const auto start = std::chrono::steady_clock::now();
    const double outside = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!p.suspended && p.elapsed_seconds >= 0.2 && outside < 1.5) return RunAction::suspend;
    if (p.suspended && outside >= 1.5) return RunAction::resume;
    return RunAction::keep_going;
  };
  UnpackedRun run = run_unpacked_task(b.manifest(), b.manifest_sha256(), dir / "work", options, control);
  EXPECT_EQ(run.result.status, ResultStatus::success) << run.result.reason;
  EXPECT_LT(run.result.wall_seconds, 1.0) << "the result's time leaves out the suspension";
}

TEST_F(UnpackedRunTest, StopKillsTheGroupAndSaysSo) {
  TaskBundle b = unpack(probe_task({"fork-sleep", "30", "sleep", "30"}));
  RunControl control;
  control.poll_seconds = 0.1;
  control.poll = [](const RunProgress&) { return RunAction::stop; };
  const auto start = std::chrono::steady_clock::now();
  UnpackedRun run = run_unpacked_task(b.manifest(), b.manifest_sha256(), dir / "work", options, control);
  EXPECT_TRUE(run.stopped);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(UnpackedRunTest, SeparateProgramFileStandsInForTheOmittedMember) {
  TaskBuilder t = probe_task({"out", "hi"});
  t.write_bundle(dir / "full.zip", key);
  // The same signed task.xml in a bundle without the program member.
  TaskBundle full = TaskBundle::open(dir / "full.zip");
  mkdir((dir / "dirbundle").c_str(), 0700);
  test::write_text(dir / "dirbundle/task.xml", full.manifest_bytes());
  test::write_text(dir / "dirbundle/task.sig", full.signature().to_text());
  EXPECT_THAT(test::error_of([&] { TaskBundle::open(dir / "dirbundle"); }, Errc::integrity),
              HasSubstr("'probe' is declared in task.xml but missing"));
  test::write_text(dir / "prog", test::read_text(MW_TASK_PROBE));
  TaskBundle b = TaskBundle::open(dir / "dirbundle", {}, dir / "prog");
  b.verify_signature(trusted);
  EXPECT_NO_THROW(b.verify_files());
  test::write_text(dir / "prog", test::read_text(MW_TASK_PROBE) + "x");
  EXPECT_THAT(test::error_of([&] { TaskBundle::open(dir / "dirbundle", {}, dir / "prog"); },
                             Errc::integrity),
              HasSubstr("'probe'"));
}

}  // namespace
}  // namespace mw
