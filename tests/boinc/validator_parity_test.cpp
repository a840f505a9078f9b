// mw-validator's bookkeeping (credit, recent average credit, per-app credit,
// host turnaround, host_app_version and app_version statistics) against
// Debian's libsched 7.20.5 (tests/boinc/validator_oracle.*).
//
// The fake BOINC server's database gets hosts with and without history,
// workunits of quorum 1 and 2, agreeing, disagreeing, late and unreadable
// results. Before each run of the real mw-validator the whole database is
// copied into a second one; after the run libsched books the same judgements
// on the copy, its clock set to the instant mw-validator dated its credit
// (the expavg_time it wrote), and every column mw-validator's bookkeeping
// writes must be equal in both databases, compared by the server as doubles,
// i.e. to the last bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <memory>
#include <sstream>

#include "boinc/fake_boinc_server.h"
#include "boinc/validator_oracle.h"

namespace mw::test {
namespace {

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const char* const kTables[] = {"app",  "app_version", "user",        "team",        "host",
                               "host_app_version", "workunit", "result", "credit_user", "credit_team", "credited_job"};

// The columns the bookkeeping writes, per table, and each table's key; and
// host_app_version.n_jobs_today, the scheduler's, which it must leave alone.
struct Compared {
  const char* table;
  const char* key;
  std::vector<const char*> columns;
};
const Compared kCompared[] = {
    {"host", "id", {"total_credit", "expavg_credit", "expavg_time", "avg_turnaround"}},
    {"user", "id", {"total_credit", "expavg_credit", "expavg_time"}},
    {"team", "id", {"total_credit", "expavg_credit", "expavg_time"}},
    {"host_app_version", "host_id, app_version_id",
     {"pfc_n", "pfc_avg", "et_n", "et_avg", "et_var", "et_q", "turnaround_n", "turnaround_avg", "turnaround_var",
      "turnaround_q", "max_jobs_per_day", "consecutive_valid", "n_jobs_today"}},
    {"credit_user", "userid, appid, credit_type", {"njobs", "total", "expavg", "expavg_time"}},
    {"credit_team", "teamid, appid, credit_type", {"njobs", "total", "expavg", "expavg_time"}},
    {"app_version", "id", {"pfc_n", "pfc_avg", "expavg_credit", "expavg_time"}},
    {"result", "id", {"granted_credit"}},
    {"workunit", "id", {"canonical_credit"}},
};

class ValidatorParityTest : public ::testing::Test {
 protected:
  std::unique_ptr<FakeBoincServer> server;
  std::string mw_db, oracle_db;
  ScratchDir oracle_project;
  std::int64_t t0 = std::time(nullptr);

  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    mw_db = "p_" + name.substr(0, 40);
    oracle_db = "o_" + name.substr(0, 40);
    server = std::make_unique<FakeBoincServer>(mw_db);
    // The project keeps per-app credit and a daily quota of 2 jobs.
    std::string config = read_text(server->project_dir() + "/config.xml");
    config.replace(config.find("</config>"), 0,
                   "  <credit_by_app>1</credit_by_app>\n  <daily_result_quota>2</daily_result_quota>\n");
    write_text(server->project_dir() + "/config.xml", config);
    PrivateMariaDb::shared().create_database(oracle_db);
    PrivateMariaDb::shared().load_schema(oracle_db, MW_BOINC_SCHEMA);
    std::string oracle_config = config;
    oracle_config.replace(oracle_config.find("<db_name>" + mw_db), 9 + mw_db.size(), "<db_name>" + oracle_db);
    write_text(oracle_project / "config.xml", oracle_config);
    std::string why;
    ASSERT_EQ(oracle::open_project(oracle_project.path(), why), 0) << why;
    make_history();
  }
  void TearDown() override { oracle::close_project(); }

  void sql(const std::string& statement, const std::vector<boinc::DbValue>& args = {}) {
    server->db().execute(statement, args);
  }

