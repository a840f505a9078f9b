// Native bulk create_work (mw::boinc::WorkCreator, Stager) on a private
// MariaDB, checked column by column against libsched's own create_work().
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>

#include "boinc/create_work_oracle.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/staging.h"
#include "mw/boinc/work_creator.h"
#include "mw/error.h"
#include "mw/hash.h"
#include "support/boinc_project.h"
#include "support/test_support.h"

namespace mw::boinc {
namespace {

using mw::test::BoincTestProject;
using mw::test::SqlRow;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Every file below `dir` (relative), hidden temp files included.
std::set<std::string> files_below(const std::string& dir) {
  auto files = mw::test::list_files(dir);
  return {files.begin(), files.end()};
}

// Stages one file and commits it at once (as if an earlier submission had).
StagedFile stage_now(Stager& stager, const std::string& name, const std::string& bytes) {
  StagedFile f = stager.stage_bytes(name, bytes);
  stager.commit();
  stager.forget();
  return f;
}

WorkCreator make_creator(const BoincTestProject& project, Database& db,
                         const std::string& tmpl = mw::test::test_input_template()) {
  return WorkCreator(project.config(), db, "mw", InputTemplate::parse(tmpl, "test input template"),
                     "templates/mw_out.xml");
}

// ------------------------------------------------------------------ staging

TEST(Stager, StagesIntoTheHierarchyWithBoincSideFile) {
  BoincTestProject project("t_stage_basic");
  Stager stager(project.config());
  StagedFile f = stager.stage_bytes("job1_in.dat", "hello world\n");
  EXPECT_TRUE(f.created);
  EXPECT_EQ(f.path, dir_hier_path("job1_in.dat", project.config().download_dir, 1024));
  EXPECT_FALSE(exists(f.path)) << "must not appear under its final name before commit()";
  stager.commit();
  EXPECT_EQ(slurp(f.path), "hello world\n");
  EXPECT_EQ(slurp(f.path + ".md5"), format_md5_info(md5_file(f.path)));
  EXPECT_EQ(f.digest.md5, md5_file(f.path).md5);
  EXPECT_EQ(f.digest.nbytes, 12);
  // A hidden temp name must not be left behind.
  for (const auto& name : files_below(project.config().download_dir))
    EXPECT_EQ(name.find(".mwstage."), std::string::npos) << name;
}

TEST(Stager, ANameNeverChangesItsBytes) {
  BoincTestProject project("t_stage_immutable");
  Stager stager(project.config());
  stager.stage_bytes("same", "abc");
  stager.commit();
  stager.forget();
  StagedFile again = stager.stage_bytes("same", "abc");
  EXPECT_FALSE(again.created);
  EXPECT_EQ(stager.pending(), 0u);
  std::string msg = mw::test::error_of([&] { stager.stage_bytes("same", "abd"); }, Errc::integrity);
  EXPECT_NE(msg.find("already exists with other bytes"), std::string::npos) << msg;
  EXPECT_EQ(slurp(dir_hier_path("same", project.config().download_dir, 1024)), "abc");
  // Twice in one submission: the same bytes are fine, other bytes are not.
  stager.stage_bytes("pending_same", "1");
  stager.stage_bytes("pending_same", "1");
  stager.commit();
  stager.forget();
  EXPECT_EQ(slurp(dir_hier_path("pending_same", project.config().download_dir, 1024)), "1");
  stager.stage_bytes("pending_twice", "1");
  stager.stage_bytes("pending_twice", "2");
  msg = mw::test::error_of([&] { stager.commit(); }, Errc::integrity);
  EXPECT_NE(msg.find("staged twice with different bytes"), std::string::npos) << msg;
  stager.discard();
  EXPECT_FALSE(exists(dir_hier_path("pending_twice", project.config().download_dir, 1024)));
}

TEST(Stager, RefusesNamesBoincCannotCarry) {
  BoincTestProject project("t_stage_names");
  Stager stager(project.config());
  const std::vector<std::string> bad_names = {"", "../x", "a/b", ".hidden", "a..b", "sp ace", "amp&", std::string(161, 'a')};
  for (const std::string& bad : bad_names) {
    std::string msg = mw::test::error_of([&] { stager.stage_bytes(bad, "x"); }, Errc::usage);
    EXPECT_NE(msg.find("cannot be a BOINC file name"), std::string::npos) << bad << ": " << msg;
  }
}

TEST(Stager, DiscardRemovesWhatItCreatedButKeepsSharedFiles) {
  BoincTestProject project("t_stage_discard");
  mw::test::ScratchDir scratch;
  mw::test::write_text(scratch / "prog", "#!/bin/sh\nexit 0\n");
  Stager stager(project.config());
  StagedFile a = stager.stage_bytes("a_in", "a");
  StagedFile p = stager.stage_content_addressed("mwp_", scratch / "prog");
  EXPECT_EQ(p.name, "mwp_" + sha256_hex("#!/bin/sh\nexit 0\n"));
  stager.commit();
  StagedFile b = stager.stage_bytes("b_in", "b");  // not flushed yet
  stager.discard();
  EXPECT_FALSE(exists(a.path));
  EXPECT_FALSE(exists(a.path + ".md5"));
  EXPECT_FALSE(exists(b.path));
  EXPECT_TRUE(exists(p.path));
  for (const auto& name : files_below(project.config().download_dir))
    EXPECT_EQ(name.find(".mwstage."), std::string::npos) << name;
}

// ------------------------------------------------ differential: libsched

struct Variant {
  std::string label;
  std::string input_template;
  int nfiles;
  WorkunitSettings settings;
  std::optional<std::string> command_line;
  std::string additional_xml;
  int batch = 0;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  v.push_back({"defaults, mwkit template", mw::test::test_input_template(), 1, WorkunitSettings{}, std::nullopt, "", 0});
  WorkunitSettings q2;
  q2.min_quorum = 2;
  q2.target_nresults = 2;
  q2.max_error_results = 3;
  q2.max_total_results = 6;
  q2.max_success_results = 4;
  q2.rsc_fpops_est = 1.5e13;
  q2.rsc_fpops_bound = 3e15;
  q2.rsc_memory_bound = 2.5e8;
  q2.rsc_disk_bound = 7e8;
  q2.rsc_bandwidth_bound = 1e6;
  q2.delay_bound = 3 * 86400;
  q2.priority = 7;
  q2.canonical_credit = 12.5;
  q2.app_version_num = 102;
  v.push_back({"quorum 2, every setting, command line", mw::test::test_input_template(), 1, q2,
               std::string("--steps 100 --name x"), "<credit>3</credit>", 0});
  // A template with its own numbers (they win), a command line, copy_file.
  v.push_back({"template values", slurp(std::string(MW_SOURCE_DIR) + "/tests/boinc/data/uppercase_in"), 1,
               q2, std::nullopt, "", 0});
  // Two files: a per-job input and a sticky, no-delete program.
  v.push_back({"two files, sticky program",
               "<input_template>\n<file_info>\n</file_info>\n<file_info>\n<sticky/>\n<no_delete/>\n"
               "</file_info>\n<workunit>\n<file_ref>\n<open_name>task.zip</open_name>\n</file_ref>\n"
               "<file_ref>\n<open_name>mw_program</open_name>\n</file_ref>\n</workunit>\n"
               "</input_template>\n",
               2, WorkunitSettings{}, std::nullopt, "", 0});
  v.push_back({"in a batch", mw::test::test_input_template(), 1, WorkunitSettings{}, std::nullopt, "", 42});
  // Only the quorum: the rest is derived, and libsched gets the derived values explicitly.
  WorkunitSettings quorum_only;
  quorum_only.min_quorum = 2;
  v.push_back({"quorum only", mw::test::test_input_template(), 1, quorum_only, std::nullopt, "", 0});
  return v;
}

const char* const kCompared[] = {
    "appid", "xml_doc", "batch", "rsc_fpops_est", "rsc_fpops_bound", "rsc_memory_bound",
    "rsc_disk_bound", "need_validate", "canonical_resultid", "canonical_credit", "delay_bound",
    "error_mask", "file_delete_state", "assimilate_state", "hr_class", "opaque", "min_quorum",
    "target_nresults", "max_error_results", "max_total_results", "max_success_results",
    "result_template_file", "priority", "rsc_bandwidth_bound", "fileset_id", "app_version_id",
    "transitioner_flags", "size_class", "keywords", "app_version_num"};

TEST(CreateWorkDifferential, RowsEqualLibschedCreateWorkColumnByColumn) {
  BoincTestProject project("t_cw_diff");
  auto db = project.database();
  std::string why;
  ASSERT_EQ(oracle::open_project(project.dir(), why), 0) << why;

  int n = 0;
  for (bool load_data : {true, false})
  for (const Variant& v : variants()) {
    SCOPED_TRACE(v.label + (load_data ? " (LOAD DATA)" : " (INSERT)"));
    ++n;
    // Inputs staged once; both sides name the same files.
    Stager stager(project.config());
    std::vector<InputFile> files;
    std::vector<std::string> names;
    for (int f = 0; f < v.nfiles; ++f) {
      std::string name = "in_" + std::to_string(n) + "_" + std::to_string(f);
      StagedFile s = stager.stage_bytes(name, "input " + name + "\n");
      files.push_back(InputFile::known(s.name, s.digest));
      names.push_back(name);
    }
    stager.commit();
    stager.forget();

    WorkCreator creator = make_creator(project, *db, v.input_template);
    creator.use_load_data(load_data);
    const std::int64_t batch = v.batch ? creator.create_batch("batch " + v.label) : 0;

    oracle::CreateWorkJob job;
    job.appid = static_cast<int>(project.app_id());
    job.name = "boinc_" + std::to_string(n);
    job.batch = static_cast<int>(batch);
    // libsched's create_work has no derivation: it is given the values ours derives.
    const WorkunitSettings s = resolve_replication(v.settings);
    job.rsc_fpops_est = s.rsc_fpops_est;
    job.rsc_fpops_bound = s.rsc_fpops_bound;
    job.rsc_memory_bound = s.rsc_memory_bound;
    job.rsc_disk_bound = s.rsc_disk_bound;
    job.rsc_bandwidth_bound = s.rsc_bandwidth_bound;
    job.canonical_credit = s.canonical_credit;
    job.delay_bound = s.delay_bound;
    job.min_quorum = s.min_quorum;
    job.target_nresults = s.target_nresults;
    job.max_error_results = s.max_error_results;
    job.max_total_results = s.max_total_results;
    job.max_success_results = s.max_success_results;
    job.priority = s.priority;
    job.size_class = s.size_class;
    job.app_version_num = s.app_version_num;
    job.infiles = names;
    job.has_command_line = v.command_line.has_value();
    job.command_line = v.command_line.value_or("");
    job.additional_xml = v.additional_xml;
    ASSERT_EQ(oracle::create_work(job, v.input_template, "templates/mw_out.xml", project.dir()), 0);

    JobSpec ours;
    ours.name = "mw_" + std::to_string(n);
    ours.files = files;
    ours.command_line = v.command_line;
    ours.additional_xml = v.additional_xml;
    ASSERT_EQ(creator.submit(batch, v.settings, std::vector<JobSpec>{ours}), 1u);

    auto theirs = project.rows("SELECT * FROM workunit WHERE name = 'boinc_" + std::to_string(n) + "'");
    auto mine = project.rows("SELECT * FROM workunit WHERE name = 'mw_" + std::to_string(n) + "'");
    ASSERT_EQ(theirs.size(), 1u);
    ASSERT_EQ(mine.size(), 1u);
    for (const char* column : kCompared) {
      EXPECT_EQ(mine[0].count(column), theirs[0].count(column)) << column << " NULL on one side";
      EXPECT_EQ(mine[0][column], theirs[0][column]) << "column " << column;
    }
    // Not compared across (they are "now"), but each side must be consistent.
    EXPECT_EQ(mine[0]["transition_time"], mine[0]["create_time"]);
    EXPECT_EQ(theirs[0]["transition_time"], theirs[0]["create_time"]);
    EXPECT_NEAR(std::stol(mine[0]["create_time"]), std::time(nullptr), 5);
  }
  oracle::close_project();
}

// ----------------------------------------------------------- bulk submit

TEST(WorkCreator, BulkSubmitInChunksCreatesEveryRowAndKeepsTheBatch) {
  BoincTestProject project("t_cw_bulk");
  auto db = project.database();
  WorkCreator creator = make_creator(project, *db);
  const std::int64_t batch = creator.create_batch("sweep-1", 0, "a test sweep");
  EXPECT_EQ(creator.batch_info(batch).state, 0);
  Stager stager(project.config());
  const int kJobs = 2345;
  int produced = 0;
  auto source = [&](JobSpec& job) {
    if (produced == kJobs) return false;
    job.name = "sweep-1_" + std::to_string(produced);
    StagedFile f = stager.stage_bytes(job.name + ".task.zip", "payload " + std::to_string(produced));
    job.files = {InputFile::known(f.name, f.digest)};
    ++produced;
    return true;
  };
  EXPECT_EQ(creator.submit(batch, WorkunitSettings{}, source, &stager, 1000), static_cast<std::size_t>(kJobs));
  auto count = project.rows("SELECT COUNT(*) AS n, COUNT(DISTINCT name) AS d, MIN(batch) AS b0, "
                            "MAX(batch) AS b1 FROM workunit");
  EXPECT_EQ(count[0]["n"], std::to_string(kJobs));
  EXPECT_EQ(count[0]["d"], std::to_string(kJobs));
  EXPECT_EQ(count[0]["b0"], std::to_string(batch));
  EXPECT_EQ(count[0]["b1"], std::to_string(batch));
  BatchInfo info = creator.batch_info(batch);
  EXPECT_EQ(info.njobs, kJobs);
  EXPECT_EQ(info.state, 1);
  EXPECT_EQ(info.name, "sweep-1");
  EXPECT_EQ(creator.find_batch("sweep-1"), batch);
  // Every workunit's file is in place with its side file, and the row's xml_doc
  // names its md5.
  auto row = project.rows("SELECT xml_doc FROM workunit WHERE name = 'sweep-1_1234'");
  const std::string path = dir_hier_path("sweep-1_1234.task.zip", project.config().download_dir, 1024);
  EXPECT_EQ(slurp(path), "payload 1234");
  EXPECT_NE(row[0]["xml_doc"].find(md5_file(path).md5), std::string::npos);
  EXPECT_EQ(files_below(project.config().download_dir).size(), 2u * kJobs);
  // A second submit adds to njobs.
  int more = 0;
  creator.submit(batch, WorkunitSettings{}, [&](JobSpec& job) {
    if (more == 3) return false;
    job.name = "sweep-1_extra_" + std::to_string(more++);
    StagedFile f = stager.stage_bytes(job.name + ".task.zip", "x");
    job.files = {InputFile::known(f.name, f.digest)};
    return true;
  }, &stager);
  EXPECT_EQ(creator.batch_info(batch).njobs, kJobs + 3);
}

// A failure mid-batch leaves nothing: no rows, no files, njobs unchanged.
void expect_nothing_left(const BoincTestProject& project, std::int64_t batch,
                         const std::set<std::string>& files_before) {
  EXPECT_EQ(project.rows("SELECT COUNT(*) AS n FROM workunit WHERE batch = " + std::to_string(batch))[0]["n"], "0");
  EXPECT_EQ(project.rows("SELECT njobs FROM batch WHERE id = " + std::to_string(batch))[0]["njobs"], "0");
  EXPECT_EQ(files_below(project.config().download_dir), files_before);
}

TEST(WorkCreator, AFailureMidBatchRollsBackRowsAndStagedFiles) {
  BoincTestProject project("t_cw_rollback");
  auto db = project.database();
  WorkCreator creator = make_creator(project, *db);
  const std::int64_t batch = creator.create_batch("doomed");
  const auto before = files_below(project.config().download_dir);
  Stager stager(project.config());
  int produced = 0;
  std::string msg = mw::test::error_of([&] {
    creator.submit(batch, WorkunitSettings{}, [&](JobSpec& job) {
      if (produced == 1500) throw Error(Errc::io, "input generator failed at job 1500");
      job.name = "doomed_" + std::to_string(produced++);
      StagedFile f = stager.stage_bytes(job.name + ".task.zip", job.name);
      job.files = {InputFile::known(f.name, f.digest)};
      return true;
    }, &stager, 500);
  }, Errc::io);
  EXPECT_NE(msg.find("job 1500"), std::string::npos) << msg;
  expect_nothing_left(project, batch, before);
}

class DuplicateName : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(InsertMethods, DuplicateName, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "LoadData" : "Insert"; });

TEST_P(DuplicateName, IsAClearErrorAndLeavesNothing) {
  BoincTestProject project("t_cw_duplicate");
  auto db = project.database();
  WorkCreator creator = make_creator(project, *db);
  creator.use_load_data(GetParam());
  Stager stager(project.config());
  StagedFile f = stage_now(stager, "taken.task.zip", "t");
  JobSpec job{"taken", {InputFile::known(f.name, f.digest)}, std::nullopt, "", std::nullopt};
  creator.submit(0, WorkunitSettings{}, std::vector<JobSpec>{job});

  const std::int64_t batch = creator.create_batch("dup");
  const auto before = files_below(project.config().download_dir);
  int produced = 0;
  std::string msg = mw::test::error_of([&] {
    creator.submit(batch, WorkunitSettings{}, [&](JobSpec& j) {
      if (produced == 3) return false;
      j.name = produced == 2 ? "taken" : "fresh_" + std::to_string(produced);
      StagedFile s = stager.stage_bytes("dup_in_" + std::to_string(produced), "d");
      j.files = {InputFile::known(s.name, s.digest)};
      ++produced;
      return true;
    }, &stager);
  }, Errc::usage);
  EXPECT_NE(msg.find("already taken"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'taken'"), std::string::npos) << msg;
  expect_nothing_left(project, batch, before);
}

TEST(WorkCreator, BadSettingsAndNamesAreRefusedBeforeAnythingIsWritten) {
  BoincTestProject project("t_cw_bad");
  auto db = project.database();
  WorkCreator creator = make_creator(project, *db);
  Stager stager(project.config());
  StagedFile f = stage_now(stager, "ok_in", "x");
  auto submit_one = [&](const std::string& name, WorkunitSettings s) {
    JobSpec job{name, {InputFile::known(f.name, f.digest)}, std::nullopt, "", std::nullopt};
    return mw::test::error_of([&] { creator.submit(0, s, std::vector<JobSpec>{job}); }, Errc::usage);
  };
  WorkunitSettings zero_est;
  zero_est.rsc_fpops_est = 0;
  EXPECT_NE(submit_one("a", zero_est).find("rsc_fpops_est"), std::string::npos);
  WorkunitSettings quorum;
  quorum.min_quorum = 3;
  quorum.target_nresults = 2;
  EXPECT_NE(submit_one("b", quorum).find("min_quorum (3) exceeds target_nresults (2)"), std::string::npos);
  WorkunitSettings limits;
  limits.max_error_results = 5;
  limits.max_total_results = 4;
  EXPECT_NE(submit_one("c", limits).find("max_error_results exceeds max_total_results"), std::string::npos);
  // libsched 7.20's create_work() refuses this too (BOINC 8 raises the limits
  // instead; mwkit matches the library it is tested against).
  WorkunitSettings target;
  target.min_quorum = 3;
  target.target_nresults = 3;
  target.max_success_results = 2;
  std::string refused = submit_one("t", target);
  EXPECT_NE(refused.find("target_nresults exceeds max_success_results"), std::string::npos) << refused;
  // The refusal names the option to change, for the CLI and for C++.
  EXPECT_NE(refused.find("--max-success-results"), std::string::npos) << refused;
  EXPECT_NE(refused.find("settings.max_success_results"), std::string::npos) << refused;
  EXPECT_NE(submit_one("bad/name", {}).find("workunit name 'bad/name' is not valid"), std::string::npos);
  // Wrong number of files for the template.
  JobSpec two{"d", {InputFile::known(f.name, f.digest), InputFile::known(f.name, f.digest)},
              std::nullopt, "", std::nullopt};
  std::string msg = mw::test::error_of([&] { creator.submit(0, {}, std::vector<JobSpec>{two}); }, Errc::format);
  EXPECT_NE(msg.find("test input template"), std::string::npos) << msg;
  // A staged file that is not there (staged(): the creator must read it).
  JobSpec missing{"e", {InputFile::staged("never_staged")}, std::nullopt, "", std::nullopt};
  msg = mw::test::error_of([&] { creator.submit(0, {}, std::vector<JobSpec>{missing}); }, Errc::io);
  EXPECT_NE(msg.find("never_staged"), std::string::npos) << msg;
  EXPECT_EQ(project.rows("SELECT COUNT(*) AS n FROM workunit")[0]["n"], "0");
}

TEST(WorkCreator, UnknownAppOrMissingResultTemplateIsAClearError) {
  BoincTestProject project("t_cw_setup_errors");
  auto db = project.database();
  auto tmpl = InputTemplate::parse(mw::test::test_input_template(), "t");
  std::string msg = mw::test::error_of([&] {
    WorkCreator(project.config(), *db, "no_such_app", tmpl, "templates/mw_out.xml");
  }, Errc::usage);
  EXPECT_NE(msg.find("app 'no_such_app' is not in the app table"), std::string::npos) << msg;
  msg = mw::test::error_of([&] { WorkCreator(project.config(), *db, "mw", tmpl, "templates/nope.xml"); }, Errc::io);
  EXPECT_NE(msg.find("templates/nope.xml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(WorkCreator, UnreachableDatabaseIsAClearError) {
  BoincTestProject project("t_cw_unreachable");
  DbParams p;
  p.host = "127.0.0.1";
  p.port = 1;  // nothing listens there
  p.user = "boincadm";
  p.database = project.db_name();
  p.connect_timeout_seconds = 2;
  std::string msg = mw::test::error_of([&] { Database db(p); }, Errc::database);
  EXPECT_NE(msg.find("cannot connect to database '" + project.db_name() + "' on 127.0.0.1:1"),
            std::string::npos)
      << msg;
}

// ----------------------------------------------------------- cancel

TEST(WorkCreator, CancelBatchDoesWhatBoincCancelJobsDoes) {
  BoincTestProject project("t_cw_cancel");
  auto db = project.database();
  WorkCreator creator = make_creator(project, *db);
  const std::int64_t batch = creator.create_batch("to-cancel");
  Stager stager(project.config());
  int produced = 0;
  creator.submit(batch, {}, [&](JobSpec& job) {
    if (produced == 3) return false;
    job.name = "c_" + std::to_string(produced++);
    StagedFile f = stager.stage_bytes(job.name + ".task.zip", job.name);
    job.files = {InputFile::known(f.name, f.digest)};
    return true;
  }, &stager);
  // Play the transitioner: one unsent and one in-progress result for c_0; c_2 assimilated.
  auto conn = project.server().connect(project.db_name());
  for (auto [suffix, state] : {std::pair{"0", 2}, std::pair{"1", 4}}) {
    conn.execute(
        "INSERT INTO result (create_time, workunitid, server_state, outcome, client_state, hostid, "
        "userid, report_deadline, sent_time, received_time, name, cpu_time, xml_doc_in, xml_doc_out, "
        "stderr_out, batch, file_delete_state, validate_state, claimed_credit, granted_credit, opaque, "
        "random, app_version_num, appid, exit_status, teamid, priority, elapsed_time, flops_estimate, "
        "app_version_id, runtime_outlier, size_class, peak_working_set_size, peak_swap_size, "
        "peak_disk_usage) SELECT UNIX_TIMESTAMP(), id, " + std::to_string(state) +
        ", 0, 0, 0, 0, 0, 0, 0, CONCAT(name, '_" + suffix + "'), 0, '', '', '', batch, 0, 0, 0, 0, 0, "
        "0, 0, appid, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0 FROM workunit WHERE name = 'c_0'");
  }
  conn.execute("UPDATE workunit SET assimilate_state = 2 WHERE name = 'c_2'");
  EXPECT_EQ(creator.cancel_batch(batch), 2u);
  auto wus = project.rows("SELECT name, error_mask FROM workunit ORDER BY name");
  EXPECT_EQ(wus[0]["error_mask"], "16");
  EXPECT_EQ(wus[1]["error_mask"], "16");
  EXPECT_EQ(wus[2]["error_mask"], "0") << "an assimilated workunit is left alone";
  auto results = project.rows("SELECT name, server_state, outcome FROM result ORDER BY name");
  EXPECT_EQ(results[0]["server_state"], "5");
  EXPECT_EQ(results[0]["outcome"], "5");
  EXPECT_EQ(results[1]["server_state"], "4") << "in progress stays: the host may still report";
  EXPECT_EQ(creator.batch_info(batch).state, 3);
  EXPECT_EQ(creator.cancel_batch(batch), 0u) << "cancelling twice changes nothing";
  creator.retire_batch(batch);
  EXPECT_EQ(creator.batch_info(batch).state, 4);
  creator.cancel_batch(batch);
  EXPECT_EQ(creator.batch_info(batch).state, 4) << "a retired batch stays retired";
  // A closed batch takes no more work.
  std::string msg = mw::test::error_of([&] { creator.submit(batch, {}, std::vector<JobSpec>{}); }, Errc::usage);
  EXPECT_NE(msg.find("is closed"), std::string::npos) << msg;
}

// ----------------------------------------------------------- disk full

TEST(WorkCreator, DiskFullIsAClearErrorAndLeavesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root (CI runs as root)";
  mw::test::ScratchDir scratch;
  const std::string small = scratch / "small_download";
  ASSERT_EQ(::mkdir(small.c_str(), 0755), 0);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{small};
  mw::test::BoincTestProjectOptions options;
  options.download_dir = small;
  BoincTestProject project("t_cw_diskfull", options);
  auto db = project.database();
  WorkCreator creator = make_creator(project, *db);
  const std::int64_t batch = creator.create_batch("too-big");
  const auto before = files_below(small);
  Stager stager(project.config());
  int produced = 0;
  const std::string payload(16 * 1024, 'x');
  std::string msg = mw::test::error_of([&] {
    creator.submit(batch, {}, [&](JobSpec& job) {
      if (produced == 100) return false;  // 1.6 MB: cannot fit in 256 KB
      job.name = "big_" + std::to_string(produced++);
      StagedFile f = stager.stage_bytes(job.name + ".task.zip", payload);
      job.files = {InputFile::known(f.name, f.digest)};
      return true;
    }, &stager, 10);
  }, Errc::io);
  EXPECT_NE(msg.find(small), std::string::npos) << msg;
  EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
  expect_nothing_left(project, batch, before);
}

// Issue 16: a quorum alone gives a workunit create_work accepts and that
// survives failed or disagreeing hosts; given values are kept.
TEST(WorkunitSettingsTest, ReplicationLimitsAreDerivedFromTheQuorum) {
  auto limits = [](const WorkunitSettings& s) {
    return std::vector<int>{s.min_quorum, s.target_nresults, s.max_error_results, s.max_success_results,
                            s.max_total_results};
  };
  EXPECT_EQ(limits(resolve_replication({})), (std::vector<int>{1, 1, 3, 2, 5}));
  WorkunitSettings q2;
  q2.min_quorum = 2;
  EXPECT_EQ(limits(resolve_replication(q2)), (std::vector<int>{2, 2, 4, 4, 8}));
  WorkunitSettings q3;
  q3.min_quorum = 3;
  EXPECT_EQ(limits(resolve_replication(q3)), (std::vector<int>{3, 3, 5, 6, 11}));
  // The project's default quorum applies only where none is given.
  EXPECT_EQ(limits(resolve_replication({}, 2)), (std::vector<int>{2, 2, 4, 4, 8}));
  EXPECT_EQ(limits(resolve_replication(q3, 2))[0], 3);
  // Given values stay, and later rules use them.
  WorkunitSettings given = q2;
  given.target_nresults = 3;
  given.max_error_results = 1;
  EXPECT_EQ(limits(resolve_replication(given)), (std::vector<int>{2, 3, 1, 4, 5}));
  for (const auto& s : {WorkunitSettings{}, q2, q3, given})
    EXPECT_NO_THROW(check_workunit_settings(resolve_replication(s), "w"));
  // Unresolved zeros are refused.
  EXPECT_THROW(check_workunit_settings(WorkunitSettings{}, "w"), mw::Error);
}

}  // namespace
}  // namespace mw::boinc
