// mw-wrapper in the BOINC API's standalone mode (no client: no init_data.xml,
// logical names are the file names in the slot, stderr goes to stderr.txt),
// with real bundles built by master_lib and signed with a test key.
//
// Suspend, resume, quit and abort are driven both ways (docs/wrapper.md):
// through the wrapper's own signal handling (SIGUSR1/SIGUSR2/SIGTERM/SIGINT)
// in standalone mode, and through the BOINC API's app control channel from
// FakeBoincClient (ClientChannelTest), which puts the API out of standalone mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "mw/boinc/inline_task.h"
#include "mw/bundle.h"
#include "mw/hash.h"
#include "mw/signing.h"
#include "client_wrapper/fake_boinc_client.h"
#include "support/raw_zip.h"
#include "support/test_support.h"

namespace mw {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr int kRan = 0, kSignature = 65, kIntegrity = 66, kManifest = 67, kMissingInput = 69,
              kAborted = 194;

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// One mw-wrapper process started in a slot directory.
class WrapperProcess {
 public:
  explicit WrapperProcess(const std::string& slot, const std::vector<std::string>& args = {}) {
    std::vector<char*> argv{const_cast<char*>(MW_WRAPPER)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      if (chdir(slot.c_str()) != 0) _exit(120);
      int null_fd = open("/dev/null", O_RDWR);
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      execv(MW_WRAPPER, argv.data());
      _exit(121);
    }
  }
  ~WrapperProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) const { kill(pid_, sig); }
  // Exit code, or -signal; fails the test if it takes longer than `limit`.
  int wait(std::chrono::seconds limit = 60s) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > give_up) {
        ADD_FAILURE() << "mw-wrapper did not finish within " << limit.count() << " s";
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  // The task's pid: the wrapper's only child.
  pid_t child() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) +
                     "/children");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  return close == std::string::npos || close + 2 >= all.size() ? '?' : all[close + 2];
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 20000ms) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < give_up) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class WrapperTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;       // outside the slot: things the test looks at
  test::ScratchDir slot_dir;  // the BOINC slot directory
  PrivateKey key = PrivateKey::generate();

  std::string slot(const std::string& name) const { return slot_dir / name; }

  void SetUp() override {
    test::write_text(slot("mw_task_public.pem"), key.public_key().to_pem());
  }

  TaskBuilder probe_task(const std::vector<std::string>& actions) const {
    TaskBuilder t("probe");
    t.bundled_program(MW_TASK_PROBE, "task_probe").args(actions);
    return t;
  }

  std::string stderr_txt() const {
    return exists(slot("stderr.txt")) ? test::read_text(slot("stderr.txt")) : "";
  }

  int run_wrapper(const std::vector<std::string>& args = {}) {
    WrapperProcess w(slot_dir.path(), args);
    return w.wait();
  }

  ResultManifest result() const { return ResultBundle::open(slot("result.zip")).manifest(); }

  // Expects a rejection: the status, stderr.txt naming `what`, and the task never ran.
  void expect_rejected(int code, int expected_code, const std::string& what) {
    EXPECT_EQ(code, expected_code) << stderr_txt();
    EXPECT_THAT(stderr_txt(), HasSubstr("task rejected, not run"));
    EXPECT_THAT(stderr_txt(), HasSubstr(what));
    EXPECT_FALSE(exists(dir / "ran")) << "a rejected task must never run";
    EXPECT_FALSE(exists(slot("mw_work"))) << "nothing of a rejected task stays unpacked";
  }
};

TEST_F(WrapperTest, SuccessWritesTheResultBundleAndFinishes) {
  probe_task({"write", "out.txt", "hello", "out", "to stdout"})
      .output("out.txt", 100)
      .write_bundle(slot("task.zip"), key);
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  ResultBundle r = ResultBundle::open(slot("result.zip"));
  EXPECT_EQ(r.manifest().status, ResultStatus::success) << r.manifest().reason;
  EXPECT_EQ(r.read_output("out.txt"), "hello");
  EXPECT_EQ(r.read_output("mw.stdout"), "to stdout\n");
  EXPECT_EQ(r.manifest().task_sha256,
            TaskBundle::open(slot("task.zip")).manifest_sha256());
  EXPECT_THAT(stderr_txt(), HasSubstr("task ended: success"));
  EXPECT_TRUE(exists(slot("boinc_finish_called")));
  EXPECT_FALSE(exists(slot("mw_work"))) << "the slot is cleaned after the result is written";
}