  // Two versions of the app (one with enough samples and a scale, so hosts
  // with history get "normal" credit), a host with a long history and a
  // host_app_version above the daily quota, a user and a team with credit,
  // and per-app credit of user 1. The app is normally replicated
  // (target_nresults 2), so quorum-1 results do not count as consecutive.
  void make_history() {
    const std::int64_t app = server->app_id();
    sql("UPDATE app SET target_nresults = 2, min_avg_pfc = 1.05 WHERE id = ?", {app});
    sql("INSERT INTO app_version (id, create_time, appid, version_num, platformid, xml_doc, pfc_n, pfc_avg, "
        "pfc_scale, expavg_credit, expavg_time) VALUES (1, 0, ?, 100, 1, '', 150, 1.3, 0.9, 12.5, ?)",
        {app, static_cast<double>(t0 - 86400)});
    sql("INSERT INTO app_version (id, create_time, appid, version_num, platformid, xml_doc) "
        "VALUES (2, 0, ?, 101, 1, '')",
        {app});
    sql("UPDATE host SET total_credit = 1234.5, expavg_credit = 56.78, expavg_time = ?, avg_turnaround = 7200 "
        "WHERE id = 1",
        {static_cast<double>(t0 - 3 * 86400) + 0.25});
    sql("UPDATE user SET total_credit = 5000, expavg_credit = 100.25, expavg_time = ? WHERE id = 1",
        {static_cast<double>(t0 - 86400) + 0.5});
    sql("UPDATE team SET total_credit = 9000, expavg_credit = 300, expavg_time = ? WHERE id = 1",
        {static_cast<double>(t0 - 7200)});
    sql("INSERT INTO host_app_version (host_id, app_version_id, pfc_n, pfc_avg, et_n, et_avg, et_var, et_q, "
        "max_jobs_per_day, n_jobs_today, turnaround_n, turnaround_avg, turnaround_var, turnaround_q, "
        "consecutive_valid) VALUES (1, 1, 30, 1.1, 30, 8.5e-10, 1e-20, 3e-19, 50, 4, 30, 5000, 1e6, 3e7, 12)");
    sql("INSERT INTO host_app_version (host_id, app_version_id, pfc_n, pfc_avg, et_n, et_avg, et_var, et_q, "
        "max_jobs_per_day, n_jobs_today, turnaround_n, turnaround_avg, turnaround_var, turnaround_q, "
        "consecutive_valid) VALUES (2, 1, 3, 0.9, 3, 9e-10, 2e-20, 6e-20, 3, 0, 3, 4000, 2e6, 6e6, 4)");
    sql("INSERT INTO credit_user (userid, appid, njobs, total, expavg, expavg_time, credit_type) "
        "VALUES (1, ?, 7, 700, 20, ?, 0)",
        {app, static_cast<double>(t0 - 2 * 86400)});
  }

  // The client's report: which app version ran, for how long, at what speed,
  // sent `sent_ago` seconds before the test started and back `took` later.
  void claim(std::int64_t result, std::int64_t app_version, double elapsed, double flops, std::int64_t sent_ago,
             std::int64_t took) {
    sql("UPDATE result SET app_version_id = ?, elapsed_time = ?, cpu_time = ?, flops_estimate = ?, "
        "sent_time = ?, received_time = ? WHERE id = ?",
        {app_version, elapsed, elapsed * 0.97, flops, t0 - sent_ago, t0 - sent_ago + took, result});
  }

  std::int64_t report(std::int64_t wu, std::int64_t host, const std::string& output, std::int64_t app_version,
                      double elapsed, double flops, std::int64_t sent_ago, std::int64_t took, bool upload = true) {
    std::int64_t r = server->send_one(wu, host);
    server->report_success(r, make_result_bundle(output), upload);
    claim(r, app_version, elapsed, flops, sent_ago, took);
    return r;
  }

  std::int64_t workunit(const std::string& name, int quorum, int target) {
    FakeWorkunit spec;
    spec.min_quorum = quorum;
    spec.target_nresults = target;
    spec.rsc_fpops_est = 4e12;
    std::int64_t wu = server->create_workunit(name, spec);
    server->transition();
    return wu;
  }

