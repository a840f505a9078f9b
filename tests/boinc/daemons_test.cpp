// mw-validator and mw-assimilator against the fake BOINC server on a private MariaDB.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zip.h>

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <set>
#include <thread>

#include "boinc/fake_boinc_server.h"
#include "mw/boinc/delivery_hosts.h"
#include "mw/hash.h"

namespace mw::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr std::int64_t kIntMax = 2147483647;

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The delivered files: without mw_hosts.tsv, which records who ran them.
std::vector<std::string> deliveries(std::vector<std::string> files) {
  files.erase(std::remove_if(files.begin(), files.end(),
                             [](const std::string& f) {
                               return f.size() >= 12 && f.compare(f.size() - 12, 12, "mw_hosts.tsv") == 0;
                             }),
              files.end());
  return files;
}

class DaemonsTest : public ::testing::Test {
 protected:
  std::unique_ptr<FakeBoincServer> server;

  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    server = std::make_unique<FakeBoincServer>("t_" + name.substr(0, 40));
  }

  CommandResult validator(const std::vector<std::string>& extra = {}) {
    auto r = run_command(with(with({MW_VALIDATOR}, server->daemon_args()), with({"--one-pass", "-d", "3"}, extra)));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  }
  CommandResult assimilator(const std::vector<std::string>& extra = {}) {
    auto r = run_command(with(with({MW_ASSIMILATOR}, server->daemon_args()),
                              with({"--one-pass", "-d", "3", "--deliver", server->deliver_dir()}, extra)));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  }

  // Creates a workunit, lets the transitioner make its results, sends and
  // reports them with the given output texts ("" = client error).
  std::int64_t run_workunit(const std::string& name, const FakeWorkunit& spec,
                            const std::vector<std::string>& outputs) {
    std::int64_t wu = server->create_workunit(name, spec);
    server->transition();
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      std::int64_t r = server->send_one(wu, static_cast<std::int64_t>(i + 1));
      if (outputs[i].empty())
        server->report_client_error(r);
      else
        server->report_success(r, make_result_bundle(outputs[i]));
    }
    server->transition();
    return wu;
  }

  std::int64_t wu_value(std::int64_t wu, const std::string& column) {
    return server->value("SELECT " + column + " FROM workunit WHERE id = ?", {wu});
  }
  std::vector<std::int64_t> validate_states(std::int64_t wu) {
    std::vector<std::int64_t> out;
    for (auto& r : server->rows("SELECT validate_state FROM result WHERE workunitid = ? ORDER BY id", {wu}))
      out.push_back(r.integer(0));
    return out;
  }
  std::string delivered(std::int64_t batch, const std::string& name) {
    return read_text(server->deliver_dir() + "/" + std::to_string(batch) + "/" + name);
  }
};