TEST_F(WrapperTest, TaskFailureStillYieldsAResultAndExitZero) {
  probe_task({"err", "it broke", "exit", "3"}).write_bundle(slot("task.zip"), key);
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  ResultManifest r = result();
  EXPECT_EQ(r.status, ResultStatus::nonzero_exit);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.stderr_tail, HasSubstr("it broke"));
  EXPECT_THAT(stderr_txt(), HasSubstr("task ended: nonzero_exit"));
}

TEST_F(WrapperTest, TimeLimitKillsTheTaskAndSaysSo) {
  Limits limits;
  limits.wall_seconds = 1;
  probe_task({"sleep", "30"}).limits(limits).write_bundle(slot("task.zip"), key);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_EQ(result().status, ResultStatus::wall_time_exceeded);
  EXPECT_THAT(stderr_txt(), HasSubstr("wall_time_exceeded"));
}

TEST_F(WrapperTest, TamperedFileIsRefusedAndNeverRuns) {
  TaskBuilder t = probe_task({"write", dir / "ran", "x"});
  t.file_bytes("in.txt", "AAAA");
  const std::string xml = task_to_xml(t.manifest());
  test::RawZip(slot("task.zip"))
      .add("task.xml", xml)
      .add("task.sig", key.sign(xml).to_text())
      .add("task_probe", test::read_text(MW_TASK_PROBE), S_IFREG | 0755)
      .add("in.txt", "AAAB")
      .close();
  const int code = run_wrapper();
  expect_rejected(code, kIntegrity, "'in.txt'");
  EXPECT_EQ(result().status, ResultStatus::rejected);
}

TEST_F(WrapperTest, TamperedManifestFailsTheSignature) {
  TaskBuilder honest = probe_task({"out", "honest"});
  const std::string signed_xml = task_to_xml(honest.manifest());
  const std::string evil_xml = task_to_xml(probe_task({"write", dir / "ran", "x"}).manifest());
  test::RawZip(slot("task.zip"))
      .add("task.xml", evil_xml)
      .add("task.sig", key.sign(signed_xml).to_text())
      .add("task_probe", test::read_text(MW_TASK_PROBE), S_IFREG | 0755)
      .close();
  expect_rejected(run_wrapper(), kSignature, "does not match");
}

TEST_F(WrapperTest, BundleSignedWithAnotherKeyIsRefused) {
  probe_task({"write", dir / "ran", "x"}).write_bundle(slot("task.zip"), PrivateKey::generate());
  expect_rejected(run_wrapper(), kSignature, "not among the 1 trusted key");
}

TEST_F(WrapperTest, SecondTrustedKeyIsUsedAndTheChainStopsAtAGap) {
  PrivateKey second = PrivateKey::generate(), third = PrivateKey::generate();
  test::write_text(slot("mw_task_public_1.pem"), second.public_key().to_pem());
  test::write_text(slot("mw_task_public_3.pem"), third.public_key().to_pem());  // after a gap
  probe_task({"out", "hi"}).write_bundle(slot("task.zip"), second);
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  EXPECT_EQ(result().status, ResultStatus::success);

  probe_task({"write", dir / "ran", "x"}).write_bundle(slot("task.zip"), third);
  ::unlink(slot("result.zip").c_str());
  expect_rejected(run_wrapper(), kSignature, "not among the 2 trusted key");
}

TEST_F(WrapperTest, MissingTaskBundleIsNamed) {
  expect_rejected(run_wrapper(), kMissingInput, "task.zip");
}

