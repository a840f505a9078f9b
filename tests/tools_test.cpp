// The command-line tools, run as a person would run them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include "support/raw_zip.h"
#include "support/test_support.h"

namespace mw {
namespace {

using ::testing::HasSubstr;
using test::run_command;

// The tools' exit statuses (tools/tool_common.h): a wrong command line is 64
// (EX_USAGE); input that cannot be used, or an I/O error, is 2.
constexpr int kExitUsage = 64;
constexpr int kExitError = 2;

std::string tool(const std::string& name) { return std::string(MW_TOOLS_DIR) + "/" + name; }

class ToolsTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  void SetUp() override {
    auto r = run_command({tool("mw-sign"), "keygen", "--out", dir / "keys"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string priv() { return dir / "keys/task_sign_private.pem"; }
  std::string pub() { return dir / "keys/task_sign_public.pem"; }

  void make_bundle(const std::string& out) {
    test::write_text(dir / "in.txt", "abc");
    auto r = run_command({tool("mw-task"), "new", "--out", out, "--exec", MW_TASK_PROBE,
                          "--arg", "copy", "--arg", "in.txt", "--arg", "out.txt", "--input",
                          dir / "in.txt", "--output", "out.txt:100", "--wall-seconds", "30",
                          "--memory-mb", "256"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
};

TEST_F(ToolsTest, KeygenRefusesToOverwrite) {
  auto r = run_command({tool("mw-sign"), "keygen", "--out", dir / "keys"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("refusing to overwrite"));
  struct stat st;
  ASSERT_EQ(stat(priv().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ToolsTest, NewSignVerifyRunShow) {
  make_bundle(dir / "t.zip");
  auto verify_unsigned = run_command({tool("mw-sign"), "verify", dir / "t.zip", "--pub", pub()});
  EXPECT_EQ(verify_unsigned.exit_code, 1);
  EXPECT_THAT(verify_unsigned.err, HasSubstr("not signed"));

  auto sign = run_command({tool("mw-sign"), "sign", dir / "t.zip", "--key", priv()});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto verify = run_command({tool("mw-sign"), "verify", dir / "t.zip", "--pub", pub()});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("OK"));

  auto show = run_command({tool("mw-task"), "show", dir / "t.zip"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("task t"));
  EXPECT_THAT(show.out, HasSubstr("in.txt"));
  EXPECT_THAT(show.out, HasSubstr("wall 30 s"));
  EXPECT_THAT(show.out, HasSubstr("out.txt"));

  auto run = run_command({tool("mw-run-task"), dir / "t.zip", "--pub", pub(), "--out", dir / "r.zip"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  auto show_result = run_command({tool("mw-task"), "show", dir / "r.zip"});
  ASSERT_EQ(show_result.exit_code, 0) << show_result.err;
  EXPECT_THAT(show_result.out, HasSubstr("status:    success"));
  EXPECT_THAT(show_result.out, HasSubstr("out.txt"));
}

TEST_F(ToolsTest, VerifyNamesTheReasonForAWrongKey) {
  make_bundle(dir / "t.zip");
  ASSERT_EQ(run_command({tool("mw-sign"), "sign", dir / "t.zip", "--key", priv()}).exit_code, 0);
  ASSERT_EQ(run_command({tool("mw-sign"), "keygen", "--out", dir / "other"}).exit_code, 0);
  auto r = run_command({tool("mw-sign"), "verify", dir / "t.zip", "--pub",
                        dir / "other/task_sign_public.pem"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not among the 1 trusted key(s)"));
  auto run = run_command({tool("mw-run-task"), dir / "t.zip", "--pub",
                          dir / "other/task_sign_public.pem", "--out", dir / "r.zip"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("rejected"));
}

TEST_F(ToolsTest, HostExecTaskWithFailingProgram) {
  auto r = run_command({tool("mw-task"), "new", "--out", dir / "f.zip", "--host-exec", "/bin/sh",
                        "--arg", "-c", "--arg", "echo oops >&2; exit 7", "--key", priv()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto run = run_command({tool("mw-run-task"), dir / "f.zip", "--pub", pub(), "--out", dir / "r.zip"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("exited with code 7"));
  auto show = run_command({tool("mw-task"), "show", dir / "r.zip"});
  EXPECT_THAT(show.out, HasSubstr("oops"));
}

TEST_F(ToolsTest, BadArgumentsAreExplained) {
  auto both = run_command({tool("mw-task"), "new", "--out", dir / "x.zip", "--exec", MW_TASK_PROBE,
                           "--host-exec", "/bin/true"});
  EXPECT_EQ(both.exit_code, kExitUsage);
  EXPECT_THAT(both.err, HasSubstr("excludes"));
  auto neither = run_command({tool("mw-task"), "new", "--out", dir / "x.zip"});
  EXPECT_EQ(neither.exit_code, kExitUsage);
  EXPECT_THAT(neither.err, HasSubstr("--exec FILE or --host-exec PATH"));
  auto bad_output = run_command({tool("mw-task"), "new", "--out", dir / "x.zip", "--host-exec",
                                 "/bin/true", "--output", "o:lots"});
  EXPECT_EQ(bad_output.exit_code, kExitUsage);
  EXPECT_THAT(bad_output.err, HasSubstr("MAXBYTES"));
  auto relative = run_command({tool("mw-task"), "new", "--out", dir / "x.zip", "--host-exec", "true"});
  EXPECT_EQ(relative.exit_code, kExitUsage);
  EXPECT_THAT(relative.err, HasSubstr("host_path"));
  auto garbage = run_command({tool("mw-task"), "show", MW_TASK_PROBE});
  EXPECT_EQ(garbage.exit_code, kExitError);
  EXPECT_THAT(garbage.err, HasSubstr("not a valid zip archive"));
}

// ---- mw-run-task stopped by a signal (issue 20): nothing of the task stays.

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Gone, or a zombie nobody can run again (init reaps those it inherits).
bool process_dead(pid_t pid) {
  if (kill(pid, 0) == -1 && errno == ESRCH) return true;
  const std::string stat = test::read_text("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] == 'Z';
}

bool eventually(const std::function<bool()>& condition, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class RunTaskSignalTest : public ToolsTest, public ::testing::WithParamInterface<int> {};

TEST_P(RunTaskSignalTest, KillsTheWholeTreeRemovesScratchAndDiesOfTheSignal) {
  const int sig = GetParam();
  const std::string pidfile = dir / "escaped.pid";
  auto made = run_command({tool("mw-task"), "new", "--out", dir / "s.zip", "--host-exec",
                           MW_TASK_PROBE, "--arg", "escape", "--arg", pidfile, "--arg", "600",
                           "--arg", "sleep", "--arg", "600", "--key", priv()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(mkdir((dir / "scratch").c_str(), 0700), 0);
  std::vector<std::string> args = {tool("mw-run-task"), dir / "s.zip", "--pub", pub(),
                                   "--out", dir / "r.zip", "--scratch", dir / "scratch"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t runner = fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  ASSERT_TRUE(eventually([&] { return exists(pidfile); }, 20))
      << "the task never started";
  const pid_t escaped = static_cast<pid_t>(std::atol(test::read_text(pidfile).c_str()));
  ASSERT_GT(escaped, 0);
  ASSERT_EQ(kill(runner, sig), 0);
  int status = 0;
  ASSERT_EQ(waitpid(runner, &status, 0), runner);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig)
      << "status " << status << ": not the conventional death by the signal";
  EXPECT_TRUE(eventually([&] { return process_dead(escaped); }, 2))
      << "the task's setsid'd descendant " << escaped << " outlived mw-run-task";
  EXPECT_TRUE(test::list_tree(dir / "scratch").empty()) << "scratch left behind";
  EXPECT_FALSE(exists(dir / "r.zip")) << "a result for a task that never ended";
}

INSTANTIATE_TEST_SUITE_P(Signals, RunTaskSignalTest, ::testing::Values(SIGTERM, SIGINT, SIGHUP),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

TEST_F(ToolsTest, NewTakesEnvironmentVariablesAndShowPrintsThem) {
  auto made = run_command({tool("mw-task"), "new", "--out", dir / "e.zip", "--host-exec",
                           MW_TASK_PROBE, "--arg", "env", "--arg", "GREETING", "--env",
                           "GREETING=hello there", "--key", priv()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto show = run_command({tool("mw-task"), "show", dir / "e.zip"});
  EXPECT_THAT(show.out, HasSubstr("GREETING="));
  auto run = run_command({tool("mw-run-task"), dir / "e.zip", "--pub", pub(), "--out", dir / "r.zip"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto result = run_command({tool("mw-task"), "show", dir / "r.zip"});
  EXPECT_THAT(result.out, HasSubstr("stdout 12 bytes")) << "\"hello there\\n\" is 12 bytes";
  auto bad = run_command({tool("mw-task"), "new", "--out", dir / "b.zip", "--host-exec",
                          "/bin/true", "--env", "NOEQUALS"});
  EXPECT_EQ(bad.exit_code, kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("NAME=VALUE"));
}

// ---- mw-task show is as strict as the runner (issue 20, item 5).

TEST_F(ToolsTest, ShowRefusesWhatIsNotARegularFileBeforeReadingIt) {
  ASSERT_EQ(mkfifo((dir / "fifo.xml").c_str(), 0600), 0);
  ASSERT_EQ(symlink("/dev/zero", (dir / "zero.xml").c_str()), 0);
  ASSERT_EQ(symlink("/dev/zero", (dir / "zero.zip").c_str()), 0);
  for (const char* name : {"fifo.xml", "zero.xml", "zero.zip"}) {
    auto r = run_command({tool("mw-task"), "show", dir / name});
    EXPECT_EQ(r.exit_code, kExitError) << name;
    EXPECT_THAT(r.err, HasSubstr("not a regular file")) << name;
  }
  // A sparse 1 GiB manifest: refused on its size, without reading it.
  const std::string big = dir / "big.xml";
  int fd = ::open(big.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 1LL << 30), 0);
  ::close(fd);
  const auto start = std::chrono::steady_clock::now();
  auto r = run_command({tool("mw-task"), "show", big});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_THAT(r.err, HasSubstr("1073741824 bytes, more than"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(ToolsTest, ShowEscapesControlAndBidiCharacters) {
  // XML cannot carry ESC; DEL, CR, C1 controls and bidi overrides it can.
  const std::string hostile = "del\x7f back\rC1\xc2\x9b bidi\xe2\x80\xae end";
  auto made = run_command({tool("mw-task"), "new", "--out", dir / "h.zip", "--host-exec",
                           "/bin/true", "--arg", hostile, "--env", "V=" + hostile});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto show = run_command({tool("mw-task"), "show", dir / "h.zip"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  for (const std::string raw : {"\x7f", "\r", "\xc2\x9b", "\xe2\x80\xae"})
    EXPECT_EQ(show.out.find(raw), std::string::npos) << "raw control in: " << show.out;
  EXPECT_THAT(show.out, HasSubstr("del\\x7f back\\x0dC1\\u{009b} bidi\\u{202e} end"));
}

TEST_F(ToolsTest, ShowReportsTheRealErrorOfAMalformedResultBundle) {
  test::RawZip(dir / "r.zip")
      .add("result.xml",
           "<mw_result format_version=\"1\"><task_name>x</task_name><status>bogus</status></mw_result>")
      .close();
  auto r = run_command({tool("mw-task"), "show", dir / "r.zip"});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_THAT(r.err, HasSubstr("status"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("not an allowed member name")));
}

TEST_F(ToolsTest, RunTaskAppliesADefaultWallLimit) {
  auto made = run_command({tool("mw-task"), "new", "--out", dir / "w.zip", "--host-exec",
                           MW_TASK_PROBE, "--arg", "sleep", "--arg", "60", "--key", priv()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto run = run_command({tool("mw-run-task"), dir / "w.zip", "--pub", pub(), "--out",
                          dir / "r.zip", "--default-wall-seconds", "0.5"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("wall_time_exceeded"));
  auto help = run_command({tool("mw-run-task"), "--help"});
  EXPECT_THAT(help.out, HasSubstr("86400"));
}

}  // namespace
}  // namespace mw
