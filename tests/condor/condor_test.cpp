// mw::Condor against the HTCondor test double (tests/condor/fake_condor.cpp:
// fake_condor_submit / fake_condor_rm / fake_condor_release), which runs each
// job locally through the real mw-run-task and writes the job event log in
// HTCondor's format. Also the event-log reader on literal log text.
// This binary is its own worker program: function tasks ship it in their bundles.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <dirent.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "interfaces/condor_event_log.h"
#include "mw/condor.h"
#include "mw/master.h"
#include "mw/worker.h"
#include "support/test_support.h"

int square(int x) { return x * x; }
MW_TASK(square);

namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// ---- the event log reader ------------------------------------------------------

const char* kLog =
    "000 (123.000.000) 2026-11-22 19:54:01 Job submitted from host: <10.0.0.1:9618?addrs=10.0.0.1-9618>\n"
    "...\n"
    "001 (123.000.000) 2026-11-22 19:54:02 Job executing on host: <10.0.0.2:9618>\n"
    "...\n"
    "005 (123.000.000) 2026-11-22 19:54:03 Job terminated.\n"
    "\t(1) Normal termination (return value 3)\n"
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n"
    "\t0  -  Run Bytes Sent By Job\n"
    "...\n"
    "005 (123.001.000) 11/22 19:54:04 Job terminated.\n"
    "\t(0) Abnormal termination (signal 9)\n"
    "\t(0) No core file\n"
    "...\n"
    "012 (124.000.000) 2026-11-22 19:54:05 Job was held.\n"
    "\tdisk quota exceeded\n"
    "\tCode 3 Subcode 0\n"
    "...\n"
    "this is not an event\n"
    "\tnor is this\n"
    "...\n"
    "009 (124.002.000) 2026-11-22 19:54:06 Job was aborted.\n"
    "\tvia condor_rm (by user alice)\n"
    "...\n";

TEST(CondorEventLog, ReadsTheDocumentedFormat) {
  mw::detail::CondorEventLogParser parser;
  const auto events = parser.feed(kLog);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[0].code, 0);
  EXPECT_EQ(events[0].cluster, 123);
  EXPECT_EQ(events[1].code, 1);
  EXPECT_EQ(events[1].header_text, "Job executing on host: <10.0.0.2:9618>");
  EXPECT_EQ(events[2].code, 5);
  EXPECT_EQ(events[2].return_value, 3);
  EXPECT_FALSE(events[2].signal);
  EXPECT_EQ(events[3].proc, 1);
  EXPECT_EQ(events[3].signal, 9);
  EXPECT_FALSE(events[3].return_value);
  EXPECT_EQ(events[4].code, 12);
  EXPECT_EQ(events[4].cluster, 124);
  EXPECT_EQ(events[4].reason(), "disk quota exceeded");
  EXPECT_EQ(events[5].code, 9);
  EXPECT_EQ(events[5].proc, 2);
  EXPECT_EQ(events[5].reason(), "via condor_rm (by user alice)");
  EXPECT_THAT(parser.last_error(), HasSubstr("this is not an event"));
}

TEST(CondorEventLog, AnEventWrittenInPiecesIsReportedOnceComplete) {
  mw::detail::CondorEventLogParser whole, pieces;
  const std::string log = kLog;
  const auto expected = whole.feed(log);
  std::vector<mw::detail::CondorEvent> got;
  for (std::size_t i = 0; i < log.size(); i += 7) {  // a writer caught mid-line
    auto part = pieces.feed(std::string_view(log).substr(i, 7));
    got.insert(got.end(), part.begin(), part.end());
  }
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].code, expected[i].code);
    EXPECT_EQ(got[i].proc, expected[i].proc);
    EXPECT_EQ(got[i].body, expected[i].body);
  }
  EXPECT_TRUE(pieces.feed("001 (7.000.000) 2026-11-22 19:54:02 Job executing\n").empty());
  EXPECT_EQ(pieces.feed("...\n").size(), 1u);
}