TEST_F(WrapperTest, MissingKeyIsNamed) {
  ::unlink(slot("mw_task_public.pem").c_str());
  probe_task({"write", dir / "ran", "x"}).write_bundle(slot("task.zip"), key);
  expect_rejected(run_wrapper(), kMissingInput, "mw_task_public.pem");
}

TEST_F(WrapperTest, MalformedManifestIsRefused) {
  const std::string xml = "<mw_task format_version=\"1\"><name>x</name></mw_task>";
  test::RawZip(slot("task.zip")).add("task.xml", xml).add("task.sig", key.sign(xml).to_text()).close();
  expect_rejected(run_wrapper(), kManifest, "task.xml");
}

// The program travels as the separate sticky file mw_program; the bundle omits it.
class SeparateProgramTest : public WrapperTest {
 protected:
  void write_bundle_without_program(const std::vector<std::string>& actions) {
    const std::string xml = task_to_xml(probe_task(actions).manifest());
    test::RawZip(slot("task.zip")).add("task.xml", xml).add("task.sig", key.sign(xml).to_text()).close();
  }
};

TEST_F(SeparateProgramTest, ProgramFileIsCheckedAndRun) {
  write_bundle_without_program({"out", "separate"});
  test::write_text(slot("mw_program"), test::read_text(MW_TASK_PROBE));
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  ResultBundle r = ResultBundle::open(slot("result.zip"));
  EXPECT_EQ(r.manifest().status, ResultStatus::success) << r.manifest().reason;
  EXPECT_EQ(r.read_output("mw.stdout"), "separate\n");
}

// A small task travels in the workunit's command line (mw/boinc/inline_task.h):
// the BOINC client passes it as arguments, there is no task.zip in the slot.
TEST_F(SeparateProgramTest, TaskFromTheCommandLineIsCheckedAndRun) {
  write_bundle_without_program({"out", "inline"});
  const std::string bundle = test::read_text(slot("task.zip"));
  ASSERT_EQ(::unlink(slot("task.zip").c_str()), 0);
  ASSERT_LE(bundle.size(), boinc::kMaxInlineBundleBytes);
  test::write_text(slot("mw_program"), test::read_text(MW_TASK_PROBE));
  EXPECT_EQ(run_wrapper({boinc::kInlineTaskOption, boinc::encode_inline_task(bundle)}), kRan) << stderr_txt();
  ResultBundle r = ResultBundle::open(slot("result.zip"));
  EXPECT_EQ(r.manifest().status, ResultStatus::success) << r.manifest().reason;
  EXPECT_EQ(r.read_output("mw.stdout"), "inline\n");
  EXPECT_EQ(r.manifest().task_sha256, sha256_hex(task_to_xml(probe_task({"out", "inline"}).manifest())));
  EXPECT_FALSE(exists(slot("mw_task_inline.zip"))) << "the decoded bundle is removed with the slot's work";
}

TEST_F(SeparateProgramTest, TamperedTaskFromTheCommandLineNeverRuns) {
  const std::string signed_xml = task_to_xml(probe_task({"out", "honest"}).manifest());
  const std::string evil_xml = task_to_xml(probe_task({"write", dir / "ran", "x"}).manifest());
  test::RawZip(dir / "evil.zip").add("task.xml", evil_xml).add("task.sig", key.sign(signed_xml).to_text()).close();
  test::write_text(slot("mw_program"), test::read_text(MW_TASK_PROBE));
  const std::string bundle = test::read_text(dir / "evil.zip");
  expect_rejected(run_wrapper({boinc::kInlineTaskOption, boinc::encode_inline_task(bundle)}), kSignature,
                  "does not match");
}

TEST_F(SeparateProgramTest, MalformedTaskInTheCommandLineIsRefusedSayingWhy) {
  test::write_text(slot("mw_program"), test::read_text(MW_TASK_PROBE));
  expect_rejected(run_wrapper({boinc::kInlineTaskOption, "UEsDB"}), kManifest,
                  "--mw-task-base64) is not valid base64: its length 5 is not a multiple of 4");
}