  void copy_to_oracle() {
    for (const char* t : kTables) {
      sql(std::string("DELETE FROM `") + oracle_db + "`.`" + t + "`");
      sql(std::string("INSERT INTO `") + oracle_db + "`.`" + t + "` SELECT * FROM `" + mw_db + "`.`" + t + "`");
    }
  }

  struct Before {
    std::int64_t canonical = 0;
    std::map<std::int64_t, std::int64_t> states;
  };

  // Runs mw-validator once, then libsched on the copy, and compares.
  void validate_and_compare(const std::string& step, const std::vector<std::string>& options = {},
                            double scheme_credit = -1) {
    SCOPED_TRACE(step);
    copy_to_oracle();
    std::map<std::int64_t, Before> before;
    for (const auto& row : server->rows("SELECT id, canonical_resultid FROM workunit WHERE need_validate > 0"))
      before[row.integer(0)].canonical = row.integer(1);
    for (auto& [wu, b] : before)
      for (const auto& row : server->rows("SELECT id, validate_state FROM result WHERE workunitid = ?", {wu}))
        b.states[row.integer(0)] = row.integer(1);

    // One thread: credit of several workunits lands on the same user and
    // team rows, and the order of the grants shows in the last bits (with
    // threads it is the order the transactions commit in, which the oracle
    // cannot know).
    auto run = run_command(
        with(with({MW_VALIDATOR}, server->daemon_args()), with({"--one-pass", "-d", "3", "--threads", "1"}, options)));
    ASSERT_EQ(run.exit_code, 0) << run.err;

    // mw-validator dates all credit of a pass with one instant; libsched
    // is given the same one.
    auto now_rows = server->rows("SELECT MAX(expavg_time) FROM host");
    ASSERT_FALSE(now_rows.empty());
    const double now = now_rows[0].real(0);
    ASSERT_GE(now, static_cast<double>(t0)) << "mw-validator dated no credit in this run";
    oracle::set_clock(now);
    int booked = 0;
    for (const auto& [wu, b] : before) {
      oracle::JudgedWorkunit j;
      j.id = static_cast<long>(wu);
      j.scheme_credit = scheme_credit;
      j.update_credited_job =
          std::find(options.begin(), options.end(), "--update-credited-job") != options.end();
      j.late = b.canonical != 0;
      j.canonical_found = !j.late && server->value("SELECT canonical_resultid FROM workunit WHERE id = ?", {wu}) != 0;
      for (const auto& row : server->rows("SELECT id, validate_state FROM result WHERE workunitid = ?", {wu})) {
        std::int64_t after = row.integer(1);
        if (after != b.states.at(row.integer(0)) && (after == 1 || after == 2))
          j.judged[static_cast<long>(row.integer(0))] = static_cast<int>(after);
      }
      if (j.judged.empty()) continue;
      std::string why;
      ASSERT_EQ(oracle::book_workunit(j, "mw", 200.0 * 1000 * 365, why), 0) << why << " for workunit " << wu;
      ++booked;
    }
    std::string why;
    ASSERT_EQ(oracle::flush_app_versions(why), 0) << why;
    EXPECT_GT(booked, 0);
    expect_same_rows();
  }

  // Rows where mw-validator knowingly differs from libsched ("table (key)"):
  // the test checks them itself.
  std::set<std::string> divergent;