TEST_F(DaemonsTest, QuorumOneIsValidatedAndDeliveredAndTheBatchCompletes) {
  std::int64_t batch = server->create_batch(1);
  FakeWorkunit spec;
  spec.batch = batch;
  std::int64_t wu = run_workunit("q1", spec, {"42\n"});
  EXPECT_EQ(wu_value(wu, "need_validate"), 1);
  validator();
  std::int64_t canonical = wu_value(wu, "canonical_resultid");
  EXPECT_NE(canonical, 0);
  EXPECT_EQ(wu_value(wu, "need_validate"), 0);
  EXPECT_EQ(wu_value(wu, "assimilate_state"), 1);
  EXPECT_EQ(wu_value(wu, "transition_time"), kIntMax);
  EXPECT_EQ(validate_states(wu), std::vector<std::int64_t>{1});
  EXPECT_DOUBLE_EQ(server->rows("SELECT granted_credit FROM result WHERE id = ?", {canonical})[0].real(0), 1.0);
  EXPECT_DOUBLE_EQ(server->rows("SELECT total_credit FROM user WHERE id = 1")[0].real(0), 1.0);

  std::int64_t before = std::time(nullptr);
  assimilator();
  EXPECT_EQ(wu_value(wu, "assimilate_state"), 2);
  EXPECT_GE(wu_value(wu, "transition_time"), before);
  EXPECT_LE(wu_value(wu, "transition_time"), before + 5);
  EXPECT_EQ(delivered(batch, "q1.result"), read_text(server->output_path(canonical)));
  // Also in BOINC 8's batch-collect layout, which get_output3.php serves
  // after file_deleter has emptied upload/: the same file, linked.
  const std::string collected = server->project_dir() + "/results/" + std::to_string(batch) + "/q1__file_result.zip";
  EXPECT_EQ(read_text(collected), read_text(server->output_path(canonical)));
  struct stat a {}, b {};
  ASSERT_EQ(::stat(collected.c_str(), &a), 0);
  ASSERT_EQ(::stat((server->deliver_dir() + "/" + std::to_string(batch) + "/q1.result").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "a hard link, not a second copy";
  EXPECT_EQ(server->value("SELECT state FROM batch WHERE id = ?", {batch}), 2);
  EXPECT_GE(server->value("SELECT completion_time FROM batch WHERE id = ?", {batch}), before);
  // Nothing is left to do; a second pass delivers nothing new.
  EXPECT_THAT(assimilator().err, ::testing::Not(HasSubstr("delivered")));
  EXPECT_EQ(list_tree(server->deliver_dir()),
            (std::vector<std::string>{std::to_string(batch), std::to_string(batch) + "/mw_hosts.tsv",
                                      std::to_string(batch) + "/q1.result"}));
}

TEST_F(DaemonsTest, BatchStaysInProgressUntilItsLastWorkunit) {
  std::int64_t batch = server->create_batch(2);
  FakeWorkunit spec;
  spec.batch = batch;
  run_workunit("b1", spec, {"1"});
  validator();
  assimilator();
  EXPECT_EQ(server->value("SELECT state FROM batch WHERE id = ?", {batch}), 1);
  run_workunit("b2", spec, {"2"});
  validator();
  assimilator();
  EXPECT_EQ(server->value("SELECT state FROM batch WHERE id = ?", {batch}), 2);
}

TEST_F(DaemonsTest, QuorumTwoAgreementAndDisagreementThenOneMoreResult) {
  FakeWorkunit spec;
  spec.min_quorum = 2;
  spec.target_nresults = 2;
  std::int64_t agree = run_workunit("agree", spec, {"x", "x"});
  std::int64_t differ = run_workunit("differ", spec, {"x", "y"});
  validator();
  EXPECT_NE(wu_value(agree, "canonical_resultid"), 0);
  EXPECT_EQ(validate_states(agree), (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(wu_value(differ, "canonical_resultid"), 0);
  EXPECT_EQ(validate_states(differ), (std::vector<std::int64_t>{4, 4}));  // INCONCLUSIVE
  EXPECT_EQ(wu_value(differ, "target_nresults"), 3);
  EXPECT_EQ(wu_value(differ, "assimilate_state"), 0);
  // The transitioner makes the third result; it agrees with the second.
  server->transition();
  std::int64_t third = server->send_one(differ, 3);
  server->report_success(third, make_result_bundle("y"));
  server->transition();
  EXPECT_EQ(wu_value(differ, "need_validate"), 1);
  validator();
  EXPECT_EQ(validate_states(differ), (std::vector<std::int64_t>{2, 1, 1}));
  std::int64_t canonical = wu_value(differ, "canonical_resultid");
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM result WHERE id = ? AND name = 'differ_1'", {canonical}), 1);
  assimilator();
  EXPECT_EQ(delivered(0, "differ.result"), read_text(server->output_path(canonical)));
}

TEST_F(DaemonsTest, QuorumThreeNeedsTwoAgreeingAndLateResultsAreJudgedAgainstTheCanonical) {
  FakeWorkunit spec;
  spec.min_quorum = 3;
  spec.target_nresults = 5;
  spec.max_success_results = 5;
  spec.max_total_results = 8;
  std::int64_t wu = server->create_workunit("q3", spec);
  server->transition();
  std::vector<std::int64_t> r;
  for (int i = 0; i < 5; ++i) r.push_back(server->send_one(wu, i + 1));
  server->report_success(r[0], make_result_bundle("b"));
  server->report_success(r[1], make_result_bundle("a"));
  server->transition();
  EXPECT_EQ(wu_value(wu, "need_validate"), 0) << "two successes are below the quorum of 3";
  server->report_success(r[2], make_result_bundle("a"));
  server->transition();
  validator();
  EXPECT_EQ(wu_value(wu, "canonical_resultid"), r[1]) << "the first result agreeing with 3/2+1 = 2";
  EXPECT_EQ(validate_states(wu), (std::vector<std::int64_t>{2, 1, 1, 0, 0}));
  EXPECT_EQ(wu_value(wu, "transition_time"), kIntMax);
  // Late results: one agrees, one does not.
  server->report_success(r[3], make_result_bundle("a"));
  server->report_success(r[4], make_result_bundle("c"));
  server->transition();
  EXPECT_EQ(wu_value(wu, "need_validate"), 1);
  validator();
  EXPECT_EQ(validate_states(wu), (std::vector<std::int64_t>{2, 1, 1, 1, 2}));
  EXPECT_EQ(wu_value(wu, "canonical_resultid"), r[1]);
  EXPECT_DOUBLE_EQ(server->rows("SELECT granted_credit FROM result WHERE id = ?", {r[3]})[0].real(0), 1.0);
  EXPECT_DOUBLE_EQ(server->rows("SELECT granted_credit FROM result WHERE id = ?", {r[4]})[0].real(0), 0.0);
  // Credit went to the valid results' hosts, users and team (users 1 and 2
  // are team 1; result i went to host and user i + 1), once each.
  auto total = [&](const std::string& table, int id) {
    return server->rows("SELECT total_credit FROM " + table + " WHERE id = ?", {std::int64_t{id}})[0].real(0);
  };
  for (const std::string table : {"host", "user"}) {
    SCOPED_TRACE(table);
    EXPECT_DOUBLE_EQ(total(table, 1), 0.0) << "r[0] was invalid";
    EXPECT_DOUBLE_EQ(total(table, 2), 1.0);
    EXPECT_DOUBLE_EQ(total(table, 3), 1.0);
    EXPECT_DOUBLE_EQ(total(table, 4), 1.0) << "the late result that agreed";
  }
  EXPECT_DOUBLE_EQ(total("team", 1), 1.0) << "only user 2's valid result is team 1's";
}

TEST_F(DaemonsTest, CanonicalResultCancelsUnsentResults) {
  FakeWorkunit spec;
  spec.min_quorum = 1;
  spec.target_nresults = 2;
  std::int64_t wu = server->create_workunit("extra", spec);
  server->transition();
  std::int64_t r = server->send_one(wu, 1);
  server->report_success(r, make_result_bundle("z"));
  server->transition();
  validator();
  auto rows = server->rows("SELECT server_state, outcome FROM result WHERE workunitid = ? AND id <> ?", {wu, r});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].integer(0), 5);
  EXPECT_EQ(rows[0].integer(1), 5);  // DIDNT_NEED
}

TEST_F(DaemonsTest, NoConsensusBeyondMaxSuccessErrorsTheWorkunit) {
  FakeWorkunit spec;
  spec.min_quorum = 2;
  spec.target_nresults = 2;
  spec.max_success_results = 2;
  std::int64_t wu = run_workunit("nocons", spec, {"p", "q"});
  validator();
  EXPECT_EQ(wu_value(wu, "error_mask"), 0);
  EXPECT_EQ(wu_value(wu, "target_nresults"), 3);
  server->transition();
  server->report_success(server->send_one(wu, 3), make_result_bundle("r"));
  server->transition();
  validator();
  EXPECT_EQ(wu_value(wu, "error_mask") & 4, 4);
  server->transition();
  EXPECT_EQ(wu_value(wu, "assimilate_state"), 1);
  assimilator();
  EXPECT_THAT(delivered(0, "nocons.error"), ::testing::StartsWith("error_mask 4: too many success results\n"));
}

TEST_F(DaemonsTest, ErrorResultsAndCancelledWorkunitsAreDeliveredAsErrors) {
  FakeWorkunit spec;
  spec.max_error_results = 1;
  std::int64_t failed = run_workunit("failing", spec, {""});
  server->transition();  // one error is allowed: a new result is made
  server->report_client_error(server->send_one(failed, 2));
  server->transition();
  EXPECT_EQ(wu_value(failed, "error_mask"), 2);
  std::int64_t cancelled = server->create_workunit("cancelled", {});
  server->transition();
  server->cancel_workunit(cancelled);
  server->transition();
  validator();
  assimilator();
  std::string text = delivered(0, "failing.error");
  EXPECT_THAT(text, ::testing::StartsWith("error_mask 2: too many errors\n"));
  EXPECT_THAT(text, HasSubstr("result failing_0: server_state 5, outcome 3"));
  EXPECT_THAT(delivered(0, "cancelled.error"), ::testing::StartsWith("error_mask 16: cancelled\n"));
  EXPECT_EQ(wu_value(cancelled, "assimilate_state"), 2);
  EXPECT_EQ(wu_value(failed, "assimilate_state"), 2);
}

// The delivery says which hosts ran what (mw/boinc/delivery_hosts.h): the
// canonical result's host for a result, the failed results' hosts for an
// error, with the host row's name, OS and CPU as the volunteer set them.
TEST_F(DaemonsTest, TheHostsOfCanonicalAndFailedResultsAreDeliveredWithTheResults) {
  server->db().execute("UPDATE host SET domain_name = ?, os_name = ?, p_model = ? WHERE id = 2",
                       {std::string("vol\ttwo\n<b>%41"), std::string("Linux Debian"), std::string("AMD Ryzen 7")});
  const std::int64_t batch = server->create_batch(2);
  FakeWorkunit spec;
  spec.batch = batch;
  const std::int64_t good = run_workunit("good", spec, {""});  // host 1 fails it
  server->report_success(server->send_one(good, 2), make_result_bundle("7\n"));
  server->transition();
  spec.max_error_results = 1;
  const std::int64_t bad = run_workunit("bad", spec, {""});
  server->report_client_error(server->send_one(bad, 3));
  server->transition();
  validator();
  assimilator();
  ASSERT_EQ(wu_value(good, "assimilate_state"), 2);
  ASSERT_EQ(wu_value(bad, "assimilate_state"), 2);
  boinc::DeliveredHostsReader hosts(server->deliver_dir() + "/" + std::to_string(batch) + "/mw_hosts.tsv");
  const auto of_good = hosts.take("good");
  ASSERT_EQ(of_good.size(), 1u);
  EXPECT_TRUE(of_good[0].canonical);
  EXPECT_EQ(of_good[0].hostid, 2);
  EXPECT_EQ(of_good[0].domain_name, "vol\ttwo\n<b>%41");
  EXPECT_EQ(of_good[0].os_name, "Linux Debian");
  EXPECT_EQ(of_good[0].p_model, "AMD Ryzen 7");
  const auto of_bad = hosts.take("bad");
  ASSERT_EQ(of_bad.size(), 2u);
  std::set<std::int64_t> failed_on;
  for (const auto& h : of_bad) {
    EXPECT_FALSE(h.canonical);
    failed_on.insert(h.hostid);
  }
  EXPECT_EQ(failed_on, (std::set<std::int64_t>{1, 3}));
  EXPECT_TRUE(hosts.take("good").empty());  // taken once
}

// An old delivery has no hosts file; a crash may leave a line cut short and
// the next pass deliver the same workunit again.
TEST(DeliveredHosts, CutLinesAreSkippedAndRedeliveriesCountOnce) {
  ScratchDir dir;
  const std::string path = dir / "mw_hosts.tsv";
  boinc::DeliveredHostsReader reader(path);
  EXPECT_TRUE(reader.take("wu_1").empty());
  boinc::DeliveredHost h;
  h.wu_name = "wu_1";
  h.canonical = true;
  h.hostid = 12345;
  h.domain_name = "a\tb";
  const std::string line = boinc::format_delivered_host(h);
  EXPECT_EQ(line, "wu_1\tcanonical\t12345\ta%09b\t\t\n");
  write_text(path, line.substr(0, 18));  // "wu_1\tcanonical\t123": killed mid-write
  boinc::append_delivered_hosts(path, line + line);
  const auto got = reader.take("wu_1");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].hostid, 12345);
  EXPECT_EQ(got[0].domain_name, "a\tb");
}

