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
#include <optional>
#include <regex>
#include <thread>

#include "mw/bundle.h"
#include "support/raw_zip.h"
#include "support/test_support.h"
#include "tool_common.h"

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

// ---- Issue 21, item 5: what mw-task and the key options can do and say.

// A signed task run to a result bundle r.zip whose output out.txt holds "abc".
class ResultTest : public ToolsTest {
 protected:
  void SetUp() override {
    ToolsTest::SetUp();
    make_bundle(dir / "t.zip");
    ASSERT_EQ(run_command({tool("mw-sign"), "sign", dir / "t.zip", "--key", priv()}).exit_code, 0);
    auto run = run_command({tool("mw-run-task"), dir / "t.zip", "--pub", pub(), "--out", dir / "r.zip"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
};

TEST_F(ResultTest, ExtractWritesTheNamedOutputsOrAll) {
  auto one = run_command({tool("mw-task"), "extract", dir / "r.zip", "out.txt", "--out", dir / "one"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(test::read_text(dir / "one/out.txt"), "abc");
  EXPECT_EQ(test::list_tree(dir / "one"), std::vector<std::string>{"out.txt"}) << "no temp file left";
  EXPECT_THAT(one.out, HasSubstr("wrote " + dir / "one/out.txt" + " (3 bytes)"));

  auto all = run_command({tool("mw-task"), "extract", dir / "r.zip", "--out", dir / "all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(test::read_text(dir / "all/out.txt"), "abc");
}

TEST_F(ResultTest, ExtractReplacesAFileOnlyWithForce) {
  ASSERT_EQ(mkdir((dir / "d").c_str(), 0755), 0);
  test::write_text(dir / "d/out.txt", "mine");
  auto refused = run_command({tool("mw-task"), "extract", dir / "r.zip", "--out", dir / "d"});
  EXPECT_EQ(refused.exit_code, kExitUsage);
  EXPECT_THAT(refused.err, HasSubstr(dir / "d/out.txt" + "': file exists (use --force"));
  EXPECT_EQ(test::read_text(dir / "d/out.txt"), "mine");
  EXPECT_EQ(test::list_tree(dir / "d"), std::vector<std::string>{"out.txt"}) << "nothing written";

  auto forced = run_command({tool("mw-task"), "extract", dir / "r.zip", "out.txt", "--out", dir / "d", "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(test::read_text(dir / "d/out.txt"), "abc");
}

TEST_F(ResultTest, ExtractNamesWhatItCannotTake) {
  auto unknown = run_command({tool("mw-task"), "extract", dir / "r.zip", "nope.txt", "--out", dir / "d"});
  EXPECT_EQ(unknown.exit_code, kExitUsage);
  EXPECT_THAT(unknown.err, HasSubstr("has no output 'nope.txt' (it has: out.txt"));
  EXPECT_FALSE(exists(dir / "d")) << "refused before anything was made";

  auto task = run_command({tool("mw-task"), "extract", dir / "t.zip", "--out", dir / "d"});
  EXPECT_EQ(task.exit_code, kExitUsage);
  EXPECT_THAT(task.err, HasSubstr("is a task bundle; extract takes a result bundle"));
}

// The bundle reader's checks hold for extract: an output whose bytes are not
// the ones result.xml pins is refused and nothing is left, and a member name
// that would leave the directory never gets that far.
TEST_F(ToolsTest, ExtractWritesOnlyWhatTheResultPins) {
  const std::string abc_sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  auto result_xml = [&](const std::string& name) {
    return "<mw_result format_version=\"1\"><task_name>x</task_name><status>success</status>"
           "<cpu_seconds>0</cpu_seconds><wall_seconds>0</wall_seconds><peak_memory_bytes>0</peak_memory_bytes>"
           "<stdout_bytes>0</stdout_bytes><stderr_bytes>0</stderr_bytes><outputs><output><name>" +
           name + "</name><size>3</size><sha256>" + abc_sha + "</sha256></output></outputs></mw_result>";
  };
  test::RawZip(dir / "tampered.zip").add("result.xml", result_xml("out.txt")).add("out.txt", "abd").close();
  auto tampered = run_command({tool("mw-task"), "extract", dir / "tampered.zip", "--out", dir / "d"});
  EXPECT_EQ(tampered.exit_code, kExitError);
  EXPECT_THAT(tampered.err, HasSubstr("SHA-256"));
  EXPECT_TRUE(test::list_tree(dir / "d").empty()) << "a refused output leaves nothing, not even a temp file";

  test::RawZip(dir / "escape.zip").add("result.xml", result_xml("../escaped")).add("../escaped", "abc").close();
  auto escape = run_command({tool("mw-task"), "extract", dir / "escape.zip", "--out", dir / "e"});
  EXPECT_EQ(escape.exit_code, kExitError);
  EXPECT_FALSE(exists(dir / "escaped"));
}

TEST_F(ToolsTest, NewRefusesToReplaceABundleWithoutForce) {
  make_bundle(dir / "t.zip");
  ASSERT_EQ(run_command({tool("mw-sign"), "sign", dir / "t.zip", "--key", priv()}).exit_code, 0);
  const std::string signed_bytes = test::read_text(dir / "t.zip");
  auto again = run_command({tool("mw-task"), "new", "--out", dir / "t.zip", "--host-exec", "/bin/true"});
  EXPECT_EQ(again.exit_code, kExitUsage);
  EXPECT_EQ(again.err, "mw-task: --out '" + dir / "t.zip" + "': file exists (use --force to replace it)\n");
  EXPECT_EQ(test::read_text(dir / "t.zip"), signed_bytes) << "the signed bundle was touched";

  auto forced = run_command({tool("mw-task"), "new", "--out", dir / "t.zip", "--host-exec", "/bin/true", "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(test::read_text(dir / "t.zip"), signed_bytes);
}

TEST_F(ToolsTest, NewShipsAnInputUnderAnotherName) {
  test::write_text(dir / "in.txt", "renamed");
  auto made = run_command({tool("mw-task"), "new", "--out", dir / "n.zip", "--exec", MW_TASK_PROBE,
                           "--arg", "copy", "--arg", "other.txt", "--arg", "out.txt", "--input",
                           dir / "in.txt" + ":other.txt", "--output", "out.txt", "--key", priv()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const TaskManifest task = TaskBundle::open(dir / "n.zip").manifest();
  ASSERT_NE(task.find_file("other.txt"), nullptr);
  EXPECT_EQ(task.find_file("in.txt"), nullptr);
  auto run = run_command({tool("mw-run-task"), dir / "n.zip", "--pub", pub(), "--out", dir / "r.zip"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ResultBundle::open(dir / "r.zip").read_output("out.txt"), "renamed");

  auto bad_name = run_command({tool("mw-task"), "new", "--out", dir / "b.zip", "--host-exec", "/bin/true",
                               "--input", dir / "in.txt" + ":../x"});
  EXPECT_EQ(bad_name.exit_code, kExitUsage);
  EXPECT_THAT(bad_name.err, HasSubstr("'../x' cannot name a file in a task"));
  // A path that holds a ':' is shipped by giving its name too.
  test::write_text(dir / "a:b.txt", "colon");
  auto colon = run_command({tool("mw-task"), "new", "--out", dir / "c.zip", "--host-exec", "/bin/true",
                            "--input", dir / "a:b.txt"});
  EXPECT_EQ(colon.exit_code, kExitUsage);
  EXPECT_THAT(colon.err, HasSubstr("give its name too: '" + dir / "a:b.txt" + ":NAME'"));
  auto named = run_command({tool("mw-task"), "new", "--out", dir / "c.zip", "--host-exec", "/bin/true",
                            "--input", dir / "a:b.txt:b.txt"});
  EXPECT_EQ(named.exit_code, 0) << named.err;
}

TEST_F(ToolsTest, NewSetsTheDiskLimitDataFilesAndEstimates) {
  test::write_text(dir / "table.bin", "shared data");
  auto made = run_command({tool("mw-task"), "new", "--out", dir / "e.zip", "--host-exec", "/bin/true",
                           "--disk-mb", "1", "--data", dir / "table.bin", "--data", dir / "table.bin:copy.bin",
                           "--cpu-seconds-est", "90", "--fpops-est", "1e12", "--memory-mb-est", "64",
                           "--disk-mb-est", "0.5"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const TaskManifest task = TaskBundle::open(dir / "e.zip").manifest();
  EXPECT_EQ(task.limits.disk_bytes, std::optional<std::uint64_t>(1 << 20));
  ASSERT_NE(task.find_file("table.bin"), nullptr);
  EXPECT_EQ(task.find_file("table.bin")->role, FileRole::data);
  ASSERT_NE(task.find_file("copy.bin"), nullptr);
  EXPECT_EQ(task.find_file("copy.bin")->role, FileRole::data);
  EXPECT_EQ(task.estimates.cpu_seconds, std::optional<double>(90));
  EXPECT_EQ(task.estimates.fpops, std::optional<double>(1e12));
  EXPECT_EQ(task.estimates.memory_bytes, std::optional<std::uint64_t>(64 << 20));
  EXPECT_EQ(task.estimates.disk_bytes, std::optional<std::uint64_t>(512 << 10));

  auto show = run_command({tool("mw-task"), "show", dir / "e.zip"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("limits:    disk 1 MiB"));
  EXPECT_THAT(show.out, HasSubstr("estimates: cpu 1 min 30 s fpops 1e+12 memory 64 MiB disk 512 KiB"));
}

TEST_F(ToolsTest, ShowPrintsPeoplesUnits) {
  make_bundle(dir / "t.zip");
  auto task = run_command({tool("mw-task"), "show", dir / "t.zip"});
  ASSERT_EQ(task.exit_code, 0) << task.err;
  EXPECT_THAT(task.out, HasSubstr("limits:    wall 30 s memory 256 MiB"));
  EXPECT_THAT(task.out, HasSubstr("at most 100 bytes"));
  ASSERT_EQ(run_command({tool("mw-sign"), "sign", dir / "t.zip", "--key", priv()}).exit_code, 0);
  auto run = run_command({tool("mw-run-task"), dir / "t.zip", "--pub", pub(), "--out", dir / "r.zip"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Three significant digits at most, whatever the run took ("wall 0.0313781 s" was the old way).
  const std::string number = R"((\d{1,3}|\d{1,2}\.\d|\d\.\d{1,2}))";
  const std::regex times("  cpu " + number + " (µs|ms|s), wall " + number + " (µs|ms|s), peak memory " +
                         number + " (bytes|KiB|MiB)\n");
  auto result = run_command({tool("mw-task"), "show", dir / "r.zip"});
  EXPECT_TRUE(std::regex_search(result.out, times)) << result.out;
  EXPECT_TRUE(std::regex_search(run.err, std::regex("succeeded in " + number + " (µs|ms|s);"))) << run.err;
}

TEST(ToolUnits, ThreeSignificantDigitsInTheUnitThatFits) {
  using tools::human_bytes;
  using tools::human_seconds;
  EXPECT_EQ(human_seconds(0.0313781), "31.4 ms");
  EXPECT_EQ(human_seconds(0.0000125), "12.5 µs");
  EXPECT_EQ(human_seconds(0.9996), "1 s") << "not 1000 ms";
  EXPECT_EQ(human_seconds(30), "30 s");
  EXPECT_EQ(human_seconds(59.96), "1 min");
  EXPECT_EQ(human_seconds(125), "2 min 5 s");
  EXPECT_EQ(human_seconds(86400), "24 h");
  EXPECT_EQ(human_seconds(3725), "1 h 2 min");
  EXPECT_EQ(human_seconds(0), "0 s");
  EXPECT_EQ(human_bytes(0), "0 bytes");
  EXPECT_EQ(human_bytes(1), "1 byte");
  EXPECT_EQ(human_bytes(1023), "1023 bytes");
  EXPECT_EQ(human_bytes(1234), "1.21 KiB");
  EXPECT_EQ(human_bytes(1024 * 1024 - 1), "1 MiB") << "not 1024 KiB";
  EXPECT_EQ(human_bytes(64ULL << 20), "64 MiB");
  EXPECT_EQ(human_bytes(8ULL << 30), "8 GiB");
}

TEST_F(ToolsTest, AKeyOfTheWrongKindIsNamedAsSuch) {
  make_bundle(dir / "t.zip");
  ASSERT_EQ(run_command({tool("mw-sign"), "sign", dir / "t.zip", "--key", priv()}).exit_code, 0);
  const std::string expected = "'" + priv() + "' is a private key; --pub needs the public key (mw-sign keygen "
                               "writes both: task_sign_public.pem beside task_sign_private.pem)\n";
  auto verify = run_command({tool("mw-sign"), "verify", dir / "t.zip", "--pub", priv()});
  EXPECT_EQ(verify.exit_code, kExitUsage);
  EXPECT_EQ(verify.err, "mw-sign: " + expected);
  auto run = run_command({tool("mw-run-task"), dir / "t.zip", "--pub", priv(), "--out", dir / "r.zip"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err, "mw-run-task: " + expected);
  EXPECT_FALSE(exists(dir / "r.zip"));

  auto sign = run_command({tool("mw-sign"), "sign", dir / "t.zip", "--key", pub()});
  EXPECT_EQ(sign.exit_code, kExitUsage);
  EXPECT_THAT(sign.err, HasSubstr("'" + pub() + "' is a public key; --key needs the private key"));
  auto made = run_command({tool("mw-task"), "new", "--out", dir / "k.zip", "--host-exec", "/bin/true",
                           "--key", pub()});
  EXPECT_EQ(made.exit_code, kExitUsage);
  EXPECT_THAT(made.err, HasSubstr("is a public key; --key needs the private key"));
  EXPECT_FALSE(exists(dir / "k.zip"));
}

}  // namespace
}  // namespace mw