  void expect_same_rows() {
    // credited_job is all key: the same pairs on both sides.
    const std::string m = "`" + mw_db + "`.credited_job", o = "`" + oracle_db + "`.credited_job";
    EXPECT_EQ(server->value("SELECT COUNT(*) FROM " + m), server->value("SELECT COUNT(*) FROM " + o))
        << "rows in credited_job";
    for (const auto& row : server->rows("SELECT m.userid, m.workunitid FROM " + m + " m LEFT JOIN " + o +
                                        " o USING (userid, workunitid) WHERE o.userid IS NULL"))
      ADD_FAILURE() << "credited_job (" << row.integer(0) << ", " << row.integer(1)
                    << "): written by mw-validator, not by libsched";
    for (const Compared& c : kCompared) {
      SCOPED_TRACE(c.table);
      const std::string m = "`" + mw_db + "`." + c.table, o = "`" + oracle_db + "`." + c.table;
      EXPECT_EQ(server->value("SELECT COUNT(*) FROM " + m), server->value("SELECT COUNT(*) FROM " + o))
          << "rows in " << c.table;
      for (const char* col : c.columns) {
        auto diff = server->rows("SELECT CONCAT_WS(',', " + std::string(c.key) + "), m." + col + ", o." + col +
                                 " FROM " + m + " m JOIN " + o + " o USING (" + c.key + ") WHERE NOT (m." + col +
                                 " <=> o." + col + ")");
        for (const auto& row : diff)
          if (!divergent.count(std::string(c.table) + " (" + row.text(0) + ")"))
            ADD_FAILURE() << c.table << " (" << row.text(0) << ")." << col << ": mw-validator wrote "
                        << (row.is_null(1) ? "NULL" : row.text(1)) << ", libsched "
                        << (row.is_null(2) ? "NULL" : row.text(2));
      }
    }
  }

