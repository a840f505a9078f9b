// mw-work-generator, run as an operator runs it, against a project on the
// private MariaDB.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "mw/boinc/hierarchy.h"
#include "mw/bundle.h"
#include "mw/hash.h"
#include "mw/signing.h"
#include "boinc/status_indexes.h"
#include "support/boinc_project.h"
#include "support/boinc_rows.h"
#include "support/test_support.h"

namespace {

using mw::test::BoincTestProject;
using mw::test::run_command;

const std::string kTool = std::string(MW_WORK_GENERATOR);

struct Fixture {
  explicit Fixture(const std::string& db) : project(db) {
    key = std::make_unique<mw::PrivateKey>(mw::PrivateKey::generate());
    mw::test::write_text(project.dir() + "/keys/mw_task_private.pem", key->to_pem());
    mw::test::write_text(project.dir() + "/keys/mw_task_public.pem", key->public_key().to_pem());
    mw::test::write_text(scratch / "sim.sh", "#!/bin/sh\necho simulated \"$@\" > out.txt\n");
  }
  mw::test::CommandResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), kTool);
    return run_command(args);
  }
  std::string download(const std::string& name) const {
    return mw::boinc::dir_hier_path(name, project.config().download_dir, 1024);
  }
  // A workunit's task bundle as a file: a small one travels in the workunit's
  // command line (decoded here by coreutils' base64, not by mwkit), a larger
  // one in the download hierarchy.
  std::string bundle_file(const std::string& wu_name, const std::string& xml_doc) const {
    const std::string option = "--mw-task-base64 ";
    const auto at = xml_doc.find(option);
    if (at == std::string::npos) return download(wu_name + ".task.zip");
    const auto end = xml_doc.find_first_of(" \n<", at + option.size());
    mw::test::write_text(scratch / (wu_name + ".b64"), xml_doc.substr(at + option.size(), end - at - option.size()));
    auto decoded = run_command({"/usr/bin/base64", "-d", scratch / (wu_name + ".b64")});
    if (decoded.exit_code != 0) throw std::runtime_error("base64 -d: " + decoded.err);
    mw::test::write_text(scratch / (wu_name + ".task.zip"), decoded.out);
    return scratch / (wu_name + ".task.zip");
  }
  BoincTestProject project;
  mw::test::ScratchDir scratch;
  std::unique_ptr<mw::PrivateKey> key;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST(WorkGenerator, SweepBecomesWorkunitsWithOneStickyProgram) {
  Fixture f("t_wg_sweep");
  mw::test::write_text(f.scratch / "in1.dat", "one");
  mw::test::write_text(f.scratch / "sweep.jsonl",
                       "{\"program\": \"sim.sh\", \"args\": [\"--seed\", \"1\"], \"inputs\": {\"in.dat\": \"in1.dat\"},"
                       " \"outputs\": {\"out.txt\": 4096}, \"name\": \"seed1\"}\n"
                       "\n"
                       "{\"program\": \"sim.sh\", \"args\": [\"--seed\", \"2\"], \"fpops_est\": 2e12}\n");
  auto r = f.run({"submit", "--project", f.project.dir(), "--batch", "sweep A", "--min-quorum", "2",
                  "--target-nresults", "2", "--max-error-results", "3", "--max-total-results", "6",
                  "--max-success-results", "4", f.scratch / "sweep.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A script is no program a volunteer host surely runs: said once, before staging.
  const std::string warning = "sim.sh may not run on volunteer hosts (only the BOINC client and glibc there): ";
  ASSERT_NE(r.err.find("[warning] mw-work-generator: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(warning), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not an ELF file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(warning, r.err.find(warning) + 1), std::string::npos) << "once per program\n" << r.err;
  const std::string batch = r.out.substr(0, r.out.find('\n'));
  auto wus = f.project.rows("SELECT name, xml_doc, batch, min_quorum, target_nresults, rsc_fpops_est "
                            "FROM workunit ORDER BY id");
  ASSERT_EQ(wus.size(), 2u);
  EXPECT_EQ(wus[0]["name"], "sweep_A_" + batch + "_0");
  EXPECT_EQ(wus[1]["name"], "sweep_A_" + batch + "_1");
  EXPECT_EQ(wus[0]["batch"], batch);
  EXPECT_EQ(wus[0]["min_quorum"], "2");
  EXPECT_EQ(wus[1]["rsc_fpops_est"], "2000000000000");
  const std::string program = "mwp_" + mw::sha256_hex(mw::test::read_text(f.scratch / "sim.sh"));
  for (auto& wu : wus) {
    EXPECT_NE(wu["xml_doc"].find("<name>" + program + "</name>"), std::string::npos) << wu["xml_doc"];
    EXPECT_NE(wu["xml_doc"].find("<sticky/>"), std::string::npos);
    EXPECT_NE(wu["xml_doc"].find("<no_delete/>"), std::string::npos);
    EXPECT_NE(wu["xml_doc"].find("<open_name>mw_program</open_name>"), std::string::npos);
    // The bundle is signed by the project's key and leaves the program out
    // (read with unzip, independently of mwkit's bundle reader).
    EXPECT_NE(wu["xml_doc"].find("<command_line>"), std::string::npos) << "a small task travels inline";
    const std::string zip = f.bundle_file(wu["name"], wu["xml_doc"]);
    auto listing = run_command({"/usr/bin/unzip", "-Z1", zip});
    ASSERT_EQ(listing.exit_code, 0) << listing.err;
    EXPECT_EQ(listing.out.find("sim.sh"), std::string::npos) << listing.out;
    const std::string xml = run_command({"/usr/bin/unzip", "-p", zip, "task.xml"}).out;
    const std::string sig = run_command({"/usr/bin/unzip", "-p", zip, "task.sig"}).out;
    EXPECT_TRUE(f.key->public_key().verify(xml, mw::Signature::parse(sig)));
    EXPECT_NE(xml.find("<name>sim.sh</name>"), std::string::npos) << xml;
  }
  EXPECT_EQ(mw::test::read_text(f.download(program)), mw::test::read_text(f.scratch / "sim.sh"));
  EXPECT_TRUE(exists(f.download(program) + ".md5"));
  auto status = f.run({"status", "--project", f.project.dir(), "--batch", "sweep A"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("in progress"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("jobs: 2 "), std::string::npos) << status.out;
}

TEST(WorkGenerator, SignedBundlesAreShippedWholeAndTamperedOnesRefused) {
  Fixture f("t_wg_bundles");
  for (int i = 0; i < 2; ++i) {
    mw::TaskBuilder task("b" + std::to_string(i));
    task.host_program("/bin/echo").arg("hello " + std::to_string(i));
    task.write_bundle(f.scratch / ("b" + std::to_string(i) + ".zip"), *f.key);
  }
  auto r = f.run({"submit", "--project", f.project.dir(), "--batch", "bundles", f.scratch / "b0.zip",
                  f.scratch / "b1.zip"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "2");
  const std::string wu1 = "bundles_" + r.out.substr(0, r.out.find('\n')) + "_1";
  const auto xml_doc = f.project.rows("SELECT xml_doc FROM workunit WHERE name = '" + wu1 + "'").at(0).at("xml_doc");
  EXPECT_EQ(mw::test::read_text(f.bundle_file(wu1, xml_doc)), mw::test::read_text(f.scratch / "b1.zip"));

  // Signed by a key the project does not trust: refused, nothing created.
  mw::PrivateKey stranger = mw::PrivateKey::generate();
  mw::TaskBuilder task("evil");
  task.host_program("/bin/echo");
  task.write_bundle(f.scratch / "evil.zip", stranger);
  const auto before = mw::test::list_files(f.project.config().download_dir);
  r = f.run({"submit", "--project", f.project.dir(), "--batch", "evil batch", f.scratch / "b0.zip",
             f.scratch / "evil.zip"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(f.scratch / "evil.zip"), std::string::npos) << r.err;
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "2");
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM batch WHERE name = 'evil batch'")[0]["n"], "0");
  EXPECT_EQ(mw::test::list_files(f.project.config().download_dir), before);
}

TEST(WorkGenerator, MalformedSweepNamesFileLineAndFieldAndLeavesNothing) {
  Fixture f("t_wg_badsweep");
  mw::test::write_text(f.scratch / "bad.jsonl",
                       "{\"program\": \"sim.sh\"}\n{\"program\": \"sim.sh\", \"args\": \"--seed 2\"}\n");
  const auto before = mw::test::list_files(f.project.config().download_dir);
  auto r = f.run({"submit", "--project", f.project.dir(), "--batch", "bad", f.scratch / "bad.jsonl"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(f.scratch / "bad.jsonl:2: field 'args'"), std::string::npos) << r.err;
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "0");
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM batch")[0]["n"], "0");
  EXPECT_EQ(mw::test::list_files(f.project.config().download_dir), before);

  mw::test::write_text(f.scratch / "typo.jsonl", "{\"program\": \"sim.sh\", \"arsg\": []}\n");
  r = f.run({"submit", "--project", f.project.dir(), "--batch", "typo", f.scratch / "typo.jsonl"});
  EXPECT_NE(r.err.find("typo.jsonl:1: field 'arsg': unknown field"), std::string::npos) << r.err;
  mw::test::write_text(f.scratch / "missing.jsonl", "{\"program\": \"no_such_program\"}\n");
  r = f.run({"submit", "--project", f.project.dir(), "--batch", "missing", f.scratch / "missing.jsonl"});
  EXPECT_NE(r.err.find("missing.jsonl:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no_such_program"), std::string::npos) << r.err;
}

// A task file that is missing or cannot be read (a directory reads as EISDIR
// even for root, which CI runs as) stops the whole submission before anything
// is created, and the error names the file.
TEST(WorkGenerator, MissingOrUnreadableTaskFileNamesItAndLeavesNothing) {
  Fixture f("t_wg_unreadable");
  mw::TaskBuilder task("ok");
  task.host_program("/bin/echo").arg("hello");
  task.write_bundle(f.scratch / "ok.zip", *f.key);
  ASSERT_EQ(::mkdir((f.scratch / "dir.zip").c_str(), 0755), 0);
  mw::test::write_text(f.scratch / "ok.jsonl", "{\"program\": \"sim.sh\"}\n");
  ASSERT_EQ(::mkdir((f.scratch / "dir.jsonl").c_str(), 0755), 0);
  const auto before = mw::test::list_files(f.project.config().download_dir);
  for (const std::string bad : {"absent.zip", "dir.zip", "absent.jsonl", "dir.jsonl"}) {
    const std::string good = bad.find(".zip") != std::string::npos ? "ok.zip" : "ok.jsonl";
    auto r = f.run({"submit", "--project", f.project.dir(), "--batch", "b_" + bad, f.scratch / good,
                    f.scratch / bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find(f.scratch / bad), std::string::npos) << bad << ": " << r.err;
    EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "0") << bad;
    EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM batch")[0]["n"], "0") << bad;
    EXPECT_EQ(mw::test::list_files(f.project.config().download_dir), before) << bad;
  }
}

TEST(WorkGenerator, CancelMarksWorkunitsAndBatch) {
  Fixture f("t_wg_cancel");
  mw::test::write_text(f.scratch / "s.jsonl", "{\"program\": \"sim.sh\"}\n{\"program\": \"sim.sh\"}\n");
  auto r = f.run({"submit", "--project", f.project.dir(), "--batch", "c", f.scratch / "s.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = f.run({"cancel", "--project", f.project.dir(), "--batch", "c"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 workunit(s) cancelled"), std::string::npos) << r.out;
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit WHERE error_mask = 16")[0]["n"], "2");
  r = f.run({"status", "--project", f.project.dir(), "--batch", "c"});
  EXPECT_NE(r.out.find("aborted"), std::string::npos) << r.out;
  r = f.run({"status", "--project", f.project.dir(), "--batch", "no such batch"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no batch named 'no such batch'"), std::string::npos) << r.err;
}

// status counts one batch through the code mw-status counts with: the same
// numbers from the rows and, once mw-project-setup's indexes are there, from them.
TEST(WorkGenerator, StatusCountsTheSameWithAndWithoutMwkitsIndexes) {
  Fixture f("t_wg_counts");
  mw::test::write_text(f.scratch / "s.jsonl", "{\"program\": \"sim.sh\"}\n{\"program\": \"sim.sh\"}\n"
                                              "{\"program\": \"sim.sh\"}\n{\"program\": \"sim.sh\"}\n");
  auto r = f.run({"submit", "--project", f.project.dir(), "--batch", "k", f.scratch / "s.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string batch = r.out.substr(0, r.out.find('\n'));
  auto wus = f.project.rows("SELECT id FROM workunit WHERE batch = " + batch + " ORDER BY id");
  ASSERT_EQ(wus.size(), 4u);
  auto conn = f.project.server().connect(f.project.db_name());
  // One delivered, one failed and assimilated, one with an unsent and an in-progress result.
  conn.execute("UPDATE workunit SET assimilate_state = 2, canonical_resultid = 1 WHERE id = " + wus[0]["id"]);
  conn.execute("UPDATE workunit SET assimilate_state = 2, error_mask = 2 WHERE id = " + wus[1]["id"]);
  for (int i = 0; i < 2; ++i) {
    mw::test::ResultRow res;
    res.id = i + 1;
    res.workunit_id = std::stoll(wus[2]["id"]);
    res.app_id = f.project.app_id();
    res.batch = std::stoll(batch);
    res.name = "k_result_" + std::to_string(i);
    res.server_state = i == 0 ? 2 : 4;
    conn.execute(mw::test::result_insert_head() + values_of(res));
  }
  auto scanned = f.run({"status", "--project", f.project.dir(), "--batch", "k"});
  ASSERT_EQ(scanned.exit_code, 0) << scanned.err;
  EXPECT_NE(scanned.out.find("jobs: 4 (finished 2, errors 1)\nresults: unsent 1, in progress 1\n"),
            std::string::npos) << scanned.out;
  mw::boinc::detail::add_status_indexes(*f.project.database());
  auto indexed = f.run({"status", "--project", f.project.dir(), "--batch", "k"});
  ASSERT_EQ(indexed.exit_code, 0) << indexed.err;
  EXPECT_EQ(indexed.out, scanned.out);
}

TEST(WorkGenerator, BadProjectAppAndDatabaseAreClearErrors) {
  Fixture f("t_wg_errors");
  mw::test::write_text(f.scratch / "s.jsonl", "{\"program\": \"sim.sh\"}\n");
  auto r = f.run({"submit", "--project", f.project.dir(), "--app", "nope", "--batch", "x", f.scratch / "s.jsonl"});
  EXPECT_NE(r.err.find("app 'nope' is not in the app table"), std::string::npos) << r.err;
  r = f.run({"submit", "--project", f.scratch.path(), "--batch", "x", f.scratch / "s.jsonl"});
  EXPECT_NE(r.err.find("config.xml"), std::string::npos) << r.err;
  // A config.xml whose database is unreachable.
  std::string config = mw::test::read_text(f.project.dir() + "/config.xml");
  const auto at = config.find("<db_host>");
  config.replace(at, config.find("</db_host>") - at, "<db_host>127.0.0.1:1");
  mw::test::write_text(f.project.dir() + "/config.xml", config);
  r = f.run({"status", "--project", f.project.dir(), "--batch", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot connect to database 't_wg_errors' on 127.0.0.1:1"), std::string::npos) << r.err;
}

// --daemon: keeps N unsent results from a spool directory, one file per
// transaction, refused files set aside with the reason, no file submitted twice.
TEST(WorkGeneratorDaemon, FeedsTheAppFromTheSpoolUntilEnoughIsUnsent) {
  Fixture f("t_wg_daemon");
  const std::string spool = f.scratch / "spool";
  ::mkdir(spool.c_str(), 0755);
  mw::test::write_text(f.scratch / "sim.sh", "#!/bin/sh\necho hi\n");
  for (const char* name : {"a.jsonl", "b.jsonl", "c.jsonl"})
    mw::test::write_text(spool + "/" + name,
                         "{\"program\": \"../sim.sh\"}\n{\"program\": \"../sim.sh\"}\n{\"program\": \"../sim.sh\"}\n");
  mw::test::write_text(spool + "/0bad.jsonl", "{\"program\": 42}\n");
  auto once = [&] {
    return f.run({"--daemon", "--project", f.project.dir(), "--app", "mw", "--spool", spool,
                   "--min-unsent", "4", "-one_pass", "-d", "3"});
  };
  auto r = once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 0bad refused; a (3 unsent) then b (6 ≥ 4); c waits.
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "6");
  EXPECT_TRUE(exists(spool + "/done/a.jsonl"));
  EXPECT_TRUE(exists(spool + "/done/b.jsonl"));
  EXPECT_TRUE(exists(spool + "/c.jsonl"));
  EXPECT_TRUE(exists(spool + "/failed/0bad.jsonl"));
  EXPECT_NE(mw::test::read_text(spool + "/failed/0bad.jsonl.error").find("0bad.jsonl:1: field 'program'"),
            std::string::npos);
  EXPECT_NE(r.err.find("UTC [CRITICAL] refused 0bad.jsonl"), std::string::npos) << r.err;
  // Enough unsent now: the next pass does nothing.
  r = once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "6");
  EXPECT_TRUE(exists(spool + "/c.jsonl"));
  // Work was sent: the daemon tops up again. A file whose workunits already
  // exist (a crash after the commit, before the move) is not submitted twice.
  f.project.server().connect(f.project.db_name()).execute("UPDATE workunit SET assimilate_state = 2");
  ::rename((spool + "/done/b.jsonl").c_str(), (spool + "/b.jsonl").c_str());
  r = once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(f.project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "9");
  EXPECT_TRUE(exists(spool + "/done/b.jsonl"));
  EXPECT_TRUE(exists(spool + "/done/c.jsonl"));
  EXPECT_NE(r.err.find("b.jsonl was submitted before"), std::string::npos) << r.err;
}

TEST(WorkGeneratorDaemon, StopsOnTheProjectsStopTrigger) {
  Fixture f("t_wg_daemon_stop");
  const std::string spool = f.scratch / "spool";
  ::mkdir(spool.c_str(), 0755);
  mw::test::write_text(f.project.dir() + "/stop_daemons", "");
  auto r = f.run({"--daemon", "--project", f.project.dir(), "--app", "mw", "--spool", spool});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