TEST_F(SeparateProgramTest, WrongProgramFileNeverRuns) {
  write_bundle_without_program({"write", dir / "ran", "x"});
  std::string bytes = test::read_text(MW_TASK_PROBE);
  bytes[bytes.size() / 2] ^= 1;
  test::write_text(slot("mw_program"), bytes);
  expect_rejected(run_wrapper(), kIntegrity, "'task_probe'");
}

TEST_F(SeparateProgramTest, MissingProgramFileIsNamed) {
  write_bundle_without_program({"write", dir / "ran", "x"});
  expect_rejected(run_wrapper(), kIntegrity, "'task_probe' is declared in task.xml but missing");
}

TaskBuilder counter_task(int steps, double step_seconds) {
  TaskBuilder t("counter");
  std::ostringstream step;
  step << step_seconds;
  t.bundled_program(MW_CHECKPOINT_COUNTER, "checkpoint_counter")
      .args({std::to_string(steps), step.str(), "count.txt"})
      .output("count.txt", 100);
  return t;
}

int read_int(const std::string& path) {
  std::ifstream in(path);
  int v = -1;
  in >> v;
  return v;
}

TEST_F(WrapperTest, RestartAfterKillResumesFromTheCheckpointWithoutUnpackingAgain) {
  counter_task(10, 0.4).write_bundle(slot("task.zip"), key);
  {
    WrapperProcess first(slot_dir.path());
    // The wrapper has noticed a checkpoint once it records the time spent so far.
    ASSERT_TRUE(eventually([&] {
      return exists(slot("mw_wrapper_state")) && read_int(slot("mw_work/mw.checkpoint")) >= 2;
    })) << stderr_txt();
    const pid_t task = first.child();
    ASSERT_GT(task, 0);
    first.signal(SIGKILL);
    EXPECT_EQ(first.wait(), -SIGKILL);
    // Promptly: the task still has seconds of counting left if it survived.
    EXPECT_TRUE(eventually([&] { return kill(task, 0) != 0 || process_state(task) == 'Z'; }, 1000ms))
        << "the task must die with its wrapper, or the restart would run it twice";
  }
  ASSERT_TRUE(exists(slot("mw_work.verified")));
  // The marker says which boot it belongs to: this one, so the copy is reused as it is.
  EXPECT_THAT(test::read_text(slot("mw_work.verified")),
              HasSubstr("\nboot " + test::read_text("/proc/sys/kernel/random/boot_id")));
  const int checkpoint = read_int(slot("mw_work/mw.checkpoint"));
  ASSERT_GE(checkpoint, 2);
  // Proof that the copy is reused rather than unpacked again: a file only this copy has.
  test::write_text(slot("mw_work/left_by_first_run"), "x");

  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  ResultBundle r = ResultBundle::open(slot("result.zip"));
  ASSERT_EQ(r.manifest().status, ResultStatus::success) << r.manifest().reason;
  int started_at = -1;
  std::istringstream(r.read_output("count.txt").substr(std::string("started at ").size())) >>
      started_at;
  EXPECT_GE(started_at, checkpoint) << r.read_output("count.txt");
  EXPECT_THAT(stderr_txt(), HasSubstr("reusing the copy verified and unpacked earlier"));
  EXPECT_GE(r.manifest().wall_seconds, 0.8) << "time before the kill counts";
}

TEST_F(WrapperTest, DamagedUnpackedCopyIsUnpackedAgain) {
  counter_task(3, 0.2).write_bundle(slot("task.zip"), key);
  ASSERT_EQ(mkdir(slot("mw_work").c_str(), 0700), 0);
  test::write_text(slot("mw_work.verified"),
                   "mw-wrapper verified " + TaskBundle::open(slot("task.zip")).manifest_sha256() + "\n");
  test::write_text(slot("mw_work/checkpoint_counter"), "truncated");  // wrong size
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  EXPECT_EQ(result().status, ResultStatus::success) << result().reason;
  EXPECT_THAT(stderr_txt(), HasSubstr("verified and unpacked"));
  EXPECT_THAT(stderr_txt(), Not(HasSubstr("reusing")));
}