  double real(const std::string& query) { return server->rows(query)[0].real(0); }
};

TEST_F(ValidatorParityTest, CreditAndStatisticsEqualLibschedForEveryKindOfWorkunit) {
  // Pass 1.
  const std::int64_t q1 = workunit("q1_history", 1, 1);
  report(q1, 1, "a", 1, 3600, 1.2e9, 9000, 4000);  // host with history: host-scaled ("normal") credit
  const std::int64_t agree = workunit("q2_agree", 2, 2);
  report(agree, 2, "b", 1, 3300, 1.3e9, 20000, 6000);
  report(agree, 3, "b", 2, 5000, 0.8e9, 15000, 5500);
  const std::int64_t disagree = workunit("q2_disagree", 2, 2);
  report(disagree, 1, "x", 1, 3500, 1.2e9, 8000, 3000);
  report(disagree, 2, "y", 1, 3100, 1.3e9, 7000, 2500);
  FakeWorkunit late_spec;
  late_spec.min_quorum = 2;
  late_spec.target_nresults = 4;
  late_spec.rsc_fpops_est = 4e12;
  const std::int64_t late = server->create_workunit("q2_late", late_spec);
  server->transition();
  std::vector<std::int64_t> late_results;
  for (std::int64_t host : {3, 4, 1, 2}) late_results.push_back(server->send_one(late, host));
  server->report_success(late_results[0], make_result_bundle("c"));
  claim(late_results[0], 2, 4000, 0.9e9, 30000, 9000);
  server->report_success(late_results[1], make_result_bundle("c"));
  claim(late_results[1], 1, 2900, 1.5e9, 30000, 12000);
  const std::int64_t anon = workunit("q1_anonymous", 1, 1);
  report(anon, 4, "d", -1, 2000, 2e9, 5000, 1000);  // anonymous platform: a host_app_version keyed by app
  const std::int64_t unknown = workunit("q1_no_version", 1, 1);
  report(unknown, 2, "e", 0, 1000, 1e9, 4000, 900);  // no app version: credit from the estimate
  const std::int64_t unreadable = workunit("q2_unreadable", 2, 2);
  report(unreadable, 2, "f", 1, 1000, 1e9, 4000, 900, /*upload=*/false);  // no upload: invalid
  report(unreadable, 4, "f", 1, 1200, 1e9, 4000, 800);
  // Quorum 3 with one host-scaled claim and two approximate ones: BOINC
  // averages four values (the scaled one counts twice), summed in the order
  // Debian's build of libsched sums them (validator/credit.cpp).
  const std::int64_t trio = workunit("q3_one_scaled", 3, 3);
  report(trio, 1, "h", 1, 3700, 1.2e9, 10000, 4500);
  report(trio, 2, "h", 1, 3400, 1.3e9, 11000, 5000);
  report(trio, 3, "h", 2, 4900, 0.8e9, 12000, 5200);
  server->transition();
  validate_and_compare("first pass");

  // What the first pass did, so the comparison above was not between two
  // untouched databases.
  EXPECT_NE(server->value("SELECT canonical_resultid FROM workunit WHERE id = ?", {q1}), 0);
  EXPECT_NE(server->value("SELECT canonical_resultid FROM workunit WHERE id = ?", {trio}), 0);
  EXPECT_GT(real("SELECT expavg_credit FROM host WHERE id = 1"), 0);
  EXPECT_NE(real("SELECT avg_turnaround FROM host WHERE id = 1"), 7200);
  EXPECT_EQ(server->value("SELECT consecutive_valid FROM host_app_version WHERE host_id = 1 AND app_version_id = 1"),
            13)
      << "the quorum-3 result counts as consecutive; a quorum-1 result of a replicated app does not";
  EXPECT_EQ(server->value("SELECT max_jobs_per_day FROM host_app_version WHERE host_id = 1 AND app_version_id = 1"),
            52);
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM host_app_version WHERE app_version_id = ?",
                          {server->app_id() * 1000000 + 1}),
            0)
      << "as in BOINC, only the scheduler makes an anonymous platform's host_app_version";
  EXPECT_EQ(server->value("SELECT njobs FROM credit_user WHERE userid = 1"), 9);
  EXPECT_GT(server->value("SELECT COUNT(*) FROM credit_team"), 0);
  EXPECT_GT(real("SELECT pfc_n FROM app_version WHERE id = 1"), 150);

  // Pass 2: the disagreement is settled by a third result, and the late
  // results of the quorum are judged against its canonical result.
  server->transition();
  report(disagree, 3, "x", 2, 4800, 0.8e9, 3000, 2000);
  server->report_success(late_results[2], make_result_bundle("c"));
  claim(late_results[2], 1, 3400, 1.2e9, 30000, 20000);
  server->report_success(late_results[3], make_result_bundle("wrong"));
  claim(late_results[3], 1, 3000, 1.3e9, 30000, 25000);
  // Host 4 has statistics for version 1 (made in pass 1) and now runs version
  // 2: BOINC's hav_lookup moves the old row to the new version, so the host
  // keeps its history.
  // BOINC (7.20.5 and master) then loses this result's statistics: its
  // in-memory row keeps the old version's id, so the update after the move
  // matches no row. mw-validator keeps them (docs/boinc-conventions.md): the
  // moved row has libsched's history plus exactly this one sample.
  const std::int64_t upgraded = workunit("q1_new_version", 1, 1);
  report(upgraded, 4, "g", 2, 2500, 1.1e9, 6000, 1500);
  server->transition();
  divergent.insert("host_app_version (4,2)");
  validate_and_compare("second pass");
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM host_app_version WHERE host_id = 4 AND app_version_id = 1"), 0)
      << "host 4's row for version 1 should have become its row for version 2";
  const std::string both = "FROM `" + mw_db + "`.host_app_version m JOIN `" + oracle_db +
                           "`.host_app_version o USING (host_id, app_version_id) WHERE host_id = 4 AND app_version_id = 2";
  for (const char* n : {"pfc_n", "et_n", "turnaround_n", "max_jobs_per_day"})
    EXPECT_EQ(server->value(std::string("SELECT m.") + n + " - o." + n + " " + both), 1)
        << n << ": the moved row should hold libsched's history and this result";
  EXPECT_EQ(server->value("SELECT m.turnaround_avg <> o.turnaround_avg " + both), 1);
  EXPECT_EQ(server->value("SELECT validate_state FROM result WHERE id = ?", {late_results[2]}), 1);
  EXPECT_EQ(server->value("SELECT validate_state FROM result WHERE id = ?", {late_results[3]}), 2);
  EXPECT_EQ(server->value("SELECT max_jobs_per_day FROM host_app_version WHERE host_id = 2 AND app_version_id = 1"),
            2)
      << "invalid results cut host 2's quota down to the project's daily_result_quota, and no further";
  EXPECT_EQ(server->value("SELECT consecutive_valid FROM host_app_version WHERE host_id = 2 AND app_version_id = 1"), 0);
}