std::string zip_with(const std::vector<std::pair<std::string, std::string>>& members, bool store = false) {
  ScratchDir dir;
  std::string path = dir / "z.zip";
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  for (auto& [name, data] : members) {
    zip_source_t* src = zip_source_buffer(z, data.data(), data.size(), 0);
    zip_int64_t idx = zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE);
    if (store) zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
  }
  zip_close(z);
  return read_text(path);
}

std::string result_xml_for(const std::string& name, const std::string& bytes) {
  ResultManifest m;
  m.task_name = "task";
  m.exit_code = 0;
  m.outputs.push_back({name, bytes.size(), sha256_hex(bytes)});
  return result_to_xml(m);
}

TEST_F(DaemonsTest, HostileOutputsMakeTheirResultInvalidAndNeverStopTheValidator) {
  std::string zeros(60u << 20, '\0');
  std::map<std::string, std::string> hostile = {
      {"bomb", zip_with({{"result.xml", result_xml_for("out.txt", zeros)}, {"out.txt", zeros}})},
      {"escape", zip_with({{"result.xml", result_xml_for("out.txt", "x")}, {"out.txt", "x"}, {"../escaped", "x"}})},
      {"huge", std::string(3u << 20, 'h')},
      {"garbage", "PK\x03\x04 this is not a zip at all"},
      {"lying", zip_with({{"result.xml", result_xml_for("out.txt", "honest")}, {"out.txt", "liar!!"}})},
  };
  std::map<std::string, std::int64_t> wus;
  for (auto& [name, bytes] : hostile) {
    std::int64_t wu = server->create_workunit(name, {});
    server->transition();
    server->report_success(server->send_one(wu), bytes);
    wus[name] = wu;
  }
  std::int64_t missing = server->create_workunit("missing", {});
  server->transition();
  server->report_success(server->send_one(missing), "", /*upload=*/false);
  wus["missing"] = missing;
  std::int64_t fine = run_workunit("fine", {}, {"ok"});
  server->transition();
  auto out = validator({"--max-bundle-bytes", std::to_string(2u << 20)});
  for (auto& [name, wu] : wus) {
    auto r = server->rows("SELECT outcome, validate_state FROM result WHERE workunitid = ?", {wu});
    ASSERT_EQ(r.size(), 1u) << name;
    EXPECT_EQ(r[0].integer(0), 6) << name << " should be VALIDATE_ERROR\n" << out.err;
    EXPECT_EQ(r[0].integer(1), 2) << name;
    EXPECT_EQ(wu_value(wu, "canonical_resultid"), 0) << name;
    EXPECT_EQ(wu_value(wu, "need_validate"), 0) << name;
  }
  EXPECT_NE(wu_value(fine, "canonical_resultid"), 0);
  EXPECT_FALSE(fs::exists(fs::path(server->upload_dir()).parent_path() / "escaped"));
  EXPECT_THAT(out.err, HasSubstr("invalid"));
}