TEST_F(WrapperTest, MarkerForAnotherTaskIsNotTrusted) {
  probe_task({"out", "fresh"}).write_bundle(slot("task.zip"), key);
  ASSERT_EQ(mkdir(slot("mw_work").c_str(), 0700), 0);
  test::write_text(slot("mw_work.verified"), "mw-wrapper verified " + std::string(64, '0') + "\n");
  test::write_text(slot("mw_work/task_probe"), test::read_text(MW_TASK_PROBE));
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  EXPECT_THAT(stderr_txt(), Not(HasSubstr("reusing")));
}

// An unpacked copy as a run before a reboot left it: neither the files nor the
// marker were fsync'd, so after a crash the marker may have survived while the
// files did not (docs/wrapper.md).
class EarlierBootTest : public WrapperTest {
 protected:
  void SetUp() override {
    WrapperTest::SetUp();
    probe_task({"cat", "in.txt"}).file_bytes("in.txt", "AAAA").write_bundle(slot("task.zip"), key);
    ASSERT_EQ(mkdir(slot("mw_work").c_str(), 0700), 0);
    TaskBundle bundle = TaskBundle::open(slot("task.zip"));
    bundle.extract_to(slot("mw_work"));
    sha = bundle.manifest_sha256();
  }
  std::string sha;
  std::string stdout_of_task() const {
    return ResultBundle::open(slot("result.zip")).read_output("mw.stdout");
  }
};

TEST_F(EarlierBootTest, IntactCopyIsVerifiedAgainAndReused) {
  test::write_text(slot("mw_work.verified"), "mw-wrapper verified " + sha +
                                                 "\nboot 00000000-0000-0000-0000-000000000000\n");
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  EXPECT_THAT(stderr_txt(), HasSubstr("every file verified again"));
  EXPECT_EQ(stdout_of_task(), "AAAA");
}

TEST_F(EarlierBootTest, ChangedFileOfTheSameSizeIsNotReused) {
  // A marker without a boot id (an older wrapper's) is treated the same way.
  test::write_text(slot("mw_work.verified"), "mw-wrapper verified " + sha + "\n");
  test::write_text(slot("mw_work/in.txt"), "AAAB");
  EXPECT_EQ(run_wrapper(), kRan) << stderr_txt();
  EXPECT_THAT(stderr_txt(), HasSubstr("verified and unpacked"));
  EXPECT_THAT(stderr_txt(), Not(HasSubstr("reusing")));
  EXPECT_EQ(stdout_of_task(), "AAAA") << "the task must see the signed bytes, not the damaged copy";
}

TEST_F(WrapperTest, SuspendStopsTheGroupAndPausesTheTimeLimit) {
  Limits limits;
  limits.wall_seconds = 3;
  probe_task({"sleep", "2", "out", "done"}).limits(limits).write_bundle(slot("task.zip"), key);
  WrapperProcess w(slot_dir.path());
  ASSERT_TRUE(eventually([&] { return w.child() > 0; }));
  const pid_t task = w.child();
  w.signal(SIGUSR1);
  EXPECT_TRUE(eventually([&] { return process_state(task) == 'T'; }, 5000ms))
      << "the task's process group is stopped";
  std::this_thread::sleep_for(3500ms);  // longer than the whole wall-time limit
  EXPECT_EQ(process_state(task), 'T');
  w.signal(SIGUSR2);
  EXPECT_TRUE(eventually([&] { return process_state(task) != 'T'; }, 5000ms));
  EXPECT_EQ(w.wait(), kRan) << stderr_txt();
  ResultBundle r = ResultBundle::open(slot("result.zip"));
  EXPECT_EQ(r.manifest().status, ResultStatus::success) << r.manifest().reason;
  EXPECT_LT(r.manifest().wall_seconds, 3.0) << "suspended time does not count";
}