TEST_F(ValidatorParityTest, FixedAndEstimateCreditStillKeepTheStatistics) {
  const std::int64_t fixed = workunit("q2_fixed", 2, 2);
  report(fixed, 1, "a", 1, 3600, 1.2e9, 9000, 4000);
  report(fixed, 3, "a", 2, 5000, 0.8e9, 15000, 5500);
  server->transition();
  validate_and_compare("--credit 2.5", {"--credit", "2.5"}, 2.5);
  EXPECT_EQ(real("SELECT canonical_credit FROM workunit WHERE id = " + std::to_string(fixed)), 2.5);
  EXPECT_EQ(server->value("SELECT max_jobs_per_day FROM host_app_version WHERE host_id = 1 AND app_version_id = 1"),
            51);

  const std::int64_t estimate = workunit("q1_estimate", 1, 1);
  report(estimate, 2, "b", 1, 3300, 1.3e9, 20000, 6000);
  server->transition();
  // 200 credits per GFLOPS-day of the workunit's rsc_fpops_est.
  const double expected = 4e12 * (200.0 / (86400.0 * 1e9));
  validate_and_compare("--credit-from-fpops-est", {"--credit-from-fpops-est"}, expected);
  EXPECT_DOUBLE_EQ(real("SELECT canonical_credit FROM workunit WHERE id = " + std::to_string(estimate)), expected);
}

TEST_F(ValidatorParityTest, CreditedJobRowsEqualLibsched) {
  // Host i belongs to user i; the workunit is named by its opaque, truncated
  // as BOINC's long() does.
  const std::int64_t agree = workunit("cj_agree", 2, 2);
  sql("UPDATE workunit SET opaque = 4711.9 WHERE id = ?", {agree});
  report(agree, 1, "a", 1, 3600, 1.2e9, 9000, 4000);
  report(agree, 2, "a", 1, 3300, 1.3e9, 20000, 6000);
  const std::int64_t disagree = workunit("cj_disagree", 2, 3);
  sql("UPDATE workunit SET opaque = 815 WHERE id = ?", {disagree});
  report(disagree, 3, "x", 2, 5000, 0.8e9, 15000, 5500);
  report(disagree, 4, "y", 1, 3100, 1.3e9, 7000, 2500);
  report(disagree, 1, "x", 1, 3500, 1.2e9, 8000, 3000);
  // Host 3 has changed hands since it ran its result: the row names the
  // host's owner now (BOINC reads host.userid), and the two agreeing results
  // of cj_disagree then make one pair.
  sql("UPDATE host SET userid = 1 WHERE id = 3");
  // A pair that is there already: no error, no second row.
  sql("INSERT INTO credited_job (userid, workunitid) VALUES (1, 4711)");
  server->transition();
  validate_and_compare("--update-credited-job", {"--update-credited-job"});
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM credited_job WHERE workunitid = 4711"), 2);
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM credited_job WHERE workunitid = 4711 AND userid = 2"), 1);
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM credited_job WHERE workunitid = 815"), 1)
      << "hosts 3 and 1 (both user 1's now) agree; host 4's result is invalid";
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM credited_job WHERE workunitid = 815 AND userid = 1"), 1);

  // Without the option nothing is recorded, as in BOINC.
  const std::int64_t plain = workunit("cj_plain", 1, 1);
  sql("UPDATE workunit SET opaque = 99 WHERE id = ?", {plain});
  report(plain, 2, "b", 1, 3300, 1.3e9, 20000, 6000);
  server->transition();
  validate_and_compare("no option");
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM credited_job WHERE workunitid = 99"), 0);
}

}  // namespace
}  // namespace mw::test