TEST_F(DaemonsTest, NumericToleranceAndExternalComparison) {
  FakeWorkunit spec;
  spec.min_quorum = 2;
  spec.target_nresults = 2;
  std::int64_t close = run_workunit("close", spec, {"1.0000000001 a\n", "1.0000000002 a\n"});
  validator();
  EXPECT_EQ(wu_value(close, "canonical_resultid"), 0) << "bitwise by default";
  server->transition();
  server->report_success(server->send_one(close, 3), make_result_bundle("1.0000000003 a\n"));
  server->transition();
  validator({"--numeric", "out.txt", "--rel-tol", "1e-6"});
  EXPECT_NE(wu_value(close, "canonical_resultid"), 0);
  EXPECT_EQ(validate_states(close), (std::vector<std::int64_t>{1, 1, 1}));

  // External program: says "equal" only when both outputs have the same length.
  ScratchDir tools;
  std::string cmd = tools / "same_length.sh";
  write_text(cmd,
             "#!/bin/sh\n"
             "[ \"$(wc -c < \"$1/out.txt\")\" -eq \"$(wc -c < \"$2/out.txt\")\" ] && exit 0\n"
             "exit 1\n");
  fs::permissions(cmd, fs::perms::owner_all);
  std::int64_t ext = run_workunit("external", spec, {"abc", "xyz"});
  validator({"--compare-cmd", cmd});
  EXPECT_NE(wu_value(ext, "canonical_resultid"), 0);
  std::int64_t ext2 = run_workunit("external2", spec, {"abc", "wxyz"});
  validator({"--compare-cmd", cmd});
  EXPECT_EQ(validate_states(ext2), (std::vector<std::int64_t>{4, 4}));

  // A broken or hanging comparison blames nobody: results untouched, retried later.
  std::string hang = tools / "hang.sh";
  write_text(hang, "#!/bin/sh\nexec sleep 30\n");
  fs::permissions(hang, fs::perms::owner_all);
  std::int64_t ext3 = run_workunit("external3", spec, {"abc", "abc"});
  auto started = std::chrono::steady_clock::now();
  auto out = validator({"--compare-cmd", hang, "--compare-timeout", "1"});
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(validate_states(ext3), (std::vector<std::int64_t>{0, 0}));
  EXPECT_EQ(wu_value(ext3, "need_validate"), 0);
  EXPECT_LE(wu_value(ext3, "transition_time"), std::time(nullptr) + 6 * 3600);
  EXPECT_THAT(out.err, HasSubstr("will retry"));
}