TEST_F(WrapperTest, AbortKillsTheTaskAndFinishesWithTheAbortStatus) {
  probe_task({"sleep", "60"}).write_bundle(slot("task.zip"), key);
  WrapperProcess w(slot_dir.path());
  ASSERT_TRUE(eventually([&] { return w.child() > 0; }));
  const pid_t task = w.child();
  w.signal(SIGINT);
  EXPECT_EQ(w.wait(20s), kAborted) << stderr_txt();
  EXPECT_NE(kill(task, 0), 0) << "the task is gone";
  EXPECT_FALSE(exists(slot("result.zip")));
  EXPECT_THAT(stderr_txt(), HasSubstr("aborted"));
}

TEST_F(WrapperTest, QuitStopsTheTaskAndLeavesItToResume) {
  counter_task(50, 0.2).write_bundle(slot("task.zip"), key);
  WrapperProcess w(slot_dir.path());
  ASSERT_TRUE(eventually([&] { return w.child() > 0; }));
  const pid_t task = w.child();
  w.signal(SIGTERM);
  EXPECT_EQ(w.wait(20s), kRan) << stderr_txt();
  EXPECT_NE(kill(task, 0), 0) << "the task is gone";
  EXPECT_FALSE(exists(slot("result.zip")));
  EXPECT_FALSE(exists(slot("boinc_finish_called"))) << "quit is not finish: the client restarts it";
  EXPECT_TRUE(exists(slot("mw_work.verified")));
}

}  // namespace
}  // namespace mw

namespace mw {
namespace {

// The same requests through the BOINC API's control channel, from a fake client.
class ClientChannelTest : public WrapperTest {};

TEST_F(ClientChannelTest, SuspendResumeAndProgressThroughTheClientChannel) {
  test::FakeBoincClient client(slot_dir.path());
  counter_task(6, 0.3).write_bundle(slot("task.zip"), key);
  WrapperProcess w(slot_dir.path());
  ASSERT_TRUE(eventually([&] { return w.child() > 0; }));
  const pid_t task = w.child();
  ASSERT_TRUE(client.send_control("<suspend/>"));
  EXPECT_TRUE(eventually([&] { return process_state(task) == 'T'; }, 5000ms)) << stderr_txt();
  const int checkpoint = read_int(slot("mw_work/mw.checkpoint"));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(read_int(slot("mw_work/mw.checkpoint")), checkpoint) << "a suspended task does not count";
  ASSERT_TRUE(client.send_control("<resume/>"));
  EXPECT_TRUE(eventually([&] { return client.reported_fraction_done() > 0.3; }, 10000ms))
      << "the task's progress file reaches the client";
  EXPECT_EQ(w.wait(), kRan) << stderr_txt();
  EXPECT_EQ(result().status, ResultStatus::success) << result().reason;
  EXPECT_THAT(stderr_txt(), Not(HasSubstr("standalone")));
}

TEST_F(ClientChannelTest, AbortThroughTheClientChannel) {
  test::FakeBoincClient client(slot_dir.path());
  probe_task({"sleep", "60"}).write_bundle(slot("task.zip"), key);
  WrapperProcess w(slot_dir.path());
  ASSERT_TRUE(eventually([&] { return w.child() > 0; }));
  const pid_t task = w.child();
  ASSERT_TRUE(client.send_control("<abort/>"));
  EXPECT_EQ(w.wait(20s), kAborted) << stderr_txt();
  EXPECT_TRUE(kill(task, 0) != 0 || process_state(task) == 'Z');
}

TEST_F(ClientChannelTest, QuitThroughTheClientChannel) {
  test::FakeBoincClient client(slot_dir.path());
  counter_task(50, 0.2).write_bundle(slot("task.zip"), key);
  WrapperProcess w(slot_dir.path());
  ASSERT_TRUE(eventually([&] { return w.child() > 0; }));
  ASSERT_TRUE(client.send_control("<quit/>"));
  EXPECT_EQ(w.wait(20s), kRan) << stderr_txt();
  EXPECT_FALSE(exists(slot("boinc_finish_called")));
  EXPECT_TRUE(exists(slot("mw_work.verified")));
}

}  // namespace
}  // namespace mw
