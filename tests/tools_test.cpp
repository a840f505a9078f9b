// The command-line tools, run as a person would run them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/test_support.h"

namespace mw {
namespace {

using ::testing::HasSubstr;
using test::run_command;

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
  EXPECT_EQ(r.exit_code, 2);
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
  EXPECT_NE(both.exit_code, 0);
  EXPECT_THAT(both.err, HasSubstr("excludes"));
  auto neither = run_command({tool("mw-task"), "new", "--out", dir / "x.zip"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_THAT(neither.err, HasSubstr("--exec FILE or --host-exec PATH"));
  auto bad_output = run_command({tool("mw-task"), "new", "--out", dir / "x.zip", "--host-exec",
                                 "/bin/true", "--output", "o:lots"});
  EXPECT_EQ(bad_output.exit_code, 2);
  EXPECT_THAT(bad_output.err, HasSubstr("MAXBYTES"));
  auto relative = run_command({tool("mw-task"), "new", "--out", dir / "x.zip", "--host-exec", "true"});
  EXPECT_EQ(relative.exit_code, 2);
  EXPECT_THAT(relative.err, HasSubstr("host_path"));
  auto garbage = run_command({tool("mw-task"), "show", MW_TASK_PROBE});
  EXPECT_EQ(garbage.exit_code, 2);
  EXPECT_THAT(garbage.err, HasSubstr("not a valid zip archive"));
}

}  // namespace
}  // namespace mw
