// mw::boinc::Local: the Master on a BOINC project, with BOINC's side played by
// FakeBoincPipeline (a test double) on the private MariaDB. This binary is
// also the worker program its function tasks ship.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <stdexcept>

#include "boinc/fake_boinc_pipeline.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/install_record.h"
#include "mw/boinc/local.h"
#include "mw/master.h"
#include "mw/worker.h"
#include "support/boinc_project.h"
#include "support/test_support.h"
#include "util/fs.h"

namespace {

int cube(int x) { return x * x * x; }
MW_TASK(cube);

int refuse(int code) { throw std::runtime_error("refused " + std::to_string(code)); }
MW_TASK(refuse);

using mw::test::BoincTestProject;
using mw::test::FakeBoincPipeline;

struct Fixture {
  explicit Fixture(const std::string& db) : project(db) {
    key = std::make_unique<mw::PrivateKey>(mw::PrivateKey::generate());
    mw::test::write_text(project.dir() + "/keys/mw_task_private.pem", key->to_pem());
    local.project_dir = project.dir();
    local.deliver_dir = project.dir() + "/mw_deliver";
    local.batch_name = "local test";
  }
  std::string count(const std::string& sql) const { return project.rows(sql)[0]["n"]; }
  BoincTestProject project;
  std::unique_ptr<mw::PrivateKey> key;
  mw::boinc::Local local;
};

TEST(BoincLocal, FunctionTasksRunThroughBoincWithOneShippedProgram) {
  Fixture f("t_local_fn");
  f.local.settings.min_quorum = 2;
  f.local.settings.target_nresults = 2;
  f.local.settings.max_error_results = 3;
  f.local.settings.max_total_results = 6;
  f.local.settings.max_success_results = 4;
  FakeBoincPipeline boinc(f.project, f.local.deliver_dir, {f.key->public_key()});
  boinc.start();
  testing::internal::CaptureStderr();
  {
    mw::Master master(f.local);
    std::vector<int> inputs;
    for (int i = 0; i < 30; ++i) inputs.push_back(i);
    std::vector<int> cubes = master.map<int>(mw::fn("cube"), inputs);
    for (int i = 0; i < 30; ++i) EXPECT_EQ(cubes[i], i * i * i);
    auto st = master.status();
    EXPECT_EQ(st.interface, "boinc");
    EXPECT_EQ(st.details.details["delivered"], "30");
    EXPECT_EQ(st.details.details["watch"], "inotify");
    // The pipeline records no hosts, as an mw-assimilator older than mw_hosts.tsv: none are known.
    EXPECT_TRUE(st.details.hosts.empty());
    EXPECT_EQ(st.details.hosts_seen, 0u);
  }
  // This test binary is the worker program: it needs libstdc++ and more,
  // which volunteers lack, and the master says so once, before staging it.
  const std::string err = testing::internal::GetCapturedStderr();
  const std::string warning = "[warning] mw boinc local: " + mw::detail::self_program_path() + " may not run on volunteer hosts";
  EXPECT_NE(err.find(warning), std::string::npos) << err;
  EXPECT_NE(err.find("it needs libstdc++.so.6"), std::string::npos) << err;
  EXPECT_EQ(err.find(warning, err.find(warning) + 1), std::string::npos) << "once per program\n" << err;
  EXPECT_EQ(f.count("SELECT COUNT(*) AS n FROM workunit WHERE min_quorum = 2 AND target_nresults = 2 "
                    "AND max_total_results = 6"),
            "30");
  EXPECT_EQ(f.count("SELECT COUNT(*) AS n FROM batch WHERE name = 'local test' AND state = 4"), "1")
      << "the batch is retired when the master is done";
  // One program file for all thirty workunits.
  int programs = 0;
  for (const auto& file : mw::test::list_files(f.project.config().download_dir))
    if (file.find("/mwp_") != std::string::npos && file.find(".md5") == std::string::npos) ++programs;
  EXPECT_EQ(programs, 1);
  // Small tasks travel in their workunit's command line: no file of their own.
  for (const auto& file : mw::test::list_files(f.project.config().download_dir))
    EXPECT_EQ(file.find(".task.zip"), std::string::npos) << file;
  EXPECT_EQ(f.count("SELECT COUNT(*) AS n FROM workunit WHERE xml_doc LIKE '%<command_line>%--mw-task-base64 %'"),
            "30");
}

// mw-assimilator records who ran each delivered workunit (mw_hosts.tsv):
// the master counts each host's tasks, for status() and the status page.
TEST(BoincLocal, TheHostsOfTheDeliveriesAreCountedPerHost) {
  Fixture f("t_local_hosts");
  FakeBoincPipeline boinc(f.project, f.local.deliver_dir, {f.key->public_key()});
  boinc.set_volunteer_hosts(3);
  boinc.start();
  testing::internal::CaptureStderr();
  {
    mw::Master master(f.local);
    std::vector<mw::Task> tasks;
    for (int i = 0; i < 9; ++i) tasks.push_back(master.submit_task(mw::fn("cube"), mw::args(i)));
    for (auto& t : tasks) {
      mw::Result r = master.get_result(t);
      EXPECT_NE(r.outcome().worker.find(".example.org (host "), std::string::npos) << r.outcome().worker;
    }
    const auto st = master.status().details;
    EXPECT_EQ(st.hosts_seen, 3u);
    ASSERT_EQ(st.hosts.size(), 3u);
    std::uint64_t done = 0;
    for (const auto& h : st.hosts) {
      EXPECT_EQ(h.name, "volunteer-" + h.id + ".example.org");
      EXPECT_EQ(h.details, "Linux, Fake CPU");
      EXPECT_EQ(h.tasks_failed, 0u);
      EXPECT_FALSE(h.running);  // BOINC does not say where a task runs now
      done += h.tasks_done;
    }
    EXPECT_EQ(done, 9u);
  }
  testing::internal::GetCapturedStderr();
}

// A project set up before inline tasks (no templates/mw_in_inline*.xml, so
// its wrapper may not read them) gets every task as a file, and they run.
TEST(BoincLocal, WithoutTheInlineTemplatesEveryTaskIsAFile) {
  Fixture f("t_local_files");
  for (const char* name : {"mw_in_inline.xml", "mw_in_inline_program.xml"})
    ASSERT_EQ(::unlink((f.project.dir() + "/templates/" + name).c_str()), 0);
  FakeBoincPipeline boinc(f.project, f.local.deliver_dir, {f.key->public_key()});
  boinc.start();
  testing::internal::CaptureStderr();
  {
    mw::Master master(f.local);
    std::vector<int> cubes = master.map<int>(mw::fn("cube"), std::vector<int>{2, 3, 4});
    EXPECT_EQ(cubes, (std::vector<int>{8, 27, 64}));
  }
  testing::internal::GetCapturedStderr();
  int bundles = 0;
  for (const auto& file : mw::test::list_files(f.project.config().download_dir))
    bundles += file.size() > 9 && file.compare(file.size() - 9, 9, ".task.zip") == 0;
  EXPECT_EQ(bundles, 3);
  EXPECT_EQ(f.count("SELECT COUNT(*) AS n FROM workunit WHERE xml_doc LIKE '%<command_line>%'"), "0");
}

TEST(BoincLocal, ExecTasksShipTheirProgramAndReturnOutputs) {
  Fixture f("t_local_exec");
  mw::test::ScratchDir scratch;
  mw::test::write_text(scratch / "upper.sh", "#!/bin/sh\ntr a-z A-Z < in.txt > out.txt\n");
  FakeBoincPipeline boinc(f.project, f.local.deliver_dir, {f.key->public_key()});
  boinc.start();
  mw::Master master(f.local);
  auto t = master.submit_task(mw::Exec(scratch / "upper.sh").ship_program().input_bytes("in.txt", "hello boinc")
                                  .output("out.txt", 1024));
  mw::Result r = master.get_result(t);
  EXPECT_EQ(r.output("out.txt"), "HELLO BOINC");
}

TEST(BoincLocal, FailuresCarryTheirReason) {
  Fixture f("t_local_fail");
  FakeBoincPipeline boinc(f.project, f.local.deliver_dir, {f.key->public_key()});
  boinc.set_volunteer_hosts(1);
  boinc.start();
  mw::Master master(f.local);
  auto t = master.submit_task(mw::fn("refuse"), mw::args(7));
  try {
    master.get_result(t);
    ADD_FAILURE() << "expected TaskFailed";
  } catch (const mw::TaskFailed& e) {
    EXPECT_NE(std::string(e.what()).find("refused 7"), std::string::npos) << e.what();
  }
  // The canonical result says the task failed: a failure on the host that ran it.
  const auto st = master.status().details;
  ASSERT_EQ(st.hosts.size(), 1u);
  EXPECT_EQ(st.hosts[0].tasks_failed, 1u);
  EXPECT_EQ(st.hosts[0].tasks_done, 0u);
}

TEST(BoincLocal, CancelledWorkunitsAndBoincErrorsEndTheTask) {
  Fixture f("t_local_cancel");
  f.local.use_inotify = false;  // the polling path
  f.local.poll_seconds = 0.1;
  FakeBoincPipeline boinc(f.project, f.local.deliver_dir, {f.key->public_key()});
  boinc.set_paused(true);
  boinc.start();
  mw::Master master(f.local);
  EXPECT_EQ(master.status().details.details["watch"], "polling");
  auto keep = master.submit_task(mw::fn("cube"), mw::args(3));
  auto drop = master.submit_task(mw::fn("cube"), mw::args(4));
  // Wait until both reached the database, then cancel one.
  for (int i = 0; i < 200 && f.count("SELECT COUNT(*) AS n FROM workunit") != "2"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  master.cancel(drop);
  for (int i = 0; i < 200 && f.count("SELECT COUNT(*) AS n FROM workunit WHERE error_mask = 16") != "1"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(f.count("SELECT COUNT(*) AS n FROM workunit WHERE error_mask = 16 AND name LIKE '%\\_" +
                    std::to_string(drop.id) + "'"),
            "1");
  boinc.set_paused(false);
  EXPECT_EQ(master.get_result(keep).value<int>(), 27);
  // A workunit BOINC errors out (as cancelled here, by someone else) fails its task.
  boinc.set_paused(true);
  auto doomed = master.submit_task(mw::fn("cube"), mw::args(5));
  for (int i = 0; i < 200 && f.count("SELECT COUNT(*) AS n FROM workunit") != "3"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  f.project.server().connect(f.project.db_name()).execute(
      "UPDATE workunit SET error_mask = 2 WHERE name LIKE '%\\_" + std::to_string(doomed.id) + "'");
  boinc.set_paused(false);
  try {
    master.get_result(doomed);
    ADD_FAILURE() << "expected TaskFailed";
  } catch (const mw::TaskFailed& e) {
    EXPECT_NE(std::string(e.what()).find("BOINC gave up on workunit"), std::string::npos) << e.what();
  }
}

// The paper's example, unchanged but for --interface boinc (the one line).
TEST(BoincLocal, MontePiExampleRunsOnBoincByChangingOneLine) {
  Fixture f("t_local_example");
  FakeBoincPipeline boinc(f.project, f.project.dir() + "/mw_deliver", {f.key->public_key()});
  boinc.start();
  ::setenv("BOINC_PROJECT_DIR", f.project.dir().c_str(), 1);
  auto r = mw::test::run_command({MW_MONTE_PI, "--tasks", "4", "--samples", "20000", "--interface", "boinc"});
  ::unsetenv("BOINC_PROJECT_DIR");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tasks: 4 of 4 done"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(boinc)"), std::string::npos) << r.out;
  EXPECT_EQ(f.count("SELECT COUNT(*) AS n FROM workunit"), "4");
}

// What mw-project-setup recorded (mw_install.xml) is Local's default: the
// delivery directory, the signing key and the quorum, so nothing is given twice.
TEST(BoincLocal, TheInstallRecordGivesDeliveryDirectoryKeyAndQuorum) {
  Fixture f("t_local_record");
  const std::string deliver = f.project.dir() + "/delivered_elsewhere";
  const std::string key_path = f.project.dir() + "/signing/master.pem";
  ::mkdir(deliver.c_str(), 0755);
  ::mkdir((f.project.dir() + "/signing").c_str(), 0700);
  auto key = mw::PrivateKey::generate();
  mw::test::write_text(key_path, key.to_pem());
  mw::boinc::InstallRecord record;
  record.app = "mw";
  record.deliver_dir = deliver;
  record.task_signing_key = key_path;
  record.trusted_task_keys = {key.public_key().to_pem()};
  record.min_quorum = 2;
  mw::boinc::write_install_record(f.project.dir(), record);

  mw::boinc::Local local;
  local.project_dir = f.project.dir();
  local.batch_name = "from the record";
  FakeBoincPipeline boinc(f.project, deliver, {key.public_key()});  // refuses what another key signed
  boinc.start();
  {
    mw::Master master(local);
    std::vector<int> cubes = master.map<int>(mw::fn("cube"), std::vector<int>{2, 3, 4});
    EXPECT_EQ(cubes, (std::vector<int>{8, 27, 64}));
    EXPECT_EQ(master.status().details.details["delivery_dir"].rfind(deliver + "/", 0), 0u);
  }
  EXPECT_EQ(f.count("SELECT COUNT(*) AS n FROM workunit WHERE min_quorum = 2 AND target_nresults = 2 AND "
                    "max_error_results = 4 AND max_success_results = 4 AND max_total_results = 8"),
            "3");
  EXPECT_TRUE(mw::test::list_files(f.project.dir() + "/mw_deliver").empty());
}

TEST(BoincLocal, ConfigurationErrorsAreClear) {
  Fixture f("t_local_errors");
  mw::boinc::Local bad = f.local;
  bad.signing_key = f.project.dir() + "/keys/none.pem";
  std::string msg = mw::test::error_of([&] { bad.make_interface(); }, mw::Errc::usage);
  EXPECT_NE(msg.find("none.pem"), std::string::npos) << msg;
  bad = f.local;
  bad.app = "unknown_app";
  msg = mw::test::error_of([&] { bad.make_interface(); }, mw::Errc::usage);
  EXPECT_NE(msg.find("app 'unknown_app'"), std::string::npos) << msg;
  bad = f.local;
  bad.settings.min_quorum = 3;
  bad.settings.target_nresults = 1;
  msg = mw::test::error_of([&] { bad.make_interface(); }, mw::Errc::usage);
  EXPECT_NE(msg.find("min_quorum (3) exceeds target_nresults (1)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--target-nresults, settings.target_nresults"), std::string::npos) << msg;
  bad = f.local;
  bad.project_dir = f.project.dir() + "/no_such_dir";
  msg = mw::test::error_of([&] { bad.make_interface(); }, mw::Errc::usage);
  EXPECT_NE(msg.find("no_such_dir"), std::string::npos) << msg;
}

}  // namespace

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