TEST_F(DaemonsTest, RedeliveryIsIdempotent) {
  std::int64_t wu = run_workunit("again", {}, {"same"});
  validator();
  assimilator();
  std::string first = delivered(0, "again.result");
  // As if the assimilator died after delivering but before its commit.
  server->db().execute("UPDATE workunit SET assimilate_state = 1 WHERE id = ?", {wu});
  assimilator();
  EXPECT_EQ(delivered(0, "again.result"), first);
  EXPECT_EQ(deliveries(list_tree(server->deliver_dir() + "/0")), std::vector<std::string>{"again.result"});
}

// The assimilator's durability barrier is really taken, and nothing is
// delivered or acknowledged past a failed one: with every sync under the
// pickup directory failing (tests/support/failing_sync_preload.c, a test
// double of a disk that cannot write back), no workunit is marked assimilated,
// no file is left in the pickup directory — neither a final one nor a temp
// one — and the log names the directory. The same run on a working disk then
// delivers everything.
TEST_F(DaemonsTest, AFailedDurabilityBarrierDeliversNothingAndMarksNothing) {
  std::int64_t batch = server->create_batch(3);
  FakeWorkunit spec;
  spec.batch = batch;
  std::vector<std::int64_t> wus;
  for (const char* name : {"sync_a", "sync_b", "sync_c"}) wus.push_back(run_workunit(name, spec, {"out"}));
  validator();
  const std::string pickup = fs::canonical(server->deliver_dir()).string();
  // env(1) runs the assimilator with the double preloaded (exec, no shell).
  // A sanitized build's runtime wants to come first; the double takes no part in that.
  const char* asan = std::getenv("ASAN_OPTIONS");
  auto r = run_command(with(with({"/usr/bin/env", std::string("LD_PRELOAD=") + MW_FAILING_SYNC_PRELOAD,
                                  "MW_TEST_FAIL_SYNC_UNDER=" + pickup,
                                  "ASAN_OPTIONS=" + std::string(asan ? asan : "") + ":verify_asan_link_order=0",
                                  MW_ASSIMILATOR},
                                 server->daemon_args()),
                            {"--one-pass", "-d", "3", "--deliver", server->deliver_dir()}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("[CRITICAL]"));
  EXPECT_THAT(r.err, HasSubstr(pickup + "/" + std::to_string(batch) + "'"));
  EXPECT_THAT(r.err, HasSubstr(std::strerror(EIO)));
  for (auto wu : wus) EXPECT_EQ(wu_value(wu, "assimilate_state"), 1) << wu;
  EXPECT_EQ(server->value("SELECT state FROM batch WHERE id = ?", {batch}), 1);
  EXPECT_EQ(deliveries(list_files(server->deliver_dir())), std::vector<std::string>{});
  EXPECT_EQ(list_files(server->project_dir() + "/results"), std::vector<std::string>{});

  assimilator();
  for (auto wu : wus) EXPECT_EQ(wu_value(wu, "assimilate_state"), 2) << wu;
  EXPECT_EQ(deliveries(list_files(server->deliver_dir())),
            (std::vector<std::string>{std::to_string(batch) + "/sync_a.result", std::to_string(batch) + "/sync_b.result",
                                      std::to_string(batch) + "/sync_c.result"}));
}

TEST_F(DaemonsTest, ReadyWithoutCanonicalResultIsDeliveredAsNoCanonical) {
  std::int64_t wu = server->create_workunit("orphan", {});
  // As BOINC's assimilator does for a READY workunit without canonical result and without errors.
  server->db().execute("UPDATE workunit SET assimilate_state = 1, transition_time = 2147483647 WHERE id = ?", {wu});
  assimilator();
  EXPECT_THAT(delivered(0, "orphan.error"), ::testing::StartsWith("error_mask 32: no canonical result\n"));
  EXPECT_EQ(wu_value(wu, "error_mask"), 32);
  EXPECT_EQ(wu_value(wu, "assimilate_state"), 2);
}

TEST_F(DaemonsTest, StopTriggersEndTheDaemonsWithinASecond) {
  ScratchDir logs;
  for (int how = 0; how < 2; ++how) {
    BackgroundProcess p(with(with({MW_VALIDATOR}, server->daemon_args()), {"-sleep_interval", "30"}),
                        logs / "v.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(p.running()) << read_text(logs / "v.log");
    if (how == 0)
      write_text(server->project_dir() + "/stop_daemons", "");
    else
      ::kill(p.pid(), SIGHUP);
    EXPECT_EQ(p.wait_for_exit(1.0), 0) << read_text(logs / "v.log");
    fs::remove(server->project_dir() + "/stop_daemons");
  }
  std::regex line(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{4} UTC mw-validator starting: app mw$)");
  std::istringstream in(read_text(logs / "v.log"));
  std::string first;
  std::getline(in, first);
  EXPECT_TRUE(std::regex_match(first, line)) << first;
}

TEST_F(DaemonsTest, SingleDashOptionsAndModAreAccepted) {
  auto r = run_command(with(with({MW_ASSIMILATOR}, server->daemon_args()),
                            {"-one_pass", "-d", "4", "-mod", "2", "1", "-deliver", server->deliver_dir()}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto bad = run_command(with(with({MW_ASSIMILATOR}, server->daemon_args()), {"--one-pass", "--mod", "2", "2", "--deliver", server->deliver_dir()}));
  EXPECT_EQ(bad.exit_code, 64) << "EX_USAGE: a wrong command line, as for every mwkit program";
  EXPECT_NE(bad.err.find("--mod"), std::string::npos) << bad.err;
}

// Many workunits; returns their ids.
std::vector<std::int64_t> many(FakeBoincServer& s, int n, const std::string& prefix) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(s.create_workunit(prefix + std::to_string(i), {}));
  s.transition();
  std::string bundle = make_result_bundle("same");
  for (auto id : ids) s.report_success(s.send_one(id), bundle);
  s.transition();
  return ids;
}

void expect_all_delivered_once(FakeBoincServer& s, const std::vector<std::int64_t>& ids, const std::string& prefix) {
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < ids.size(); ++i) expected.push_back(prefix + std::to_string(i) + ".result");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(deliveries(list_tree(s.deliver_dir() + "/0")), expected);
  EXPECT_EQ(s.value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2 AND canonical_resultid <> 0 "
                    "AND need_validate = 0"),
            static_cast<std::int64_t>(ids.size()));
  EXPECT_EQ(s.value("SELECT COUNT(*) FROM result WHERE validate_state = 1"), static_cast<std::int64_t>(ids.size()));
  EXPECT_EQ(s.value("SELECT COUNT(*) FROM workunit w JOIN result r ON r.id = w.canonical_resultid "
                    "WHERE r.workunitid <> w.id OR r.validate_state <> 1"), 0);
  std::string bundle = make_result_bundle("same");
  for (auto& name : expected) EXPECT_EQ(read_text(s.deliver_dir() + "/0/" + name).size(), bundle.size()) << name;
}

void wait_until(const std::function<bool()>& done, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

TEST_F(DaemonsTest, KillNineMidPassThenRestartDeliversEverythingExactlyOnce) {
  // Enough workunits that the assimilator (which commits up to 200 at a
  // time) is still mid-work after every kill.
  const int n = 1000;
  auto ids = many(*server, n, "k");
  ScratchDir logs;
  auto vargs = with(with({MW_VALIDATOR}, server->daemon_args()), {"--sleep", "0.2", "-d", "3"});
  auto aargs = with(with({MW_ASSIMILATOR}, server->daemon_args()),
                    {"--sleep", "0.2", "-d", "3", "--deliver", server->deliver_dir()});
  // Each round kills both daemons with SIGKILL as soon as the database shows
  // they are in the middle of the work (polled every millisecond).
  auto assimilated = [&] { return server->value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2"); };
  std::vector<std::int64_t> after_each_kill;
  for (int round = 0; round < 3 && assimilated() < n; ++round) {
    std::int64_t before = assimilated();
    BackgroundProcess v(vargs, logs / "v.log");
    BackgroundProcess a(aargs, logs / "a.log");
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (assimilated() <= before && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    v.kill_hard();
    a.kill_hard();
    after_each_kill.push_back(assimilated());
  }
  for (auto count : after_each_kill) std::cout << "assimilated when killed: " << count << " of " << n << "\n";
  ASSERT_GE(after_each_kill.size(), 2u);
  EXPECT_LT(after_each_kill[1], n) << "the kills should land mid-work";
  BackgroundProcess v(vargs, logs / "v.log");
  BackgroundProcess a(aargs, logs / "a.log");
  wait_until([&] { return assimilated() == n; }, 60);
  EXPECT_TRUE(v.running() && a.running());
  expect_all_delivered_once(*server, ids, "k");
}

// The credit columns a group of quorum-2 workunits (results from hosts 1 and
// 2, users 1 and 2, team 1) changes, in a fixed order.
std::vector<double> credit_columns(FakeBoincServer& s) {
  std::vector<double> out;
  for (const char* sql : {"SELECT total_credit, expavg_credit, expavg_time FROM host WHERE id IN (1, 2) ORDER BY id",
                          "SELECT total_credit, expavg_credit, expavg_time FROM user WHERE id IN (1, 2) ORDER BY id",
                          "SELECT total_credit, expavg_credit, expavg_time FROM team WHERE id = 1"})
    for (const auto& row : s.rows(sql))
      for (std::size_t i = 0; i < row.size(); ++i) out.push_back(row.real(i));
  return out;
}

// Six quorum-2 workunits whose two results agree (hosts 1 and 2).
std::vector<std::int64_t> agreeing_pairs(FakeBoincServer& s, const std::string& prefix) {
  FakeWorkunit spec;
  spec.min_quorum = 2;
  spec.target_nresults = 2;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(s.create_workunit(prefix + std::to_string(i), spec));
  s.transition();
  const std::string bundle = make_result_bundle("same");
  for (auto id : ids)
    for (std::int64_t host : {1, 2}) s.report_success(s.send_one(id, host), bundle);
  s.transition();
  return ids;
}

// Every workunit validated once: each of the 12 results VALID with 1 credit
// (rsc_fpops_est's), hosts and users 6 credits more than `before`, team 12.
void expect_credited_once(FakeBoincServer& s, const std::vector<double>& before) {
  EXPECT_EQ(s.value("SELECT COUNT(*) FROM workunit WHERE need_validate = 0 AND canonical_resultid <> 0 "
                    "AND assimilate_state = 1"),
            6);
  EXPECT_EQ(s.value("SELECT COUNT(*) FROM result WHERE validate_state = 1 AND granted_credit = 1"), 12);
  const auto after = credit_columns(s);
  ASSERT_EQ(after.size(), 15u);
  for (std::size_t row = 0; row < 5; ++row)
    EXPECT_DOUBLE_EQ(after[row * 3] - before[row * 3], row == 4 ? 12.0 : 6.0) << "total_credit of credit row " << row;
}

// One group (--threads 1: all six workunits in one transaction) whose last
// write fails on the fourth workunit's result, after the group's host, user
// and team credit were written: nothing of the group may stay.
TEST_F(DaemonsTest, AFailureInsideAGroupUndoesTheWholeGroupAndTheRetryCreditsOnce) {
  auto ids = agreeing_pairs(*server, "g");
  const auto before = credit_columns(*server);
  const std::int64_t victim = server->value("SELECT MIN(id) FROM result WHERE workunitid = ?", {ids[3]});
  server->db().execute("CREATE TRIGGER fail_result BEFORE UPDATE ON result FOR EACH ROW BEGIN "
                       "IF NEW.id = " + std::to_string(victim) + " AND NEW.validate_state = 1 THEN "
                       "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF; END");
  auto failed = run_command(with(with({MW_VALIDATOR}, server->daemon_args()),
                                 {"--one-pass", "-d", "3", "--threads", "1", "--group-size", "6"}));
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_THAT(failed.err, HasSubstr("injected failure"));
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM workunit WHERE need_validate = 1 AND canonical_resultid = 0"), 6);
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM result WHERE validate_state = 0 AND granted_credit = 0"), 12);
  EXPECT_EQ(credit_columns(*server), before);
  server->db().execute("DROP TRIGGER fail_result");
  validator({"--threads", "1", "--group-size", "6"});
  expect_credited_once(*server, before);
  validator({"--threads", "1", "--group-size", "6"});  // nothing left: nothing more credited
  expect_credited_once(*server, before);
}

// A lock conflict (deadlock) inside a group makes the server roll it back;
// the validator runs the group again from the rows as they are then, and
// credits each workunit once, not once per attempt.
TEST_F(DaemonsTest, AGroupLosingALockConflictIsRetriedAndCreditsOnce) {
  auto ids = agreeing_pairs(*server, "d");
  const auto before = credit_columns(*server);
  const std::int64_t victim = server->value("SELECT MIN(id) FROM result WHERE workunitid = ?", {ids[3]});
  // The count of failures left lives in a table the rollback leaves alone.
  server->db().execute("CREATE TABLE fail_once (n INT NOT NULL) ENGINE = MyISAM");
  server->db().execute("INSERT INTO fail_once VALUES (1)");
  server->db().execute("CREATE TRIGGER conflict_result BEFORE UPDATE ON result FOR EACH ROW BEGIN "
                       "IF NEW.id = " + std::to_string(victim) + " AND NEW.validate_state = 1 AND "
                       "(SELECT n FROM fail_once) > 0 THEN UPDATE fail_once SET n = n - 1; "
                       "SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'injected deadlock'; "
                       "END IF; END");
  auto r = validator({"--threads", "1", "--group-size", "6"});
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("database:"))) << "retried inside the pass";
  EXPECT_EQ(server->value("SELECT n FROM fail_once"), 0) << "the conflict happened";
  expect_credited_once(*server, before);
}

// Many hosts of four users, as on a real project: every group of 25
// workunits credits all four users, and neighbouring groups meet them in
// another order (users 1,2,3,4 against 3,4,1,2). Locked in the results'
// order, such groups deadlock; locked hosts, users, teams each in id order
// (bookkeeping.h, CreditOwners), never.
TEST_F(DaemonsTest, GroupsSharingUsersInAnyOrderNeverDeadlock) {
  constexpr int kHosts = 1000, kWorkunits = 1000;
  server->db().execute("SET SESSION sql_mode = ''");  // host columns not given take their zero values
  std::string hosts = "INSERT INTO host (id, userid, create_time, total_credit) VALUES ";
  for (int id = 5; id <= kHosts; ++id)
    hosts += (id == 5 ? "(" : ",(") + std::to_string(id) + "," + std::to_string((id - 1) % 4 + 1) + ",0,0)";
  server->db().execute(hosts);
  server->db().execute("SET SESSION sql_mode = DEFAULT");
  FakeWorkunit spec;
  spec.min_quorum = 2;
  spec.target_nresults = 2;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < kWorkunits; ++i) ids.push_back(server->create_workunit("s" + std::to_string(i), spec));
  server->transition();
  const std::string bundle = make_result_bundle("same");
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int64_t first = static_cast<std::int64_t>((2 * i) % kHosts) + 1;
    server->report_success(server->send_one(ids[i], first), bundle);
    server->report_success(server->send_one(ids[i], first % kHosts + 1), bundle);
  }
  server->transition();
  // Every result names an app version, so each group also makes and
  // changes host_app_version rows, between other groups' rows in the index.
  server->db().execute("INSERT INTO app_version (id, create_time, appid, version_num, platformid, xml_doc) "
                       "VALUES (1, 0, ?, 100, 1, '')",
                       {server->app_id()});
  server->db().execute("UPDATE result SET app_version_id = 1, elapsed_time = 3600 + id % 600, cpu_time = 3500, "
                       "flops_estimate = 1.2e9 WHERE appid = ?",
                       {server->app_id()});
  const double credit_before = server->rows("SELECT SUM(total_credit) FROM user")[0].real(0);
  const std::int64_t deadlocks_before = server->value("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                                      "WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'");
  auto r = validator({"--threads", "4", "--group-size", "25"});
  EXPECT_EQ(server->value("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                          "WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'") - deadlocks_before, 0)
      << "validator threads deadlocked on each other's rows";
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM workunit WHERE need_validate > 0"), 0) << r.err;
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM result WHERE validate_state = 1"), 2 * kWorkunits);
  EXPECT_NEAR(server->rows("SELECT SUM(total_credit) FROM user")[0].real(0) - credit_before,
              server->rows("SELECT SUM(granted_credit) FROM result")[0].real(0), 1e-6)
      << "each result's credit reaches its host's owner once";
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM host_app_version"), kHosts)
      << "one row per host for the app version";
}

TEST_F(DaemonsTest, DaemonsSurviveAMariaDbRestart) {
  auto first = many(*server, 5, "m");
  ScratchDir logs;
  BackgroundProcess v(with(with({MW_VALIDATOR}, server->daemon_args()), {"--sleep", "0.2"}), logs / "v.log");
  BackgroundProcess a(with(with({MW_ASSIMILATOR}, server->daemon_args()),
                           {"--sleep", "0.2", "--deliver", server->deliver_dir()}),
                      logs / "a.log");
  wait_until([&] { return server->value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2") == 5; }, 30);
  ASSERT_EQ(server->value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2"), 5);
  PrivateMariaDb::shared().restart(3);
  // The fixture's own connection reconnects between statements, as the daemons' do.
  auto second = many(*server, 5, "n");
  wait_until([&] { return server->value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2") == 10; }, 60);
  EXPECT_EQ(server->value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2"), 10)
      << read_text(logs / "v.log") << read_text(logs / "a.log");
  EXPECT_TRUE(v.running()) << read_text(logs / "v.log");
  EXPECT_TRUE(a.running()) << read_text(logs / "a.log");
  EXPECT_EQ(deliveries(list_tree(server->deliver_dir() + "/0")).size(), 10u);
  EXPECT_THAT(read_text(logs / "v.log") + read_text(logs / "a.log"), HasSubstr("re-established"));
}

TEST_F(DaemonsTest, LostDatabaseBeyondTheRetryTimeEndsTheDaemonWithStatusThree) {
  ScratchDir logs;
  BackgroundProcess v(with(with({MW_VALIDATOR}, server->daemon_args()), {"--sleep", "0.2", "--db-retry", "1"}),
                      logs / "v.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(v.running());
  PrivateMariaDb::shared().restart(6);
  EXPECT_EQ(v.wait_for_exit(10), 3) << read_text(logs / "v.log");
  EXPECT_THAT(read_text(logs / "v.log"), HasSubstr("bin/start --cron"));
}

std::set<std::int64_t> delivered_ids(const std::string& log) {
  std::set<std::int64_t> ids;
  std::regex re(R"(\[WU#(\d+) [^\]]*\] delivered)");
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, re)) ids.insert(std::stoll(m[1]));
  }
  return ids;
}

TEST_F(DaemonsTest, TwoAssimilatorsWithModNeverTouchTheSameWorkunit) {
  std::int64_t batch = server->create_batch(100);
  std::vector<std::int64_t> ids;
  FakeWorkunit spec;
  spec.batch = batch;
  for (int i = 0; i < 100; ++i) ids.push_back(server->create_workunit("d" + std::to_string(i), spec));
  server->transition();
  std::string bundle = make_result_bundle("same");
  for (auto id : ids) server->report_success(server->send_one(id), bundle);
  server->transition();
  validator();
  ScratchDir logs;
  std::vector<std::unique_ptr<BackgroundProcess>> procs;
  for (int i = 0; i < 2; ++i)
    procs.push_back(std::make_unique<BackgroundProcess>(
        with(with({MW_ASSIMILATOR}, server->daemon_args()),
             {"--sleep", "0.2", "-d", "3", "--mod", "2", std::to_string(i), "--deliver", server->deliver_dir()}),
        logs / ("a" + std::to_string(i) + ".log")));
  wait_until([&] { return server->value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2") == 100; }, 60);
  for (auto& p : procs) p->kill_hard();
  auto zero = delivered_ids(read_text(logs / "a0.log"));
  auto one = delivered_ids(read_text(logs / "a1.log"));
  EXPECT_EQ(zero.size() + one.size(), 100u);
  for (auto id : zero) EXPECT_EQ(id % 2, 0) << id;
  for (auto id : one) EXPECT_EQ(id % 2, 1) << id;
  EXPECT_EQ(server->value("SELECT state FROM batch WHERE id = ?", {batch}), 2);
  EXPECT_EQ(deliveries(list_tree(server->deliver_dir() + "/" + std::to_string(batch))).size(), 100u);
}

}  // namespace
}  // namespace mw::test