// 001 as HTCondor writes it: before 8.9 the bare address; since, the sinful
// string with alias= and a SlotName line (condor_event.cpp, ExecuteEvent).
TEST(CondorEventLog, TheExecuteHostIsTakenFromTheSlotNameAliasOrAddress) {
  mw::detail::CondorEventLogParser parser;
  const auto events = parser.feed(
      "001 (7.000.000) 2026-11-22 19:54:02 Job executing on host: <10.0.0.2:9618>\n"
      "...\n"
      "001 (7.001.000) 2026-11-22 19:54:02 Job executing on host: "
      "<128.104.55.42:9618?addrs=128.104.55.42-9618&alias=e4049.chtc.wisc.edu&noUDP&sock=slot1_34_2613859_e04d>\n"
      "\tSlotName: slot1_34@e4049.chtc.wisc.edu\n"
      "\tCpus = 1\n"
      "\tMemory = 1024\n"
      "...\n"
      "001 (7.002.000) 2026-11-22 19:54:02 Job executing on host: "
      "<[2607:f388:107c:501::2]:9618?addrs=[2607:f388:107c:501::2]-9618&alias=v6.example.org&noUDP>\n"
      "...\n"
      "001 (7.003.000) 2026-11-22 19:54:02 Job executing on host: \n"
      "...\n"
      "005 (7.000.000) 2026-11-22 19:54:03 Job terminated.\n"
      "\t(1) Normal termination (return value 0)\n"
      "...\n");
  ASSERT_EQ(events.size(), 5u);
  const auto old_style = mw::detail::condor_execute_host(events[0]);
  EXPECT_EQ(old_style.address, "10.0.0.2");
  EXPECT_EQ(old_style.machine, "");
  const auto current = mw::detail::condor_execute_host(events[1]);
  EXPECT_EQ(current.address, "128.104.55.42");
  EXPECT_EQ(current.machine, "e4049.chtc.wisc.edu");
  EXPECT_EQ(current.slot, "slot1_34@e4049.chtc.wisc.edu");
  const auto v6 = mw::detail::condor_execute_host(events[2]);
  EXPECT_EQ(v6.address, "2607:f388:107c:501::2");
  EXPECT_EQ(v6.machine, "v6.example.org");
  const auto none = mw::detail::condor_execute_host(events[3]);
  EXPECT_EQ(none.address + none.machine, "");
  EXPECT_EQ(mw::detail::condor_execute_host(events[4]).address, "");  // not a 001
}

// ---- the interface against the double ----------------------------------------------

class CondorTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("FAKE_CONDOR_SPOOL", spool_.path().c_str(), 1); }

  mw::Condor condor() const {
    mw::Condor c;
    c.condor_submit = FAKE_CONDOR_SUBMIT;
    c.condor_rm = FAKE_CONDOR_RM;
    c.condor_release = FAKE_CONDOR_RELEASE;
    c.run_task_program = std::string(MW_TOOLS_DIR) + "/mw-run-task";
    c.work_dir = work_.path() + "/condor";
    c.keep_work_dir = true;
    return c;
  }
  std::string log() const { return mw::test::read_text(work_.path() + "/condor/jobs.log"); }
  static std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  mw::test::ScratchDir spool_, work_;
};

// The TaskFailed that get_result(t) throws (a test failure if it returns).
mw::TaskFailed failure_of(mw::Master& master, mw::Task t) {
  try {
    master.get_result(t);
  } catch (const mw::TaskFailed& e) {
    return e;
  }
  ADD_FAILURE() << "task " << t.id << " succeeded";
  throw std::runtime_error("task succeeded");
}

TEST_F(CondorTest, RunsFunctionAndExecTasksAsJobsOfFewClusters) {
  mw::Master master(condor().make_interface());
  std::vector<mw::Task> tasks;
  for (int i = 0; i < 20; ++i) tasks.push_back(master.submit_task(mw::fn("square"), mw::args(i)));
  const mw::Task exec = master.submit_task(mw::Exec("/bin/sh", {"-c", "cat in.txt; echo done > out.txt"})
                                               .input_bytes("in.txt", "hello")
                                               .output("out.txt"));
  for (int i = 0; i < 20; ++i) {
    mw::Result r = master.get_result(tasks[static_cast<std::size_t>(i)]);
    EXPECT_EQ(r.value<int>(), i * i);
    EXPECT_THAT(r.outcome().worker, HasSubstr("condor:"));
  }
  mw::Result e = master.get_result(exec);
  EXPECT_EQ(e.stdout_text(), "hello");
  EXPECT_EQ(e.output("out.txt"), "done\n");
  const auto st = master.status();
  EXPECT_EQ(st.interface, "condor");
  EXPECT_EQ(st.details.details.at("submitted"), "21");
  EXPECT_LT(std::stoi(st.details.details.at("clusters")), 21);  // many jobs per condor_submit
  const std::string text = log();
  EXPECT_EQ(count(text, "Job submitted from host"), 21u);
  EXPECT_EQ(count(text, "Normal termination (return value 0)"), 21u);
  // One submit description per cluster, with a queue per task and the task's requests.
  std::size_t queues = 0;
  if (DIR* d = opendir((work_.path() + "/condor").c_str())) {
    while (dirent* ent = readdir(d)) {
      const std::string f = ent->d_name;
      if (f.size() > 4 && f.compare(f.size() - 4, 4, ".sub") == 0) {
        const std::string sub = mw::test::read_text(work_.path() + "/condor/" + f);
        EXPECT_THAT(sub, HasSubstr("universe = vanilla"));
        EXPECT_THAT(sub, HasSubstr("when_to_transfer_output = ON_EXIT"));
        EXPECT_THAT(sub, HasSubstr("request_memory = 256"));
        queues += count(sub, "\nqueue\n");
      }
    }
    closedir(d);
  }
  EXPECT_EQ(queues, 21u);
}

