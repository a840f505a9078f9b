// mw-status on a test project (tests/support/boinc_project.*) whose batches
// are written in known states: what it shows as JSON, metrics and table must
// be the counts inserted; the metrics must pass promtool; a database account
// with SELECT only must do; the daemons' health must be read as bin/status
// reads it (the lock in pid_HOST/) with the problems of their logs.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "boinc/batch_counts.h"
#include "boinc/daemon_state.h"
#include "boinc/status_indexes.h"
#include "support/boinc_project.h"
#include "support/boinc_rows.h"
#include "support/test_support.h"
#include "util/fs.h"

extern char** environ;

namespace mw {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using test::ResultRow;
using test::WorkunitRow;

// What a batch must show, built up as its workunits are inserted.
struct Expected {
  std::string name;
  std::int64_t workunits = 0, unsent = 0, in_progress = 0, valid = 0, waiting_validation = 0,
               waiting_assimilation = 0, assimilated = 0, delivered = 0, errors = 0;
  std::map<std::string, std::int64_t> error_reasons;
};

const std::map<std::int64_t, std::string> kReasonOfBit = {{1, "couldnt_send"}, {2, "too_many_errors"},
                                                         {4, "too_many_success"}, {8, "too_many_total"},
                                                         {16, "cancelled"}, {32, "no_canonical"}};

class StatusProject {
 public:
  explicit StatusProject(const std::string& db) : project(db), conn(project.server().connect(db)) {}

  std::int64_t add_batch(const std::string& name, std::int64_t app_id) {
    conn.execute("INSERT INTO batch (user_id, create_time, logical_start_time, logical_end_time, "
                 "est_completion_time, njobs, fraction_done, nerror_jobs, state, completion_time, credit_estimate, "
                 "credit_canonical, credit_total, name, app_id, project_state, description, expire_time) VALUES "
                 "(1, UNIX_TIMESTAMP() - 7200, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, " + conn.quote(name) + ", " +
                 std::to_string(app_id) + ", 0, '', 0)");
    const auto id = static_cast<std::int64_t>(mysql_insert_id(conn.get()));
    expected[id].name = name;
    return id;
  }

  // One workunit of `batch` in a state, with one result in `result_state`
  // (0: none), and what it adds to the batch's counts.
  void add(std::int64_t batch, const std::string& state, std::int64_t error_mask = 0, int assimilate_state = 0) {
    Expected& e = expected[batch];
    WorkunitRow w;
    w.id = ++next_wu;
    w.app_id = app_id();
    w.batch = batch;
    w.name = "wu_" + std::to_string(w.id);
    w.create_time = ::time(nullptr) - 3600;
    w.error_mask = error_mask;
    w.assimilate_state = assimilate_state;
    ResultRow r;
    r.id = ++next_result;
    r.workunit_id = w.id;
    r.app_id = app_id();
    r.batch = batch;
    r.name = w.name + "_0";
    r.server_state = 5;  // OVER
    r.outcome = 1;       // SUCCESS
    ++e.workunits;
    if (state == "unsent") {
      r.server_state = 2;
      r.outcome = 0;
      ++e.unsent;
    } else if (state == "in_progress") {
      r.server_state = 4;
      r.outcome = 0;
      ++e.in_progress;
    } else if (state == "waiting_validation") {
      w.need_validate = 1;
      ++e.waiting_validation;
    } else if (state == "waiting_assimilation") {
      w.canonical_resultid = r.id;
      w.assimilate_state = 1;
      ++e.valid;
      ++e.waiting_assimilation;
    } else if (state == "delivered") {
      w.canonical_resultid = r.id;
      w.assimilate_state = 2;
      ++e.valid;
      ++e.assimilated;
      ++e.delivered;
    } else if (state == "cancelled_after_validation") {  // a canonical result, yet failed: not delivered
      w.canonical_resultid = r.id;
      w.error_mask = 16;
      w.assimilate_state = 2;
      ++e.valid;
      ++e.errors;
      ++e.error_reasons["cancelled"];
      ++e.assimilated;
    } else if (state == "failed") {
      r.outcome = 3;  // CLIENT_ERROR
      ++e.errors;
      for (const auto& [bit, reason] : kReasonOfBit)
        if (error_mask & bit) ++e.error_reasons[reason];
      if (assimilate_state == 1) ++e.waiting_assimilation;
      if (assimilate_state == 2) ++e.assimilated;
    } else {
      FAIL() << "unknown state " << state;
    }
    conn.execute(test::workunit_insert_head() + values_of(w));
    conn.execute(test::result_insert_head() + values_of(r));
  }