TEST_F(CondorTest, AFailingJobCarriesItsExitStatus) {
  mw::Master master(condor().make_interface());
  const mw::Task t = master.submit_task(mw::Exec("/bin/sh", {"-c", "echo oops >&2; exit 3"}));
  const mw::TaskFailed e = failure_of(master, t);
  EXPECT_EQ(e.status(), mw::ResultStatus::nonzero_exit) << e.what();
  EXPECT_THAT(e.stderr_tail(), HasSubstr("oops"));
}

TEST_F(CondorTest, AHeldJobFailsWithTheHoldReason) {
  mw::Condor c = condor();
  c.submit_lines = {"+FakeCondorHold = \"disk quota exceeded on the execute node\""};
  mw::Master master(c.make_interface());
  const mw::Task t = master.submit_task(mw::fn("square"), mw::args(3));
  const mw::TaskFailed e = failure_of(master, t);
  EXPECT_THAT(e.reason(), HasSubstr("held"));
  EXPECT_THAT(e.reason(), HasSubstr("disk quota exceeded on the execute node"));
  EXPECT_EQ(master.status().details.details.at("held"), "1");
  // The interface removes a held job it gives up on: the double logs the abort.
  for (int i = 0; i < 200 && count(log(), "Job was aborted.") == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(count(log(), "Job was aborted."), 1u);
}

TEST_F(CondorTest, AHeldJobIsReleasedUnderTheReleasePolicy) {
  mw::Condor c = condor();
  c.submit_lines = {"+FakeCondorHold = \"transient trouble\""};
  c.hold_policy = mw::Condor::HoldPolicy::release;
  mw::Master master(c.make_interface());
  const mw::Task t = master.submit_task(mw::fn("square"), mw::args(4));
  EXPECT_EQ(master.get_result(t).value<int>(), 16);
  const auto details = master.status().details.details;
  EXPECT_EQ(details.at("held"), "1");
  EXPECT_EQ(details.at("released"), "1");
  EXPECT_EQ(count(log(), "Job was released."), 1u);
}

// How one task fails with `line` added to the submit description.
mw::TaskFailed failure_with_submit_line(mw::Condor c, const std::string& line) {
  c.submit_lines = {line};
  mw::Master master(c.make_interface());
  return failure_of(master, master.submit_task(mw::fn("square"), mw::args(5)));
}

TEST_F(CondorTest, AnAbortedJobFailsNamingTheJob) {
  const mw::TaskFailed e = failure_with_submit_line(condor(), "+FakeCondorAbort = \"removed by periodic_remove\"");
  EXPECT_THAT(e.reason(), HasSubstr("aborted job"));
  EXPECT_THAT(e.reason(), HasSubstr("removed by periodic_remove"));
}

TEST_F(CondorTest, CancelRunsCondorRmOnTheJob) {
  mw::Master master(condor().make_interface());
  const mw::Task slow = master.submit_task(mw::Exec("/bin/sleep", {"60"}));
  for (int i = 0; i < 500 && master.status().details.details.at("running") != "1"; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(master.status().details.details.at("running"), "1");
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(master.cancel(slow));
  // Generous under a loaded machine (CI builds beside the tests); the job sleeps 60 s.
  for (int i = 0; i < 2000 && count(log(), "Job was aborted.") == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(count(log(), "via condor_rm"), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 45s);  // killed, not waited for
  const mw::Task after = master.submit_task(mw::fn("square"), mw::args(6));
  EXPECT_EQ(master.get_result(after).value<int>(), 36);
}

TEST_F(CondorTest, AFailingCondorSubmitFailsItsTasksWithItsMessage) {
  const mw::TaskFailed e = failure_with_submit_line(condor(), "this line is not a submit command");
  EXPECT_THAT(e.reason(), HasSubstr("condor_submit"));
  EXPECT_THAT(e.reason(), HasSubstr("this line is not a submit command"));
}

TEST_F(CondorTest, AnEvictedJobRunsAgainAndIsCounted) {
  mw::Condor c = condor();
  c.submit_lines = {"+FakeCondorEvict = True"};
  mw::Master master(c.make_interface());
  EXPECT_EQ(master.get_result(master.submit_task(mw::fn("square"), mw::args(7))).value<int>(), 49);
  EXPECT_EQ(master.status().details.details.at("evicted"), "1");
}

const mw::HostStatus* host_named(const mw::InterfaceStatus& st, const std::string& name) {
  for (const auto& h : st.hosts)
    if (h.name == name) return &h;
  return nullptr;
}

// The job event log's 001 events say which machine ran each job: status()
// counts tasks per machine, and an evicted attempt counts for nobody.
TEST_F(CondorTest, StatusCountsTasksPerExecuteMachine) {
  mw::Condor c = condor();
  c.submit_lines = {"+FakeCondorHosts = \"exec-a.example.org exec-b.example.org\""};
  mw::Master master(c.make_interface());
  std::vector<mw::Task> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(master.submit_task(mw::fn("square"), mw::args(i)));
  for (auto& t : tasks) {
    mw::Result r = master.get_result(t);
    EXPECT_THAT(r.outcome().worker, HasSubstr(" on exec-"));
  }
  const auto st = master.status().details;
  EXPECT_EQ(st.hosts_seen, 2u);
  ASSERT_EQ(st.hosts.size(), 2u);
  std::uint64_t done = 0;
  for (const auto& h : st.hosts) {
    EXPECT_EQ(h.running, std::optional<std::uint64_t>(0)) << h.name;
    EXPECT_EQ(h.tasks_failed, 0u) << h.name;
    EXPECT_GT(h.last_seen, 1.7e9) << h.name;
    EXPECT_THAT(h.details, HasSubstr("127.0.0.")) << h.name;
    done += h.tasks_done;
  }
  EXPECT_EQ(done, 5u);
  ASSERT_TRUE(host_named(st, "exec-a.example.org"));
  ASSERT_TRUE(host_named(st, "exec-b.example.org"));
  EXPECT_GE(host_named(st, "exec-a.example.org")->tasks_done, 1u);
  EXPECT_GE(host_named(st, "exec-b.example.org")->tasks_done, 1u);
}

TEST_F(CondorTest, AnEvictedAttemptCountsForTheHostThatFinishedTheJob) {
  mw::Condor c = condor();
  c.submit_lines = {"+FakeCondorEvict = True", "+FakeCondorHosts = \"first.example.org second.example.org\""};
  mw::Master master(c.make_interface());
  EXPECT_EQ(master.get_result(master.submit_task(mw::fn("square"), mw::args(3))).value<int>(), 9);
  const auto st = master.status().details;
  EXPECT_EQ(st.hosts_seen, 2u);
  // Job 0 is evicted from the second host and then runs on the first.
  ASSERT_TRUE(host_named(st, "first.example.org"));
  ASSERT_TRUE(host_named(st, "second.example.org"));
  EXPECT_EQ(host_named(st, "first.example.org")->tasks_done, 1u);
  EXPECT_EQ(host_named(st, "second.example.org")->tasks_done, 0u);
  EXPECT_EQ(host_named(st, "second.example.org")->running, std::optional<std::uint64_t>(0));
}

TEST_F(CondorTest, AFailedJobCountsAsFailedOnItsHost) {
  mw::Condor c = condor();
  c.run_task_program = "/bin/false";
  c.submit_lines = {"+FakeCondorHosts = \"flaky.example.org\""};
  mw::Master master(c.make_interface());
  const mw::TaskFailed e = failure_of(master, master.submit_task(mw::fn("square"), mw::args(1)));
  const auto st = master.status().details;
  ASSERT_EQ(st.hosts.size(), 1u);
  EXPECT_EQ(st.hosts[0].name, "flaky.example.org");
  EXPECT_EQ(st.hosts[0].tasks_failed, 1u);
  EXPECT_EQ(st.hosts[0].tasks_done, 0u);
}

TEST_F(CondorTest, AJobThatSendsNoResultFailsWithItsReturnValue) {
  mw::Condor c = condor();
  c.run_task_program = "/bin/false";  // exits 1 without writing result.zip
  mw::Master master(c.make_interface());
  const mw::TaskFailed e = failure_of(master, master.submit_task(mw::fn("square"), mw::args(1)));
  EXPECT_EQ(e.status(), mw::ResultStatus::nonzero_exit);
  EXPECT_THAT(e.reason(), HasSubstr("return value 1"));
  EXPECT_THAT(e.reason(), HasSubstr("no result.zip"));
}

TEST_F(CondorTest, AMissingCondorSubmitIsAClearError) {
  mw::Condor c = condor();
  c.condor_submit = "no-such-condor_submit-here";
  const std::string message = mw::test::error_of([&] { c.make_interface(); }, mw::Errc::usage);
  EXPECT_THAT(message, HasSubstr("no-such-condor_submit-here"));
  EXPECT_THAT(message, HasSubstr("PATH"));
}

}  // namespace

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