  std::int64_t app_id() const { return project.app_id(); }

  test::BoincTestProject project;
  test::SqlConnection conn;
  std::map<std::int64_t, Expected> expected;
  std::int64_t next_wu = 0, next_result = 0;
};

test::CommandResult run_status(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {MW_STATUS};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv);
}

// `argv` with stdin from `input` (promtool check metrics reads stdin only).
test::CommandResult run_with_stdin(const std::vector<std::string>& argv, const std::string& input,
                                   const test::ScratchDir& dir) {
  test::write_text(dir / "stdin", input);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, (dir / "stdin").c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (dir / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, (dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  test::CommandResult r;
  if (posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ) == 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = test::read_text(dir / "stdout");
    r.err = test::read_text(dir / "stderr");
  }
  posix_spawn_file_actions_destroy(&fa);
  return r;
}

// A project with two batches of the app, one of another app, and workunits outside any batch.
class ProjectStatus : public ::testing::Test {
 protected:
  StatusProject p{"t_mw_status"};
  std::int64_t alpha = 0, hostile = 0;

  void SetUp() override {
    alpha = p.add_batch("alpha", p.app_id());
    for (int i = 0; i < 3; ++i) p.add(alpha, "unsent");
    for (int i = 0; i < 2; ++i) p.add(alpha, "in_progress");
    p.add(alpha, "waiting_validation");
    p.add(alpha, "waiting_assimilation");
    for (int i = 0; i < 4; ++i) p.add(alpha, "delivered");
    p.add(alpha, "failed", 16, 2);
    p.add(alpha, "cancelled_after_validation");
    hostile = p.add_batch("<script>document.title='owned'</script>", p.app_id());
    p.add(hostile, "failed", 2, 1);
    p.add(hostile, "failed", 2 | 32, 2);
    p.add(hostile, "unsent");
    p.add(hostile, "unsent");
    p.add(hostile, "delivered");
    p.add(0, "in_progress");
    p.expected[0].name = "(no batch)";
    // Another app's batch and workunit: not ours to show.
    p.conn.execute("INSERT INTO app (create_time, name, user_friendly_name, min_version, deprecated, beta) "
                   "VALUES (0, 'other', 'other', 0, 0, 0)");
    const auto other = static_cast<std::int64_t>(mysql_insert_id(p.conn.get()));
    const std::int64_t other_batch = p.add_batch("other_app_batch", other);
    WorkunitRow w;
    w.id = 1000;
    w.app_id = other;
    w.batch = other_batch;
    w.name = "other_wu";
    p.conn.execute(test::workunit_insert_head() + values_of(w));
    p.expected.erase(other_batch);
  }

  nlohmann::json status_json(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--project", p.project.dir(), "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_status(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  void expect_counts(const nlohmann::json& j) {
    ASSERT_EQ(j.at("schema"), "mwkit.project.status/1");
    ASSERT_EQ(j.at("batches").size(), p.expected.size()) << j.dump(1);
    for (const auto& b : j.at("batches")) {
      const std::int64_t id = b.at("id");
      ASSERT_EQ(p.expected.count(id), 1u) << "batch " << id << " should not be shown";
      const Expected& e = p.expected.at(id);
      SCOPED_TRACE("batch " + std::to_string(id));
      EXPECT_EQ(b.at("name"), e.name);
      EXPECT_EQ(b.at("workunits"), e.workunits);
      EXPECT_EQ(b.at("unsent_results"), e.unsent);
      EXPECT_EQ(b.at("in_progress_results"), e.in_progress);
      EXPECT_EQ(b.at("valid"), e.valid);
      EXPECT_EQ(b.at("waiting_validation"), e.waiting_validation);
      EXPECT_EQ(b.at("waiting_assimilation"), e.waiting_assimilation);
      EXPECT_EQ(b.at("assimilated"), e.assimilated);
      EXPECT_EQ(b.at("delivered"), e.delivered);
      EXPECT_EQ(b.at("errors").at("total"), e.errors);
      for (const auto& [bit, reason] : kReasonOfBit) {
        const auto it = e.error_reasons.find(reason);
        EXPECT_EQ(b.at("errors").at(reason), it == e.error_reasons.end() ? 0 : it->second) << reason;
      }
    }
  }

  std::int64_t total(std::int64_t Expected::*field) const {
    std::int64_t n = 0;
    for (const auto& [id, e] : p.expected) n += e.*field;
    return n;
  }
};

TEST_F(ProjectStatus, JsonShowsTheCountsInserted) {
  const auto j = status_json();
  expect_counts(j);
  EXPECT_EQ(j.at("app"), "mw");
  EXPECT_EQ(j.at("backlog").at("validate").at("workunits"), total(&Expected::waiting_validation));
  EXPECT_EQ(j.at("backlog").at("assimilate").at("workunits"), total(&Expected::waiting_assimilation));
  EXPECT_GE(j.at("backlog").at("validate").at("oldest_age_seconds").get<double>(), 0);
  // Alpha has assimilated workunits two hours after it was created: a pace and an ETA.
  for (const auto& b : j.at("batches")) {
    if (b.at("id") != alpha) continue;
    const Expected& e = p.expected.at(alpha);
    ASSERT_TRUE(b.at("throughput_per_hour").is_number());
    EXPECT_NEAR(b.at("throughput_per_hour").get<double>(), e.assimilated / 2.0, 0.05);
    EXPECT_NEAR(b.at("eta_seconds").get<double>(), (e.workunits - e.assimilated) / (e.assimilated / 2.0) * 3600, 120);
  }
}

TEST_F(ProjectStatus, AReadOnlyDatabaseUserIsEnough) {
  p.project.server().create_read_only_user("t_mw_status", "mw_status_ro", "ro_secret");
  test::ScratchDir dir;
  test::write_text(dir / "password", "ro_secret\n");
  // The account really is read-only.
  auto ro = test::run_command({"/usr/bin/mariadb", "--socket=" + p.project.server().socket_path(), "-u", "mw_status_ro",
                               "-pro_secret", "t_mw_status", "-e", "DELETE FROM workunit"});
  EXPECT_NE(ro.exit_code, 0) << "the read-only account could delete";
  expect_counts(status_json({"--db-user", "mw_status_ro", "--db-password-file", dir / "password"}));
  // information_schema shows it mwkit's indexes: it counts from them too.
  boinc::detail::add_status_indexes(*p.project.database());
  const auto indexed = status_json({"--db-user", "mw_status_ro", "--db-password-file", dir / "password"});
  EXPECT_EQ(indexed.at("counting").at("path"), "index");
  expect_counts(indexed);
  // A wrong password is refused, naming the database.
  test::write_text(dir / "password", "wrong\n");
  auto r = run_status({"--project", p.project.dir(), "--db-user", "mw_status_ro", "--db-password-file",
                       dir / "password"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("t_mw_status"));
}

// "name" -> value of the metric samples of `family` with label `key` = `value`.
std::map<std::string, double> samples(const std::string& text, const std::string& family, const std::string& batch,
                                      const std::string& key) {
  std::map<std::string, double> out;
  const std::regex line("^" + family + "\\{(.*)\\} (\\S+)$");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_match(l, m, line)) continue;
    const std::string labels = m[1];
    if (labels.find("batch=\"" + batch + "\"") == std::string::npos) continue;
    std::smatch k;
    if (std::regex_search(labels, k, std::regex(key + "=\"([a-z_]+)\""))) out[k[1]] = std::stod(m[2]);
  }
  return out;
}

TEST_F(ProjectStatus, MetricsShowTheCountsAndPassPromtool) {
  auto r = run_status({"--project", p.project.dir(), "--format", "metrics"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::ScratchDir dir;
  auto check = run_with_stdin({"promtool", "check", "metrics"}, r.out, dir);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << r.out;
  for (const auto& [id, e] : p.expected) {
    SCOPED_TRACE("batch " + std::to_string(id));
    auto wu = samples(r.out, "mwkit_project_workunits", std::to_string(id), "state");
    EXPECT_EQ(wu["total"], e.workunits);
    EXPECT_EQ(wu["valid"], e.valid);
    EXPECT_EQ(wu["waiting_validation"], e.waiting_validation);
    EXPECT_EQ(wu["waiting_assimilation"], e.waiting_assimilation);
    EXPECT_EQ(wu["assimilated"], e.assimilated);
    EXPECT_EQ(wu["delivered"], e.delivered);
    EXPECT_EQ(wu["error"], e.errors);
    auto res = samples(r.out, "mwkit_project_results", std::to_string(id), "state");
    EXPECT_EQ(res["unsent"], e.unsent);
    EXPECT_EQ(res["in_progress"], e.in_progress);
    auto reasons = samples(r.out, "mwkit_project_workunit_errors", std::to_string(id), "reason");
    for (const auto& [bit, reason] : kReasonOfBit) {
      const auto it = e.error_reasons.find(reason);
      EXPECT_EQ(reasons[reason], it == e.error_reasons.end() ? 0 : it->second) << reason;
    }
  }
  // The hostile name is a label value, quoted and escaped, not markup or a broken line.
  EXPECT_THAT(r.out, HasSubstr("name=\"<script>document.title='owned'</script>\""));
}

TEST_F(ProjectStatus, MetricsEscapeLabelValuesPromtoolWouldRefuse) {
  p.conn.execute("UPDATE batch SET name = 'quote \" back\\\\slash\nnewline' WHERE id = " + std::to_string(alpha));
  auto r = run_status({"--project", p.project.dir(), "--format", "metrics"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::ScratchDir dir;
  auto check = run_with_stdin({"promtool", "check", "metrics"}, r.out, dir);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_THAT(r.out, HasSubstr("name=\"quote \\\" back\\\\slash\\nnewline\""));
}

TEST_F(ProjectStatus, TableShowsEachBatchAndItsErrorReasons) {
  auto r = run_status({"--project", p.project.dir()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Expected& e = p.expected.at(alpha);
  // batch, name, state, workunits, unsent, in progress, valid, errors, assimilated, delivered
  EXPECT_THAT(r.out, testing::ContainsRegex(
                         std::to_string(alpha) + " +alpha +in progress +" + std::to_string(e.workunits) + " +" +
                         std::to_string(e.unsent) + " +" + std::to_string(e.in_progress) + " +" +
                         std::to_string(e.valid) + " +" + std::to_string(e.errors) + " +" +
                         std::to_string(e.assimilated) + " +" + std::to_string(e.delivered) + " "));
  EXPECT_THAT(r.out, HasSubstr("errors of batch " + std::to_string(hostile) + ": too many errors 2, no canonical result 1"));
  EXPECT_THAT(r.out, HasSubstr("NOT RUNNING  mw-validator"));
}

TEST_F(ProjectStatus, DaemonsAreJudgedByTheirLocksAndTheirLogsProblemsShown) {
  const std::string host = boinc::detail::short_hostname();
  std::string config = test::read_text(p.project.dir() + "/config.xml");
  config.replace(config.find("<daemons>\n</daemons>"), std::string("<daemons>\n</daemons>").size(),
                 "<daemons>\n<daemon><cmd>mw-validator -d 3 --app mw</cmd><output>mw-validator_mw.log</output>"
                 "<pid_file>mw-validator_mw.pid</pid_file></daemon>\n"
                 "<daemon><cmd>mw-assimilator --app mw</cmd><output>mw-assimilator_mw.log</output>"
                 "<pid_file>mw-assimilator_mw.pid</pid_file></daemon>\n</daemons>");
  test::write_text(p.project.dir() + "/config.xml", config);
  // The validator holds its lock, as under bin/start; the assimilator died, saying why.
  const std::string lock = p.project.dir() + "/pid_" + host + "/mw-validator_mw.log.lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(fd, F_SETLK, &fl), 0);
  test::write_text(p.project.dir() + "/log_" + host + "/mw-assimilator_mw.log",
                   "2026-12-02 03:00:00.0000 UTC  starting\n"
                   "2026-12-02 03:00:01.0000 UTC [warning] <b>slow</b> disk\n"
                   "2026-12-02 03:00:02.0000 UTC  assimilated wu_1\n"
                   "2026-12-02 03:00:03.0000 UTC [CRITICAL] lost the database: gone away\n");
  const auto j = status_json({"--log-lines", "2"});
  auto m = run_status({"--project", p.project.dir(), "--format", "metrics"});
  ::close(fd);
  ASSERT_EQ(j.at("daemons").size(), 2u);
  const auto& v = j.at("daemons")[0];
  const auto& a = j.at("daemons")[1];
  EXPECT_EQ(v.at("program"), "mw-validator");
  EXPECT_TRUE(v.at("running").get<bool>());
  EXPECT_EQ(v.at("pid"), ::getpid());
  EXPECT_EQ(a.at("program"), "mw-assimilator");
  EXPECT_FALSE(a.at("running").get<bool>());
  EXPECT_THAT(a.at("why").get<std::string>(), HasSubstr("lost the database"));
  EXPECT_EQ(a.at("recent_problems"), nlohmann::json::array({"2026-12-02 03:00:01.0000 UTC [warning] <b>slow</b> disk",
                                                            "2026-12-02 03:00:03.0000 UTC [CRITICAL] lost the database: gone away"}));
  EXPECT_THAT(m.out, HasSubstr("mwkit_project_daemon_up{app=\"mw\",program=\"mw-validator\",cmd=\"mw-validator -d 3 --app mw\"} 1\n"));
  EXPECT_THAT(m.out, HasSubstr("mwkit_project_daemon_up{app=\"mw\",program=\"mw-assimilator\",cmd=\"mw-assimilator --app mw\"} 0\n"));
}

// `mw-status --listen 127.0.0.1:0 ...` running until the object dies.
class Served {
 public:
  Served(const std::vector<std::string>& args, const test::ScratchDir& dir) : out_(dir / "served.out") {
    std::vector<std::string> argv = {MW_STATUS, "--listen", "127.0.0.1:0", "--max-age", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, (dir / "served.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, a[0], &fa, nullptr, a.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    const std::regex serving("serving http://([0-9.]+:[0-9]+)/");
    for (int i = 0; i < 300 && address_.empty(); ++i) {
      std::smatch m;
      const std::string text = mw::detail::path_exists(out_) ? test::read_text(out_) : "";
      if (std::regex_search(text, m, serving)) address_ = m[1];
      else ::usleep(50 * 1000);
    }
  }
  ~Served() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  const std::string& address() const { return address_; }

 private:
  std::string out_, address_;
  pid_t pid_ = 0;
};

// The DOM headless Chromium made of `url`, scripts run.
std::string rendered_dom(const std::string& url, const test::ScratchDir& dir) {
  auto r = test::run_command({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                              "--no-first-run", "--disable-background-networking", "--disable-component-update",
                              "--disable-sync", "--user-data-dir=" + (dir / "chromium-profile"), "--dump-dom",
                              "--virtual-time-budget=5000", url});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// The text of <td data-field="FIELD"> in the row <tr data-batch="ID">.
std::string rendered_cell(const std::string& dom, std::int64_t batch, const std::string& field) {
  const std::string row_start = "<tr data-batch=\"" + std::to_string(batch) + "\">";
  const auto at = dom.find(row_start);
  if (at == std::string::npos) return "(no row for batch " + std::to_string(batch) + ")";
  const auto end = dom.find("</tr>", at);
  const std::string row = dom.substr(at, end - at);
  std::smatch m;
  if (!std::regex_search(row, m, std::regex("<td data-field=\"" + field + "\"[^>]*>([^<]*)</td>")))
    return "(no cell " + field + ")";
  return m[1];
}

TEST_F(ProjectStatus, ThePageInChromiumShowsWhatStatusJsonSays) {
  test::ScratchDir dir;
  Served served({"--project", p.project.dir()}, dir);
  ASSERT_FALSE(served.address().empty()) << test::read_text(dir / "served.err");
  auto fetched = test::run_command({"/usr/bin/curl", "-sS", "--max-time", "10", "http://" + served.address() + "/status.json"});
  ASSERT_EQ(fetched.exit_code, 0) << fetched.err;
  const auto j = nlohmann::json::parse(fetched.out);
  const std::string dom = rendered_dom("http://" + served.address() + "/", dir);
  ASSERT_EQ(j.at("batches").size(), p.expected.size());
  for (const auto& b : j.at("batches")) {
    const std::int64_t id = b.at("id");
    SCOPED_TRACE("batch " + std::to_string(id));
    for (const char* field : {"workunits", "unsent_results", "in_progress_results", "valid", "assimilated",
                              "delivered"})
      EXPECT_EQ(rendered_cell(dom, id, field), std::to_string(b.at(field).get<std::int64_t>())) << field;
    EXPECT_EQ(rendered_cell(dom, id, "errors"), std::to_string(b.at("errors").at("total").get<std::int64_t>()));
  }
  // The hostile name is text in its cell: escaped markup, no script ran.
  EXPECT_EQ(rendered_cell(dom, hostile, "name"), "&lt;script&gt;document.title='owned'&lt;/script&gt;");
  EXPECT_THAT(dom, HasSubstr("<title>mwkit project status</title>"));
  EXPECT_THAT(dom, Not(HasSubstr("owned</title>")));
  // docs/project-status.png is this page: MW_STATUS_SCREENSHOT=PATH makes it again.
  if (const char* shot = std::getenv("MW_STATUS_SCREENSHOT")) {
    auto r = test::run_command({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                "--disable-sync", "--user-data-dir=" + (dir / "chromium-shot"), "--hide-scrollbars",
                                "--window-size=1700,560", "--virtual-time-budget=5000",
                                std::string("--screenshot=") + shot, "http://" + served.address() + "/"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
}

TEST_F(ProjectStatus, TheServedLookIsRenewedEveryMaxAge) {
  test::ScratchDir dir;
  Served served({"--project", p.project.dir()}, dir);
  ASSERT_FALSE(served.address().empty()) << test::read_text(dir / "served.err");
  std::string reply;
  auto alpha_workunits = [&] {
    reply = test::run_command({"/usr/bin/curl", "-sS", "--max-time", "10", "http://" + served.address() + "/status.json"}).out;
    const auto j = nlohmann::json::parse(reply);  // kept: the loop refers into it
    for (const auto& b : j.at("batches"))
      if (b.at("id").get<std::int64_t>() == alpha) return b.at("workunits").get<std::int64_t>();
    return std::int64_t{-1};
  };
  const std::int64_t before = alpha_workunits();
  EXPECT_EQ(before, p.expected.at(alpha).workunits) << reply;
  p.add(alpha, "unsent");
  std::int64_t now = before;
  for (int i = 0; i < 100 && now == before; ++i) {
    ::usleep(100 * 1000);
    now = alpha_workunits();
  }
  EXPECT_EQ(now, p.expected.at(alpha).workunits) << "the new workunit was never shown: " << reply;
}

TEST_F(ProjectStatus, ServingOffLoopbackNeedsAToken) {
  test::ScratchDir dir;
  auto r = run_status({"--project", p.project.dir(), "--listen", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("token"));
  test::write_text(dir / "token", "s3cret\n");
  Served served({"--project", p.project.dir(), "--token-file", dir / "token"}, dir);
  ASSERT_FALSE(served.address().empty()) << test::read_text(dir / "served.err");
  const std::string url = "http://" + served.address() + "/metrics";
  auto refused = test::run_command({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url});
  EXPECT_EQ(refused.out, "401");
  auto allowed = test::run_command({"/usr/bin/curl", "-sS", "-H", "Authorization: Bearer s3cret", url});
  EXPECT_THAT(allowed.out, HasSubstr("mwkit_project_workunits{"));
  // The page passes its ?token= on to status.json.
  const std::string dom = rendered_dom("http://" + served.address() + "/?token=s3cret", dir);
  EXPECT_EQ(rendered_cell(dom, alpha, "workunits"), std::to_string(p.expected.at(alpha).workunits));
}

// Issue 22: with mwkit's indexes the counts come from index entries alone;
// they must be exactly what reading the rows gives, for every state of the
// fixture, for the whole app (mw-status) and for each batch alone
// (mw-work-generator status).
std::vector<std::int64_t> flatten(const boinc::detail::BatchCounts& c) {
  std::vector<std::int64_t> v = {c.workunits,        c.valid,       c.errors,         c.waiting_validation,
                                 c.waiting_assimilation, c.assimilated, c.delivered, c.unsent_results,
                                 c.in_progress_results};
  v.insert(v.end(), c.error_bits.begin(), c.error_bits.end());
  return v;
}

std::map<std::int64_t, std::vector<std::int64_t>> flatten(const std::map<std::int64_t, boinc::detail::BatchCounts>& m) {
  std::map<std::int64_t, std::vector<std::int64_t>> out;
  for (const auto& [id, c] : m) out[id] = flatten(c);
  return out;
}

TEST_F(ProjectStatus, CountsFromMwkitsIndexesAreTheCountsOfTheRows) {
  using boinc::detail::CountPath;
  auto db = p.project.database();
  ASSERT_EQ(boinc::detail::count_path(*db), CountPath::scan);
  const auto scanned = flatten(boinc::detail::count_app_batches(*db, p.app_id(), CountPath::scan));
  std::map<std::int64_t, std::vector<std::int64_t>> scanned_each;
  for (const auto& [id, e] : p.expected)
    scanned_each[id] = flatten(boinc::detail::count_batch(*db, id, CountPath::scan).at(id));
  const auto before = status_json();
  EXPECT_EQ(before.at("counting").at("path"), "scan");

  boinc::detail::add_status_indexes(*db);
  boinc::detail::add_status_indexes(*db);  // twice: nothing more, no error
  ASSERT_EQ(boinc::detail::count_path(*db), CountPath::index);
  EXPECT_EQ(flatten(boinc::detail::count_app_batches(*db, p.app_id(), CountPath::index)), scanned);
  for (const auto& [id, e] : p.expected) {
    SCOPED_TRACE("batch " + std::to_string(id));
    auto one = boinc::detail::count_batch(*db, id, CountPath::index);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(flatten(one.at(id)), scanned_each.at(id));
  }
  const auto after = status_json();
  EXPECT_EQ(after.at("counting").at("path"), "index");
  EXPECT_EQ(after.at("counting").at("fix"), "");
  expect_counts(after);
  auto counts_only = [](nlohmann::json batches) {  // the pace moves with the clock
    for (auto& b : batches) b.erase("throughput_per_hour"), b.erase("eta_seconds");
    return batches;
  };
  EXPECT_EQ(counts_only(after.at("batches")), counts_only(before.at("batches")));
}

// The counting statements must read the index they were written for, and
// only it ("Using index": no row is read). EXPLAIN's `key` and `Extra`.
TEST_F(ProjectStatus, CountingReadsOnlyMwkitsIndexes) {
  auto db = p.project.database();
  boinc::detail::add_status_indexes(*db);
  db->execute("ANALYZE TABLE workunit, result");
  const auto queries = boinc::detail::count_app_queries(p.app_id(), boinc::detail::CountPath::index);
  ASSERT_EQ(queries.size(), std::size(boinc::detail::kStatusIndexes));
  for (std::size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE(queries[i].sql);
    auto plan = db->query("EXPLAIN " + queries[i].sql, queries[i].values);
    ASSERT_EQ(plan.size(), 1u);
    ASSERT_FALSE(plan[0].is_null(5));
    EXPECT_EQ(plan[0].text(5), boinc::detail::kStatusIndexes[i].name);  // key
    EXPECT_THAT(plan[0].text(3), AnyOf(Eq("ref"), Eq("range"))) << "a range of the index, not all of it";  // type
    ASSERT_FALSE(plan[0].is_null(9));
    EXPECT_THAT(plan[0].text(9), HasSubstr("Using index"));  // Extra
    // Grouped in index order: streamed, no temporary table or sort.
    EXPECT_THAT(plan[0].text(9), Not(HasSubstr("Using temporary")));
    EXPECT_THAT(plan[0].text(9), Not(HasSubstr("Using filesort")));
  }
}

TEST_F(ProjectStatus, WithoutMwkitsIndexesItSaysSoAndHowToAddThem) {
  auto j = status_json();
  EXPECT_EQ(j.at("counting").at("path"), "scan");
  EXPECT_EQ(j.at("counting").at("missing_indexes"),
            nlohmann::json::array({"workunit.mw_wu_batch_state", "result.mw_res_batch_state"}));
  EXPECT_THAT(j.at("counting").at("fix").get<std::string>(),
              HasSubstr("mw-project-setup install --project " + p.project.dir()));
  auto table = run_status({"--project", p.project.dir()});
  EXPECT_THAT(table.out, HasSubstr("SLOW PATH: "));
  auto metrics = run_status({"--project", p.project.dir(), "--format", "metrics"});
  EXPECT_THAT(metrics.out, HasSubstr("\nmwkit_project_status_indexed{app=\"mw\"} 0\n"));

  auto db = p.project.database();
  boinc::detail::add_status_indexes(*db);
  EXPECT_THAT(run_status({"--project", p.project.dir()}).out, Not(HasSubstr("SLOW PATH")));
  EXPECT_THAT(run_status({"--project", p.project.dir(), "--format", "metrics"}).out,
              HasSubstr("\nmwkit_project_status_indexed{app=\"mw\"} 1\n"));
}

TEST_F(ProjectStatus, AnAppNotInTheDatabaseIsAnErrorNamingIt) {
  auto r = run_status({"--project", p.project.dir(), "--app", "nosuch"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no app 'nosuch'"));
  EXPECT_THAT(r.err, Not(HasSubstr("\n\n")));
}

}  // namespace
}  // namespace mw
