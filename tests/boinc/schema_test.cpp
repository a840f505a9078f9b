// Tests of the private MariaDB fixture and of tests/boinc/schema.sql, with
// Debian's libsched 7.20.5 (BOINC's own server DB layer) as the oracle: if
// BOINC's INSERT, UPDATE, SELECT and bulk-insert statements work on our schema
// and the values come back, the schema is compatible with what BOINC writes.
//
// Golden rows: values transcribed from rows captured on a real BOINC server
// (shared/real-boinc-samples/rows-*.txt). GoldenSamplesTest checks the
// transcription against those files when they are present.
#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "boinc_db.h"
#include "error_numbers.h"
#include "mw/error.h"
#include "support/private_mariadb.h"

extern char** environ;

namespace mw::test {
namespace {

// ---------------------------------------------------------------------------
// Golden rows from a real BOINC server (BOINC master 8.3, MariaDB).
// ---------------------------------------------------------------------------

struct GoldenRow {
  std::string table;
  std::vector<std::pair<std::string, std::string>> columns;  // in the server's order
  // Assignments for NOT NULL columns the capture left out ("" = a complete
  // `select *` row, whose column list is the real table's).
  std::string missing = "";

  bool complete() const { return missing.empty(); }

  const std::string& at(const std::string& name) const {
    for (const auto& [column, value] : columns) {
      if (column == name) return value;
    }
    throw std::out_of_range("golden " + table + " row has no column " + name);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& column : columns) out.push_back(column.first);
    return out;
  }
};

// Workunit 6617 was made by libsched 7.20.5's create_work(), run by a real
// client, validated (quorum 1) and assimilated.

// rows-quorum1-wu6617.txt, first row: the workunit.
const GoldenRow kWorkunit6617 = {"workunit", {
    {"id", "6617"},
    {"create_time", "1795355880"},
    {"appid", "1"},
    {"name", "libsched_probe_1795355880"},
    {"xml_doc", R"~(<file_info>
    <name>probe_in.txt</name>
    <url>http://127.0.0.1/lab/download/384/probe_in.txt</url>
    <md5_cksum>19ecf9f7de13ae58c2b261ad68959e4c</md5_cksum>
    <nbytes>25</nbytes>
</file_info>
<workunit>
<file_ref>
    <file_name>probe_in.txt</file_name>
    <open_name>in</open_name>
    <copy_file/>
</file_ref>
<command_line>
--cpu_time 0
</command_line>
</workunit>)~"},
    {"batch", "0"},
    {"rsc_fpops_est", "1000000000"},
    {"rsc_fpops_bound", "1000000000000"},
    {"rsc_memory_bound", "100000000"},
    {"rsc_disk_bound", "100000000"},
    {"need_validate", "0"},
    {"canonical_resultid", "6617"},
    {"canonical_credit", "0.01000668726851852"},
    {"transition_time", "2147483647"},
    {"delay_bound", "86400"},
    {"error_mask", "0"},
    {"file_delete_state", "2"},
    {"assimilate_state", "2"},
    {"hr_class", "0"},
    {"opaque", "0"},
    {"min_quorum", "1"},
    {"target_nresults", "1"},
    {"max_error_results", "3"},
    {"max_total_results", "5"},
    {"max_success_results", "3"},
    {"result_template_file", "templates/uppercase_out"},
    {"priority", "0"},
    {"mod_time", "2026-11-22 13:58:57"},
    {"rsc_bandwidth_bound", "0"},
    {"fileset_id", "0"},
    {"app_version_id", "0"},
    {"transitioner_flags", "0"},
    {"size_class", "-1"},
    {"keywords", ""},
    {"app_version_num", "0"},
}};

// rows-quorum1-wu6617.txt, second row: its result.
const GoldenRow kResult6617 = {"result", {
    {"id", "6617"},
    {"create_time", "1795355882"},
    {"workunitid", "6617"},
    {"server_state", "5"},
    {"outcome", "1"},
    {"client_state", "5"},
    {"hostid", "1"},
    {"userid", "1"},
    {"report_deadline", "1795442306"},
    {"sent_time", "1795355906"},
    {"received_time", "1795355918"},
    {"name", "libsched_probe_1795355880_0"},
    {"cpu_time", "0.004593"},
    {"xml_doc_in", R"~(<file_info>
        <name>libsched_probe_1795355880_0_r1536815212_0</name>
        <generated_locally/>
        <upload_when_present/>
        <max_nbytes>5000000</max_nbytes>
        <url>http://127.0.0.1/lab_cgi/file_upload_handler</url>
    </file_info>
    <result>
        <file_ref>
            <file_name>libsched_probe_1795355880_0_r1536815212_0</file_name>
            <open_name>out</open_name>
        </file_ref>
    </result>)~"},
    {"xml_doc_out", R"~(<file_info><name>libsched_probe_1795355880_0_r1536815212_0</name>
    <nbytes>25.000000</nbytes>
    <max_nbytes>5000000.000000</max_nbytes>
    <md5_cksum>27dce9e4c3f08e07a95ba43a3da41bee</md5_cksum>
    <upload_url>http://127.0.0.1/lab_cgi/file_upload_handler</upload_url></file_info>)~"},
    {"stderr_out", R"~(
<core_client_version>7.20.5</core_client_version>
<![CDATA[
<stderr_txt>
2026-11-22 13:58:31 (11589): app started; CPU time 0.000000, flags:
2026-11-22 13:58:31 (11589): called boinc_finish(0)

</stderr_txt>
]]>
)~"},
    {"batch", "0"},
    {"file_delete_state", "2"},
    {"validate_state", "1"},
    {"claimed_credit", "0"},
    {"granted_credit", "0.01000668726851852"},
    {"opaque", "0"},
    {"random", "624635287"},
    {"app_version_num", "100"},
    {"appid", "1"},
    {"exit_status", "0"},
    {"teamid", "0"},
    {"priority", "0"},
    {"mod_time", "2026-11-22 13:58:57"},
    {"elapsed_time", "1.005323"},
    {"flops_estimate", "1000000000"},
    {"app_version_id", "1"},
    {"runtime_outlier", "1"},
    {"size_class", "-1"},
    {"peak_working_set_size", "0"},
    {"peak_swap_size", "0"},
    {"peak_disk_usage", "14549"},
}};

// rows-app-appversion-platform.txt: the app.
const GoldenRow kAppUppercase = {"app", {
    {"id", "1"},
    {"create_time", "1795353361"},
    {"name", "uppercase"},
    {"min_version", "0"},
    {"deprecated", "0"},
    {"user_friendly_name", "Uppercase (BOINC sample uc2)"},
    {"homogeneous_redundancy", "0"},
    {"weight", "1"},
    {"beta", "0"},
    {"target_nresults", "0"},
    {"min_avg_pfc", "1"},
    {"host_scale_check", "0"},
    {"homogeneous_app_version", "0"},
    {"non_cpu_intensive", "0"},
    {"locality_scheduling", "0"},
    {"n_size_classes", "0"},
    {"fraction_done_exact", "0"},
}};

// rows-app-appversion-platform.txt: the app version (signed xml_doc).
const GoldenRow kAppVersionUc2 = {"app_version", {
    {"id", "1"},
    {"create_time", "1795353362"},
    {"appid", "1"},
    {"version_num", "100"},
    {"platformid", "5"},
    {"xml_doc", R"~(<file_info>
    <name>uc2_1.0_x86_64-pc-linux-gnu</name>
    <url>http://127.0.0.1/lab/download/uc2_1.0_x86_64-pc-linux-gnu</url>
    <executable/>
    <file_signature>
1bb0207b8b882a2896ddbae9989007dc99cb4e659abc92d6d7ef6a6828bd451e
d9177210a812c575add7084b6553e4d40cfdf7553be688ee5cefca34d02e1d54
8242434c6180a885814698ad0d30b2eafae2d2edc9a510450deb071176a3d674
39006d76d6daa226daddd6075c21c40b6c56c73a81dbe9678c0fd88dc3d0de46
.
    </file_signature>
    <nbytes>3156888</nbytes>
</file_info>
<app_version>
    <app_name>uppercase</app_name>
    <version_num>100</version_num>
    <api_version>8.3.0</api_version>
<file_ref>
    <file_name>uc2_1.0_x86_64-pc-linux-gnu</file_name>
    <main_program/>
</file_ref>
</app_version>
)~"},
    {"min_core_version", "0"},
    {"max_core_version", "0"},
    {"deprecated", "0"},
    {"plan_class", ""},
    {"pfc_n", "0"},
    {"pfc_avg", "0"},
    {"pfc_scale", "0"},
    {"expavg_credit", "57.68752888992865"},
    {"expavg_time", "1795356432.513466"},
    {"beta", "0"},
}};

// rows-app-appversion-platform.txt: platform 5, captured with `select id, name, user_friendly_name, deprecated`.
const GoldenRow kPlatformX86_64Linux = {"platform", {
    {"id", "5"},
    {"name", "x86_64-pc-linux-gnu"},
    {"user_friendly_name", "Linux running on an AMD x86_64 or Intel EM64T CPU"},
    {"deprecated", "0"},
}, "`create_time` = 0"};

// rows-batch.txt, row 3: a completed batch made through the remote-submission RPCs.
const GoldenRow kBatchRpcT3 = {"batch", {
    {"id", "3"},
    {"user_id", "2"},
    {"create_time", "1795355179"},
    {"logical_start_time", "0"},
    {"logical_end_time", "0"},
    {"est_completion_time", "0"},
    {"njobs", "3"},
    {"fraction_done", "1"},
    {"nerror_jobs", "0"},
    {"state", "2"},
    {"completion_time", "1795355229"},
    {"credit_estimate", "0"},
    {"credit_canonical", "0.040022110648148"},
    {"credit_total", "0"},
    {"name", "rpc_batch_t3"},
    {"app_id", "1"},
    {"project_state", "0"},
    {"description", ""},
    {"expire_time", "0"},
}};

const std::vector<const GoldenRow*> kGoldenRows = {
    &kPlatformX86_64Linux, &kAppUppercase, &kAppVersionUc2,
    &kWorkunit6617,        &kResult6617,   &kBatchRpcT3};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

namespace fs = std::filesystem;

PrivateMariaDb& server() { return PrivateMariaDb::shared(); }

// "t_<suite>_<test>", lower case, usable as a database name.
std::string current_test_db() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string raw = std::string("t_") + info->test_suite_name() + "_" + info->name();
  std::string name;
  for (char c : raw) {
    unsigned char u = static_cast<unsigned char>(c);
    name += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_';
  }
  return name.substr(0, 64);
}

// "INSERT INTO table SET col='value', ..." for a golden row, minus `skip`.
std::string insert_statement(SqlConnection& conn, const GoldenRow& row,
                             const std::vector<std::string>& skip = {}) {
  std::string sql = "INSERT INTO `" + row.table + "` SET ";
  bool first = true;
  for (const auto& [column, value] : row.columns) {
    if (std::find(skip.begin(), skip.end(), column) != skip.end()) continue;
    sql += (first ? "`" : ", `") + column + "` = " + conn.quote(value);
    first = false;
  }
  if (!row.complete()) sql += ", " + row.missing;
  return sql;
}

// Copies `value` into one of BOINC's fixed-size char fields.
template <std::size_t N>
void put(char (&field)[N], const std::string& value) {
  if (value.size() >= N) {
    throw std::length_error("value of " + std::to_string(value.size()) +
                            " bytes does not fit a char[" + std::to_string(N) + "] field");
  }
  std::memcpy(field, value.c_str(), value.size() + 1);
}

int to_int(const std::string& s) { return std::stoi(s); }
double to_double(const std::string& s) { return std::stod(s); }

// The golden workunit's values in libsched's struct.
void fill_workunit(WORKUNIT& wu, const GoldenRow& g) {
  wu.clear();
  wu.create_time = to_int(g.at("create_time"));
  wu.appid = to_int(g.at("appid"));
  put(wu.name, g.at("name"));
  put(wu.xml_doc, g.at("xml_doc"));
  wu.batch = to_int(g.at("batch"));
  wu.rsc_fpops_est = to_double(g.at("rsc_fpops_est"));
  wu.rsc_fpops_bound = to_double(g.at("rsc_fpops_bound"));
  wu.rsc_memory_bound = to_double(g.at("rsc_memory_bound"));
  wu.rsc_disk_bound = to_double(g.at("rsc_disk_bound"));
  wu.need_validate = to_int(g.at("need_validate")) != 0;
  wu.canonical_resultid = to_int(g.at("canonical_resultid"));
  wu.canonical_credit = to_double(g.at("canonical_credit"));
  wu.transition_time = to_int(g.at("transition_time"));
  wu.delay_bound = to_int(g.at("delay_bound"));
  wu.error_mask = to_int(g.at("error_mask"));
  wu.file_delete_state = to_int(g.at("file_delete_state"));
  wu.assimilate_state = to_int(g.at("assimilate_state"));
  wu.hr_class = to_int(g.at("hr_class"));
  wu.opaque = to_double(g.at("opaque"));
  wu.min_quorum = to_int(g.at("min_quorum"));
  wu.target_nresults = to_int(g.at("target_nresults"));
  wu.max_error_results = to_int(g.at("max_error_results"));
  wu.max_total_results = to_int(g.at("max_total_results"));
  wu.max_success_results = to_int(g.at("max_success_results"));
  put(wu.result_template_file, g.at("result_template_file"));
  wu.priority = to_int(g.at("priority"));
  wu.rsc_bandwidth_bound = to_double(g.at("rsc_bandwidth_bound"));
  wu.fileset_id = to_int(g.at("fileset_id"));
  wu.app_version_id = to_int(g.at("app_version_id"));
  wu.transitioner_flags = to_int(g.at("transitioner_flags"));
  wu.size_class = to_int(g.at("size_class"));
  put(wu.keywords, g.at("keywords"));
  wu.app_version_num = to_int(g.at("app_version_num"));
}

// The golden result's values in libsched's struct.
void fill_result(RESULT& r, const GoldenRow& g) {
  r.clear();
  r.create_time = to_int(g.at("create_time"));
  r.workunitid = to_int(g.at("workunitid"));
  r.server_state = to_int(g.at("server_state"));
  r.outcome = to_int(g.at("outcome"));
  r.client_state = to_int(g.at("client_state"));
  r.hostid = to_int(g.at("hostid"));
  r.userid = to_int(g.at("userid"));
  r.report_deadline = to_int(g.at("report_deadline"));
  r.sent_time = to_int(g.at("sent_time"));
  r.received_time = to_int(g.at("received_time"));
  put(r.name, g.at("name"));
  r.cpu_time = to_double(g.at("cpu_time"));
  put(r.xml_doc_in, g.at("xml_doc_in"));
  put(r.xml_doc_out, g.at("xml_doc_out"));
  put(r.stderr_out, g.at("stderr_out"));
  r.batch = to_int(g.at("batch"));
  r.file_delete_state = to_int(g.at("file_delete_state"));
  r.validate_state = to_int(g.at("validate_state"));
  r.claimed_credit = to_double(g.at("claimed_credit"));
  r.granted_credit = to_double(g.at("granted_credit"));
  r.opaque = to_double(g.at("opaque"));
  r.random = to_int(g.at("random"));
  r.app_version_num = to_int(g.at("app_version_num"));
  r.appid = to_int(g.at("appid"));
  r.exit_status = to_int(g.at("exit_status"));
  r.teamid = to_int(g.at("teamid"));
  r.priority = to_int(g.at("priority"));
  r.elapsed_time = to_double(g.at("elapsed_time"));
  r.flops_estimate = to_double(g.at("flops_estimate"));
  r.app_version_id = to_int(g.at("app_version_id"));
  r.runtime_outlier = to_int(g.at("runtime_outlier")) != 0;
  r.size_class = to_int(g.at("size_class"));
  r.peak_working_set_size = to_double(g.at("peak_working_set_size"));
  r.peak_swap_size = to_double(g.at("peak_swap_size"));
  r.peak_disk_usage = to_double(g.at("peak_disk_usage"));
}

// Rows printed by the mariadb client's vertical format (\G): "   column: value",
// continuation lines belong to the value, "****" lines start a row, "-- " lines
// are the sample files' captions.
using VerticalRow = std::vector<std::pair<std::string, std::string>>;
std::vector<VerticalRow> parse_vertical_rows(std::string text) {
  static const std::regex key_line(R"(^ *([a-z_]+): ?(.*)$)");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  std::vector<VerticalRow> rows;
  bool in_row = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.rfind("***", 0) == 0) {
      rows.emplace_back();
      in_row = true;
    } else if (line.rfind("-- ", 0) == 0) {
      in_row = false;
    } else if (in_row && std::regex_match(line, m, key_line)) {
      rows.back().emplace_back(m[1], m[2]);
    } else if (in_row && !rows.back().empty()) {
      rows.back().back().second += "\n" + line;
    }
  }
  return rows;
}

// Name -> "U:cols" (unique) or "I:cols" for every index of `table`.
std::map<std::string, std::string> indexes_of(SqlConnection& conn, const std::string& db,
                                              const std::string& table) {
  std::map<std::string, std::string> out;
  for (const SqlRow& row : conn.rows(
           "SELECT INDEX_NAME AS n, MIN(NON_UNIQUE) AS nu,"
           " GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols"
           " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = " + conn.quote(db) +
           " AND TABLE_NAME = " + conn.quote(table) + " GROUP BY INDEX_NAME")) {
    out[row.at("n")] = (row.at("nu") == "0" ? "U:" : "I:") + row.at("cols");
  }
  return out;
}

// ---------------------------------------------------------------------------
// Fixtures: a fresh database with the schema; the same plus libsched's connection
// ---------------------------------------------------------------------------

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = current_test_db();
    server().create_database(db_);
    server().load_schema(db_, MW_BOINC_SCHEMA);
  }
  SqlConnection conn() { return server().connect(db_); }
  std::vector<SqlRow> rows(const std::string& sql) { return server().query_rows(db_, sql); }
  SqlRow one_row(const std::string& sql) {
    std::vector<SqlRow> all = rows(sql);
    if (all.size() != 1) {
      throw std::runtime_error(std::to_string(all.size()) + " rows, not 1, from: " + sql);
    }
    return all.front();
  }

  std::string db_;
};

class LibschedTest : public SchemaTest {
 protected:
  void SetUp() override {
    SchemaTest::SetUp();
    // BOINC's config.xml would say <db_host>127.0.0.1:PORT</db_host>.
    std::string name = db_;
    std::string host = server().host() + ":" + std::to_string(server().port());
    std::string user = server().user();
    std::string password = server().password();
    int rc = boinc_db.open(name.data(), host.data(), user.data(), password.data());
    ASSERT_EQ(rc, 0) << "libsched boinc_db.open(" << db_ << ", " << host << ", " << user
                     << ") failed: " << boinc_db.error_string();
    opened_ = true;
  }
  void TearDown() override {
    if (opened_) boinc_db.close();
  }

  static std::string db_error() { return boinc_db.error_string(); }
  static DB_ID_TYPE last_id() { return boinc_db.insert_id(); }

  // A minimal app row through libsched; returns its id.
  DB_ID_TYPE insert_app(const std::string& name) {
    auto app = std::make_unique<DB_APP>();
    app->clear();
    app->create_time = 1795353361;
    put(app->name, name);
    put(app->user_friendly_name, "App " + name);
    app->weight = 1;
    app->min_avg_pfc = 1;
    if (app->insert() != 0) throw std::runtime_error("DB_APP.insert: " + db_error());
    return last_id();
  }

  bool opened_ = false;
};

// ---------------------------------------------------------------------------
// The SQL splitter (no server needed)
// ---------------------------------------------------------------------------

TEST(SqlSplitterTest, SplitsAtSemicolonsOutsideQuotesAndComments) {
  const std::string text =
      "-- a comment; not a statement\n"
      "CREATE TABLE a (x VARCHAR(5) DEFAULT ';');  # trailing; comment\n"
      "/* block ; comment */ INSERT INTO a VALUES ('it''s;'), (\"\\\";\");\n"
      "SELECT `odd;name`, 1--1 FROM a;\n"
      "/* only a comment */ ;\n"
      "SELECT 2";
  std::vector<int> lines;
  std::vector<std::string> got = split_sql_statements(text, &lines);
  std::vector<std::string> want = {
      "CREATE TABLE a (x VARCHAR(5) DEFAULT ';')",
      "INSERT INTO a VALUES ('it''s;'), (\"\\\";\")",
      "SELECT `odd;name`, 1--1 FROM a",
      "SELECT 2"};
  EXPECT_EQ(got, want);
  EXPECT_EQ(lines, (std::vector<int>{2, 3, 4, 6}));
}

// ---------------------------------------------------------------------------
// The fixture: start-up, logins, isolation, clean-up
// ---------------------------------------------------------------------------

TEST(PrivateMariaDbTest, StartsQuicklyAndAcceptsLoginsOverSocketAndTcp) {
  PrivateMariaDb& db = server();
  std::cout << "[ mariadb  ] private server ready in " << db.start_seconds() << " s (port "
            << db.port() << ", " << db.directory() << ")\n";
  ::testing::Test::RecordProperty("server_start_seconds", std::to_string(db.start_seconds()));
  EXPECT_LT(db.start_seconds(), 30.0);

  SqlRow via_socket = db.connect(db.database()).rows("SELECT CURRENT_USER() AS u, DATABASE() AS d")[0];
  EXPECT_EQ(via_socket.at("u"), db.user() + "@localhost");
  EXPECT_EQ(via_socket.at("d"), db.database());
  SqlRow via_tcp = db.connect_tcp(db.database()).rows("SELECT CURRENT_USER() AS u")[0];
  EXPECT_EQ(via_tcp.at("u"), db.user() + "@127.0.0.1");
}

TEST(PrivateMariaDbTest, ChecksPasswordsBecauseGrantTablesAreOn) {
  PrivateMariaDb& db = server();
  auto try_login = [&](const std::string& user, const std::string& password) {
    MYSQL* m = mysql_init(nullptr);
    unsigned int tcp = MYSQL_PROTOCOL_TCP;
    mysql_options(m, MYSQL_OPT_PROTOCOL, &tcp);
    bool ok = mysql_real_connect(m, db.host().c_str(), user.c_str(), password.c_str(), nullptr,
                                 static_cast<unsigned>(db.port()), nullptr, 0) != nullptr;
    unsigned int err = mysql_errno(m);
    mysql_close(m);
    return ok ? 0u : err;
  };
  EXPECT_EQ(try_login(db.user(), db.password()), 0u);
  EXPECT_EQ(try_login(db.user(), db.password() + "x"), 1045u);  // access denied
  EXPECT_EQ(try_login("root", ""), 1045u);  // root exists only on the socket, with a password
}

TEST(PrivateMariaDbTest, RunsInItsOwnDirectoryNotTheSystemInstance) {
  PrivateMariaDb& db = server();
  SqlRow vars = db.query_rows("", "SELECT @@datadir AS datadir, @@socket AS sock, @@port AS port,"
                                  " @@bind_address AS bind, @@pid_file AS pidf")[0];
  EXPECT_EQ(vars.at("datadir").rfind(db.directory() + "/", 0), 0u) << vars.at("datadir");
  EXPECT_EQ(vars.at("sock"), db.socket_path());
  EXPECT_EQ(vars.at("port"), std::to_string(db.port()));
  EXPECT_NE(db.port(), 3306);
  EXPECT_EQ(vars.at("bind"), "127.0.0.1");
  EXPECT_EQ(vars.at("pidf").rfind(db.directory() + "/", 0), 0u) << vars.at("pidf");
  EXPECT_EQ(db.directory().find("/var/lib/mysql"), std::string::npos);
}

TEST(PrivateMariaDbTest, SecondServerRunsAlongsideAndCleansUpAfterItself) {
  PrivateMariaDb& first = server();
  std::string dir;
  pid_t pid = 0;
  {
    PrivateMariaDb second;
    dir = second.directory();
    pid = second.pid();
    EXPECT_NE(second.port(), first.port());
    EXPECT_NE(second.directory(), first.directory());
    EXPECT_NE(second.socket_path(), first.socket_path());
    ASSERT_GT(pid, 0);
    EXPECT_EQ(::kill(pid, 0), 0) << "the second server is not running";
    second.create_database("t_second");
    EXPECT_EQ(second.query_rows("t_second", "SELECT @@port AS p")[0].at("p"),
              std::to_string(second.port()));
    EXPECT_TRUE(fs::exists(dir));
  }
  EXPECT_FALSE(fs::exists(dir)) << dir << " was left behind";
  errno = 0;
  EXPECT_EQ(::kill(pid, 0), -1) << "pid " << pid << " still exists";
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(first.query_rows("", "SELECT 1 AS one")[0].at("one"), "1") << "first server hurt";
}

// Sets an environment variable for one scope and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The benchmarks' --db-root: the datadir on the file system a real server
// would keep it on, not wherever $TMPDIR points.
TEST(PrivateMariaDbTest, DatadirGoesUnderMwTestMariadbRootBeforeTmpdir) {
  std::string base = (fs::temp_directory_path() / "mwdbroot.XXXXXX").string();
  ASSERT_NE(::mkdtemp(base.data()), nullptr);
  std::string other = (fs::temp_directory_path() / "mwtmpdir.XXXXXX").string();
  ASSERT_NE(::mkdtemp(other.data()), nullptr);
  {
    // Given relative to the working directory, as `--db-root build/bench` is.
    ScopedEnv root("MW_TEST_MARIADB_ROOT", fs::relative(base).string());
    ScopedEnv tmpdir("TMPDIR", other);
    PrivateMariaDb db;
    EXPECT_EQ(db.directory().rfind(base + "/", 0), 0u) << db.directory();
    const std::string datadir = db.query_rows("", "SELECT @@datadir AS d")[0].at("d");
    EXPECT_EQ(datadir.rfind(base + "/", 0), 0u) << datadir;
    EXPECT_TRUE(fs::is_empty(other)) << "something went under $TMPDIR";
  }
  // A socket path that cannot fit is refused, naming the variable.
  {
    ScopedEnv root("MW_TEST_MARIADB_ROOT", base + "/" + std::string(70, 'd'));
    try {
      PrivateMariaDb db;
      ADD_FAILURE() << "a 70-character MW_TEST_MARIADB_ROOT was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("MW_TEST_MARIADB_ROOT"), std::string::npos) << e.what();
    }
  }
  fs::remove_all(base);
  fs::remove_all(other);
}

// Run by AnotherTestProcessGetsItsOwnServer in a child process of this binary.
TEST(PrivateMariaDbTest, DISABLED_ChildProcessUsesItsOwnServer) {
  const char* parent = std::getenv("MW_TEST_PARENT_MARIADB");  // "PORT:DIRECTORY"
  if (!parent) GTEST_SKIP() << "only run as a child of AnotherTestProcessGetsItsOwnServer";
  std::string spec = parent;
  int parent_port = std::stoi(spec.substr(0, spec.find(':')));
  std::string parent_dir = spec.substr(spec.find(':') + 1);
  PrivateMariaDb& mine = server();
  EXPECT_NE(mine.port(), parent_port);
  EXPECT_NE(mine.directory(), parent_dir);
  mine.create_database("t_same_name");  // the parent holds a database of this name too
  SqlConnection c = mine.connect("t_same_name");
  c.execute("CREATE TABLE marker (who VARCHAR(10) NOT NULL)");
  c.execute("INSERT INTO marker VALUES ('child')");
}

TEST(PrivateMariaDbTest, AnotherTestProcessGetsItsOwnServer) {
  PrivateMariaDb& mine = server();
  mine.create_database("t_same_name");
  {
    SqlConnection c = mine.connect("t_same_name");
    c.execute("CREATE TABLE marker (who VARCHAR(10) NOT NULL)");
    c.execute("INSERT INTO marker VALUES ('parent')");
  }
  std::string self = fs::read_symlink("/proc/self/exe");
  std::vector<std::string> args = {
      self, "--gtest_also_run_disabled_tests",
      "--gtest_filter=PrivateMariaDbTest.DISABLED_ChildProcessUsesItsOwnServer"};
  std::vector<std::string> env = {"MW_TEST_PARENT_MARIADB=" + std::to_string(mine.port()) + ":" +
                                  mine.directory()};
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "MW_TEST_PARENT_MARIADB=", 23) != 0) env.emplace_back(*e);
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t child = 0;
  ASSERT_EQ(::posix_spawn(&child, self.c_str(), nullptr, nullptr, argv.data(), envp.data()), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child test process died, wait status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child test process failed (its output is above)";
  auto marker = mine.query_rows("t_same_name", "SELECT who FROM marker");
  ASSERT_EQ(marker.size(), 1u);
  EXPECT_EQ(marker[0].at("who"), "parent") << "the child wrote into our server";
}

TEST(PrivateMariaDbTest, LoadSchemaNamesTheFailingStatementAndLine) {
  PrivateMariaDb& db = server();
  db.create_database("t_bad_schema");
  fs::path file = fs::temp_directory_path() /
                  ("mw-bad-schema-" + std::to_string(::getpid()) + ".sql");
  std::ofstream(file) << "CREATE TABLE fine (id INT);\n\n-- next one is wrong\nCREATE TABLEX oops;\n";
  try {
    db.load_schema("t_bad_schema", file.string());
    ADD_FAILURE() << "load_schema accepted a broken statement";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(file.string() + ":4: statement 2"), std::string::npos) << what;
    EXPECT_NE(what.find("CREATE TABLEX oops"), std::string::npos) << what;
  }
  fs::remove(file);
  EXPECT_THROW(db.load_schema("t_bad_schema", "/nonexistent/schema.sql"), Error);
  EXPECT_THROW(db.create_database("bad name; DROP"), Error);
}

// ---------------------------------------------------------------------------
// The schema itself
// ---------------------------------------------------------------------------

TEST_F(SchemaTest, HasEveryTableMwkitNeeds) {
  std::vector<std::string> tables;
  for (const SqlRow& row : rows("SELECT TABLE_NAME AS t FROM information_schema.TABLES"
                                " WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1")) {
    tables.push_back(row.at("t"));
  }
  for (const char* want : {"app", "app_version", "batch", "host", "host_app_version", "job_file",
                           "platform", "result", "team", "user", "user_submit",
                           "user_submit_app", "workunit"}) {
    EXPECT_NE(std::find(tables.begin(), tables.end(), want), tables.end()) << "no table " << want;
  }
  for (const SqlRow& row : rows("SELECT TABLE_NAME AS t, ENGINE AS e FROM information_schema.TABLES"
                                " WHERE TABLE_SCHEMA = DATABASE()")) {
    EXPECT_EQ(row.at("e"), "InnoDB") << row.at("t");
  }
}

TEST_F(SchemaTest, ServerIsStrictSoMissingNotNullColumnsAreErrors) {
  SqlConnection c = conn();
  for (const char* scope : {"GLOBAL", "SESSION"}) {
    std::string mode = c.rows(std::string("SELECT @@") + scope + ".sql_mode AS m")[0].at("m");
    EXPECT_NE(mode.find("STRICT_TRANS_TABLES"), std::string::npos) << scope << " sql_mode " << mode;
  }
  auto error_of = [&](const std::string& sql) {
    return mysql_real_query(c.get(), sql.data(), sql.size()) == 0 ? 0u : mysql_errno(c.get());
  };
  // 1364 = ER_NO_DEFAULT_FOR_FIELD: every NOT NULL column without a default must be named.
  EXPECT_EQ(error_of("INSERT INTO workunit (name, appid) VALUES ('w', 1)"), 1364u);
  EXPECT_EQ(error_of("INSERT INTO result (name, workunitid) VALUES ('r', 1)"), 1364u);
  EXPECT_EQ(error_of("INSERT INTO batch (name) VALUES ('b')"), 1364u);
  // 1406 = ER_DATA_TOO_LONG: no silent truncation of names.
  EXPECT_EQ(error_of(insert_statement(c, kPlatformX86_64Linux, {"id", "name"}) + ", name = '" +
                     std::string(192, 'x') + "'"),
            1406u);
  // The complete real row is accepted.
  EXPECT_EQ(error_of(insert_statement(c, kWorkunit6617)), 0u) << mysql_error(c.get());
}

// workunit/result: the only nullable columns and the only defaults are BOINC's,
// so an INSERT must name every other column, as on a real project.
TEST_F(SchemaTest, WorkunitAndResultDeclareNullsAndDefaultsLikeBoinc) {
  struct Expect {
    const char* table;
    std::vector<std::string> nullable;
    std::vector<std::string> with_default;  // besides the AUTO_INCREMENT id
  };
  const std::vector<Expect> expected = {
      {"workunit", {"mod_time", "xml_doc"}, {"mod_time", "size_class"}},
      {"result", {"mod_time", "stderr_out", "xml_doc_in", "xml_doc_out"}, {"mod_time", "size_class"}},
      {"batch", {}, {}},
  };
  for (const Expect& e : expected) {
    std::vector<std::string> nullable, with_default;
    for (const SqlRow& col : rows(
             "SELECT COLUMN_NAME AS c, IS_NULLABLE AS n, COLUMN_DEFAULT AS d, EXTRA AS x"
             " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
             " AND TABLE_NAME = '" + std::string(e.table) + "' ORDER BY COLUMN_NAME")) {
      if (col.at("n") == "YES") nullable.push_back(col.at("c"));
      bool has_default = col.count("d") && col.at("d") != "NULL";
      if (has_default) with_default.push_back(col.at("c"));
    }
    EXPECT_EQ(nullable, e.nullable) << e.table;
    EXPECT_EQ(with_default, e.with_default) << e.table;
  }
  EXPECT_EQ(one_row("SELECT COLUMN_DEFAULT AS d FROM information_schema.COLUMNS"
                    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'workunit'"
                    " AND COLUMN_NAME = 'size_class'").at("d"),
            "-1");
}

TEST_F(SchemaTest, DeclaresBoincsUniqueKeysAndIndexes) {
  SqlConnection c = conn();
  const std::map<std::string, std::map<std::string, std::string>> expected = {
      {"platform", {{"name", "U:name"}}},
      {"app", {{"name", "U:name"}}},
      {"app_version", {{"apvp", "U:appid,platformid,version_num,plan_class"}}},
      {"user", {{"authenticator", "U:authenticator"}, {"email_addr", "U:email_addr"},
                {"ind_tid", "I:teamid"}}},
      {"team", {{"name", "U:name"}}},
      {"host_app_version", {{"hap", "U:host_id,app_version_id"}}},
      {"workunit", {{"PRIMARY", "U:id"}, {"name", "U:name"},
                    {"wu_val", "I:appid,need_validate"}, {"wu_timeout", "I:transition_time"},
                    {"wu_filedel", "I:file_delete_state"},
                    {"wu_assim", "I:appid,assimilate_state"}, {"wu_batch", "I:batch"}}},
      {"result", {{"PRIMARY", "U:id"}, {"name", "U:name"}, {"res_wuid", "I:workunitid"},
                  {"ind_res_st", "I:server_state,priority"},
                  {"res_app_state", "I:appid,server_state"},
                  {"res_filedel", "I:file_delete_state"}, {"res_batch", "I:batch"},
                  {"res_hostid_id", "I:hostid,id"}}},
      {"batch", {{"PRIMARY", "U:id"}}},
      {"user_submit", {{"PRIMARY", "U:user_id"}}},
      {"user_submit_app", {{"PRIMARY", "U:user_id,app_id"}}},
      {"job_file", {{"jf_name", "U:name"}}},
  };
  for (const auto& [table, want] : expected) {
    std::map<std::string, std::string> have = indexes_of(c, db_, table);
    for (const auto& [name, spec] : want) {
      auto it = have.find(name);
      if (it == have.end()) {
        ADD_FAILURE() << table << " has no index " << name << " (" << spec << ")";
      } else {
        EXPECT_EQ(it->second, spec) << table << "." << name;
      }
    }
  }
  // The unique keys bite.
  auto error_of = [&](const std::string& sql) {
    return mysql_real_query(c.get(), sql.data(), sql.size()) == 0 ? 0u : mysql_errno(c.get());
  };
  ASSERT_EQ(error_of(insert_statement(c, kWorkunit6617)), 0u) << mysql_error(c.get());
  EXPECT_EQ(error_of(insert_statement(c, kWorkunit6617, {"id"})), 1062u);  // same name
  ASSERT_EQ(error_of(insert_statement(c, kAppVersionUc2)), 0u) << mysql_error(c.get());
  EXPECT_EQ(error_of(insert_statement(c, kAppVersionUc2, {"id"})), 1062u);  // same apvp
}

// BOINC reads `select *` rows by position and bulk-inserts workunits and results
// with positional VALUES lists, so the column lists must equal a real server's.
TEST_F(SchemaTest, ColumnsAreExactlyARealServersInTheSameOrder) {
  SqlConnection c = conn();
  for (const GoldenRow* g : kGoldenRows) {
    if (!g->complete()) continue;
    EXPECT_EQ(c.columns("SELECT * FROM `" + g->table + "` LIMIT 0"), g->names())
        << "columns of " << g->table;
  }
}

TEST_F(SchemaTest, RealRowsReadBackColumnByColumn) {
  SqlConnection c = conn();
  for (const GoldenRow* g : kGoldenRows) {
    c.execute(insert_statement(c, *g));
    std::vector<SqlRow> back =
        c.rows("SELECT * FROM `" + g->table + "` WHERE id = " + g->at("id"));
    ASSERT_EQ(back.size(), 1u) << g->table;
    for (const auto& [column, value] : g->columns) {
      ASSERT_TRUE(back[0].count(column)) << g->table << "." << column << " is NULL";
      EXPECT_EQ(back[0].at(column), value) << g->table << "." << column;
    }
  }
}

TEST(GoldenSamplesTest, EmbeddedRowsMatchTheSharedSampleFiles) {
  // shared/ sits beside the repository (as in CI: ../shared from the repository root).
  const char* env = std::getenv("MW_BOINC_SAMPLES");
  fs::path dir = env ? fs::path(env) : fs::path(MW_SOURCE_DIR) / ".." / "shared" / "real-boinc-samples";
  if (!fs::exists(dir / "rows-quorum1-wu6617.txt")) {
    const char* ci = std::getenv("CI");
    if (ci && *ci) FAIL() << "sample files not found in " << dir << " (CI has ../shared beside the repository)";
    GTEST_SKIP() << "sample files not found in " << dir << " (set MW_BOINC_SAMPLES)";
  }
  auto load = [&](const char* name) {
    std::ifstream in(dir / name, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_vertical_rows(text.str());
  };
  auto quorum1 = load("rows-quorum1-wu6617.txt");
  auto apps = load("rows-app-appversion-platform.txt");
  auto batches = load("rows-batch.txt");
  ASSERT_EQ(quorum1.size(), 2u);
  ASSERT_GE(apps.size(), 3u);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(quorum1[0], kWorkunit6617.columns);
  EXPECT_EQ(quorum1[1], kResult6617.columns);
  EXPECT_EQ(apps[0], kAppUppercase.columns);
  EXPECT_EQ(apps[1], kAppVersionUc2.columns);
  EXPECT_EQ(batches[2], kBatchRpcT3.columns);
  bool found_platform = false;
  for (std::size_t i = 2; i < apps.size(); ++i) {
    if (apps[i] == kPlatformX86_64Linux.columns) found_platform = true;
  }
  EXPECT_TRUE(found_platform);
}

// ---------------------------------------------------------------------------
// libsched 7.20.5 as the oracle
// ---------------------------------------------------------------------------

TEST_F(LibschedTest, ConnectsOverTcpAsBoincadmInStrictMode) {
  ASSERT_EQ(mysql_query(boinc_db.mysql, "SELECT CURRENT_USER(), @@SESSION.sql_mode"), 0)
      << db_error();
  MYSQL_RES* res = mysql_store_result(boinc_db.mysql);
  ASSERT_NE(res, nullptr);
  MYSQL_ROW row = mysql_fetch_row(res);
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(std::string(row[0]), server().user() + "@127.0.0.1");
  EXPECT_NE(std::string(row[1]).find("STRICT_TRANS_TABLES"), std::string::npos) << row[1];
  mysql_free_result(res);
}

TEST_F(LibschedTest, PlatformAppAndAppVersionRoundTrip) {
  auto platform = std::make_unique<DB_PLATFORM>();
  platform->clear();
  platform->create_time = 1795353361;
  put(platform->name, kPlatformX86_64Linux.at("name"));
  put(platform->user_friendly_name, kPlatformX86_64Linux.at("user_friendly_name"));
  ASSERT_EQ(platform->insert(), 0) << db_error();
  DB_ID_TYPE platform_id = last_id();

  auto app = std::make_unique<DB_APP>();
  app->clear();
  app->create_time = 1795353361;
  put(app->name, "uppercase");
  put(app->user_friendly_name, kAppUppercase.at("user_friendly_name"));
  app->weight = 2.5;
  app->min_avg_pfc = 1;
  app->target_nresults = 2;
  app->n_size_classes = 3;
  app->fraction_done_exact = true;
  ASSERT_EQ(app->insert(), 0) << db_error();
  DB_ID_TYPE app_id = last_id();

  auto version = std::make_unique<DB_APP_VERSION>();
  version->clear();
  version->create_time = 1795353362;
  version->appid = app_id;
  version->version_num = 100;
  version->platformid = platform_id;
  put(version->xml_doc, kAppVersionUc2.at("xml_doc"));
  put(version->plan_class, "mt");
  version->pfc_scale = 1.25;
  version->expavg_credit = 57.68752888992865;
  version->expavg_time = 1795356432.513466;
  version->beta = true;
  ASSERT_EQ(version->insert(), 0) << db_error();
  DB_ID_TYPE version_id = last_id();
  EXPECT_NE(version->insert(), 0) << "a second (app, platform, version, plan class) was accepted";

  auto p = std::make_unique<DB_PLATFORM>();
  ASSERT_EQ(p->lookup("where name='x86_64-pc-linux-gnu'"), 0) << db_error();
  EXPECT_EQ(p->id, platform_id);
  EXPECT_STREQ(p->user_friendly_name, kPlatformX86_64Linux.at("user_friendly_name").c_str());
  EXPECT_EQ(p->create_time, 1795353361);

  auto a = std::make_unique<DB_APP>();
  ASSERT_EQ(a->lookup_id(app_id), 0) << db_error();
  EXPECT_STREQ(a->name, "uppercase");
  EXPECT_DOUBLE_EQ(a->weight, 2.5);
  EXPECT_EQ(a->target_nresults, 2);
  EXPECT_EQ(a->n_size_classes, 3);
  EXPECT_TRUE(a->fraction_done_exact);
  EXPECT_FALSE(a->deprecated);

  auto v = std::make_unique<DB_APP_VERSION>();
  ASSERT_EQ(v->lookup_id(version_id), 0) << db_error();
  EXPECT_EQ(v->appid, app_id);
  EXPECT_EQ(v->platformid, platform_id);
  EXPECT_EQ(v->version_num, 100);
  EXPECT_EQ(std::string(v->xml_doc), kAppVersionUc2.at("xml_doc"));
  EXPECT_STREQ(v->plan_class, "mt");
  EXPECT_DOUBLE_EQ(v->pfc_scale, 1.25);
  EXPECT_DOUBLE_EQ(v->expavg_credit, 57.68752888992865);
  EXPECT_DOUBLE_EQ(v->expavg_time, 1795356432.513466);
  EXPECT_TRUE(v->beta);
}

TEST_F(LibschedTest, UserTeamAndHostRoundTripAndTakeCreditUpdates) {
  auto user = std::make_unique<DB_USER>();
  user->clear();
  user->create_time = 1795354000;
  put(user->email_addr, "submitter@example.org");
  put(user->name, "submitter");
  put(user->authenticator, "0123456789abcdef0123456789abcdef");
  put(user->passwd_hash, "5f4dcc3b5aa765d61d8327deb882cf99");
  put(user->cross_project_id, "fedcba9876543210fedcba9876543210");
  put(user->venue, "home");
  user->total_credit = 12.5;
  user->expavg_credit = 0.75;
  user->expavg_time = 1795354000.25;
  user->seti_id = 1;  // reused by remote submission: "run my jobs on my hosts only"
  ASSERT_EQ(user->insert(), 0) << db_error();
  DB_ID_TYPE user_id = last_id();

  auto team = std::make_unique<DB_TEAM>();
  team->clear();
  team->create_time = 1795354001;
  team->userid = user_id;
  put(team->name, "mwkit testers");
  put(team->name_lc, "mwkit testers");
  put(team->description, "A team for tests");
  team->type = 1;
  team->nusers = 1;
  team->expavg_time = 1795354001;
  ASSERT_EQ(team->insert(), 0) << db_error();
  DB_ID_TYPE team_id = last_id();

  auto host = std::make_unique<DB_HOST>();
  host->clear();
  host->create_time = 1795354002;
  host->userid = user_id;
  host->p_ncpus = 2;
  put(host->p_vendor, "GenuineIntel");
  put(host->p_model, "Intel(R) Xeon(R) CPU");
  put(host->os_name, "Linux Debian");
  put(host->os_version, "12");
  put(host->domain_name, "vm");
  put(host->host_cpid, "0a1b2c3d4e5f60718293a4b5c6d7e8f9");
  put(host->venue, "");
  host->p_fpops = 4.5e9;
  host->m_nbytes = 8e9;
  host->d_total = 1e11;
  host->p_ngpus = 1;
  host->p_gpu_fpops = 1.5e12;
  ASSERT_EQ(host->insert(), 0) << db_error();
  DB_ID_TYPE host_id = last_id();

  auto u = std::make_unique<DB_USER>();
  ASSERT_EQ(u->lookup("where authenticator='0123456789abcdef0123456789abcdef'"), 0) << db_error();
  EXPECT_EQ(u->id, user_id);
  EXPECT_STREQ(u->email_addr, "submitter@example.org");
  EXPECT_STREQ(u->name, "submitter");
  EXPECT_DOUBLE_EQ(u->total_credit, 12.5);
  EXPECT_DOUBLE_EQ(u->expavg_time, 1795354000.25);
  EXPECT_EQ(u->seti_id, 1);

  auto t = std::make_unique<DB_TEAM>();
  ASSERT_EQ(t->lookup_id(team_id), 0) << db_error();
  EXPECT_STREQ(t->name, "mwkit testers");
  EXPECT_STREQ(t->description, "A team for tests");
  EXPECT_EQ(t->userid, user_id);
  EXPECT_EQ(one_row("SELECT joinable FROM team").at("joinable"), "1");  // master's default

  auto h = std::make_unique<DB_HOST>();
  ASSERT_EQ(h->lookup_id(host_id), 0) << db_error();
  EXPECT_EQ(h->userid, user_id);
  EXPECT_EQ(h->p_ncpus, 2);
  EXPECT_STREQ(h->os_name, "Linux Debian");
  EXPECT_STREQ(h->host_cpid, "0a1b2c3d4e5f60718293a4b5c6d7e8f9");
  EXPECT_DOUBLE_EQ(h->p_fpops, 4.5e9);
  // 7.20.5 writes the GPU columns but its db_parse does not read them back.
  SqlRow stored = one_row("SELECT p_ngpus, p_gpu_fpops, misc FROM host");
  EXPECT_EQ(stored.at("p_ngpus"), "1");
  EXPECT_EQ(stored.at("p_gpu_fpops"), "1500000000000");
  EXPECT_EQ(stored.at("misc"), "");  // master's column, defaulted

  // What a crediting validator does: bump user, team and host credit.
  ASSERT_EQ(u->update_field("total_credit=total_credit+2.5, expavg_credit=1.5"), 0) << db_error();
  ASSERT_EQ(t->update_field("total_credit=total_credit+2.5, expavg_credit=1.5,"
                            " expavg_time=1795356000"), 0) << db_error();
  auto before = std::make_unique<HOST>(static_cast<HOST&>(*h));
  h->total_credit += 2.5;
  h->expavg_credit = 1.5;
  h->expavg_time = 1795356000;
  ASSERT_EQ(h->update_diff_validator(*before), 0) << db_error();
  EXPECT_EQ(one_row("SELECT total_credit AS c FROM user").at("c"), "15");
  EXPECT_EQ(one_row("SELECT total_credit AS c, expavg_time AS t FROM team").at("c"), "2.5");
  SqlRow host_row = one_row("SELECT total_credit, expavg_credit, expavg_time FROM host");
  EXPECT_EQ(host_row.at("total_credit"), "2.5");
  EXPECT_EQ(host_row.at("expavg_credit"), "1.5");
  EXPECT_EQ(host_row.at("expavg_time"), "1795356000");

  // The scheduler's full-row update.
  h->p_ncpus = 4;
  ASSERT_EQ(h->update(), 0) << db_error();
  EXPECT_EQ(one_row("SELECT p_ncpus FROM host").at("p_ncpus"), "4");
}

TEST_F(LibschedTest, UserSubmitRoundTripsAndBatchRowsAreReadable) {
  auto submit = std::make_unique<DB_USER_SUBMIT>();
  submit->clear();
  submit->user_id = 2;
  submit->quota = 1.5;
  submit->logical_start_time = 1795354561.5;
  submit->submit_all = true;
  submit->manage_all = false;
  ASSERT_EQ(submit->insert(), 0) << db_error() << " (7.20.5 does not write max_jobs_in_progress)";
  auto s = std::make_unique<DB_USER_SUBMIT>();
  ASSERT_EQ(s->lookup("where user_id=2"), 0) << db_error();
  EXPECT_DOUBLE_EQ(s->quota, 1.5);
  EXPECT_DOUBLE_EQ(s->logical_start_time, 1795354561.5);
  EXPECT_TRUE(s->submit_all);
  EXPECT_FALSE(s->manage_all);
  EXPECT_EQ(one_row("SELECT max_jobs_in_progress AS m FROM user_submit").at("m"), "0");

  // user_submit_app has no C++ class in BOINC (PHP only): check it by hand.
  SqlConnection c = conn();
  c.execute("INSERT INTO user_submit_app (user_id, app_id, manage) VALUES (2, 1, 0)");
  EXPECT_THROW(c.execute("INSERT INTO user_submit_app (user_id, app_id, manage) VALUES (2, 1, 1)"),
               Error);

  // libsched 7.20.5's DB_BATCH has no db_print/db_parse (BOINC writes batches from
  // PHP), so DB_BATCH.insert() must not be used; rows written with master's
  // columns are still found by its queries.
  c.execute(insert_statement(c, kBatchRpcT3));
  auto batch = std::make_unique<DB_BATCH>();
  long n = 0;
  ASSERT_EQ(batch->count(n, "where user_id=2 and state=2"), 0) << db_error();
  EXPECT_EQ(n, 1);
  EXPECT_EQ(batch->lookup_id(3), 0) << db_error();
  EXPECT_EQ(batch->lookup_id(4), ERR_DB_NOT_FOUND);
}

TEST_F(LibschedTest, WorkunitAndResultRoundTripIncludingBulkInserts) {
  auto wu = std::make_unique<DB_WORKUNIT>();
  fill_workunit(*wu, kWorkunit6617);
  put(wu->name, "mw_roundtrip_wu");
  wu->batch = 3;
  wu->opaque = 42.5;
  ASSERT_EQ(wu->insert(), 0) << db_error();
  DB_ID_TYPE wu_id = last_id();

  auto w = std::make_unique<DB_WORKUNIT>();
  ASSERT_EQ(w->lookup("where name='mw_roundtrip_wu'"), 0) << db_error();
  EXPECT_EQ(w->id, wu_id);
  EXPECT_EQ(std::string(w->xml_doc), kWorkunit6617.at("xml_doc"));
  EXPECT_EQ(w->batch, 3);
  EXPECT_DOUBLE_EQ(w->rsc_fpops_bound, 1e12);
  EXPECT_DOUBLE_EQ(w->canonical_credit, 0.01000668726851852);
  EXPECT_DOUBLE_EQ(w->opaque, 42.5);
  EXPECT_EQ(w->transition_time, 2147483647);
  EXPECT_EQ(w->max_total_results, 5);
  EXPECT_STREQ(w->result_template_file, "templates/uppercase_out");
  EXPECT_EQ(w->size_class, -1);
  EXPECT_EQ(w->app_version_num, 0);
  EXPECT_EQ(std::strlen(w->mod_time), 19u) << "mod_time '" << w->mod_time << "'";

  auto result = std::make_unique<DB_RESULT>();
  fill_result(*result, kResult6617);
  result->workunitid = wu_id;
  put(result->name, "mw_roundtrip_wu_0");
  ASSERT_EQ(result->insert(), 0) << db_error();
  DB_ID_TYPE result_id = last_id();

  auto r = std::make_unique<DB_RESULT>();
  ASSERT_EQ(r->lookup_id(result_id), 0) << db_error();
  EXPECT_EQ(r->workunitid, wu_id);
  EXPECT_STREQ(r->name, "mw_roundtrip_wu_0");
  EXPECT_EQ(std::string(r->xml_doc_in), kResult6617.at("xml_doc_in"));
  EXPECT_EQ(std::string(r->xml_doc_out), kResult6617.at("xml_doc_out"));
  EXPECT_EQ(std::string(r->stderr_out), kResult6617.at("stderr_out"));
  EXPECT_DOUBLE_EQ(r->cpu_time, 0.004593);
  EXPECT_DOUBLE_EQ(r->elapsed_time, 1.005323);
  EXPECT_DOUBLE_EQ(r->granted_credit, 0.01000668726851852);
  EXPECT_DOUBLE_EQ(r->peak_disk_usage, 14549);
  EXPECT_TRUE(r->runtime_outlier);
  EXPECT_EQ(r->random, 624635287);

  // Bulk creation: positional "insert into T values (...),(...)".
  std::vector<char> buffer(MAX_QUERY_LEN);
  std::string wu_values;
  for (const char* name : {"mw_bulk_a", "mw_bulk_b"}) {
    put(wu->name, name);
    wu->db_print_values(buffer.data());
    wu_values += (wu_values.empty() ? "" : ",") + std::string(buffer.data());
  }
  ASSERT_EQ(wu->insert_batch(wu_values), 0) << db_error();
  std::string result_values;
  for (const char* name : {"mw_bulk_a_0", "mw_bulk_b_0"}) {
    put(result->name, name);
    result->db_print_values(buffer.data());
    result_values += (result_values.empty() ? "" : ",") + std::string(buffer.data());
  }
  ASSERT_EQ(result->insert_batch(result_values), 0) << db_error();
  long n = 0;
  ASSERT_EQ(w->count(n, "where name like 'mw\\_bulk\\_%'"), 0) << db_error();
  EXPECT_EQ(n, 2);
  ASSERT_EQ(r->count(n, "where name like 'mw\\_bulk\\_%'"), 0) << db_error();
  EXPECT_EQ(n, 2);
}

// libsched writes the golden workunit and result; the stored rows must equal
// what the real server stored, column for column (id and mod_time aside).
TEST_F(LibschedTest, RowsWrittenByLibschedEqualTheRealServersRows) {
  auto wu = std::make_unique<DB_WORKUNIT>();
  fill_workunit(*wu, kWorkunit6617);
  ASSERT_EQ(wu->insert(), 0) << db_error();
  DB_ID_TYPE wu_id = last_id();
  auto result = std::make_unique<DB_RESULT>();
  fill_result(*result, kResult6617);
  ASSERT_EQ(result->insert(), 0) << db_error();
  DB_ID_TYPE result_id = last_id();

  const std::pair<const GoldenRow*, DB_ID_TYPE> written[] = {{&kWorkunit6617, wu_id},
                                                             {&kResult6617, result_id}};
  for (const auto& [golden, id] : written) {
    SqlRow row = one_row("SELECT * FROM " + golden->table + " WHERE id = " + std::to_string(id));
    EXPECT_EQ(row.size(), golden->columns.size()) << golden->table;
    for (const auto& [column, value] : golden->columns) {
      if (column == "id" || column == "mod_time") continue;
      ASSERT_TRUE(row.count(column)) << golden->table << "." << column << " is NULL";
      EXPECT_EQ(row.at(column), value) << golden->table << "." << column;
    }
  }
}

// The transitioner's, feeder's and validator's own SELECTs and UPDATEs.
TEST_F(LibschedTest, TransitionerFeederAndValidatorQueriesWork) {
  DB_ID_TYPE app_id = insert_app("pipeline");
  int now = static_cast<int>(std::time(nullptr));

  auto wu = std::make_unique<DB_WORKUNIT>();
  fill_workunit(*wu, kWorkunit6617);
  put(wu->name, "mw_pipeline_wu");
  wu->appid = app_id;
  wu->need_validate = true;
  wu->canonical_resultid = 0;
  wu->assimilate_state = 0;
  wu->file_delete_state = 0;
  wu->transition_time = now - 10;
  ASSERT_EQ(wu->insert(), 0) << db_error();
  DB_ID_TYPE wu_id = last_id();

  auto result = std::make_unique<DB_RESULT>();
  fill_result(*result, kResult6617);
  result->workunitid = wu_id;
  result->appid = app_id;
  result->validate_state = 0;  // INIT: waiting for the validator
  result->granted_credit = 0;
  put(result->name, "mw_pipeline_wu_0");
  ASSERT_EQ(result->insert(), 0) << db_error();
  DB_ID_TYPE done_id = last_id();
  result->server_state = 2;  // UNSENT: for the feeder
  result->outcome = 0;
  put(result->name, "mw_pipeline_wu_1");
  ASSERT_EQ(result->insert(), 0) << db_error();
  DB_ID_TYPE unsent_id = last_id();

  // Transitioner: WUs whose transition_time has passed, with all their results.
  auto transitioner = std::make_unique<DB_TRANSITIONER_ITEM_SET>();
  std::vector<TRANSITIONER_ITEM> titems;
  ASSERT_EQ(transitioner->enumerate(now + 60, 100, 0, 0, titems), 0) << db_error();
  ASSERT_EQ(titems.size(), 2u);
  EXPECT_STREQ(titems[0].name, "mw_pipeline_wu");
  EXPECT_EQ(titems[0].id, wu_id);
  std::vector<std::string> names = {titems[0].res_name, titems[1].res_name};
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"mw_pipeline_wu_0", "mw_pipeline_wu_1"}));

  // Feeder: unsent results joined with their workunit, forcing index ind_res_st.
  auto feeder = std::make_unique<DB_WORK_ITEM>();
  ASSERT_EQ(feeder->enumerate(100, "", ""), 0) << db_error();
  EXPECT_EQ(feeder->res_id, unsent_id);
  EXPECT_STREQ(feeder->wu.name, "mw_pipeline_wu");
  EXPECT_EQ(std::string(feeder->wu.xml_doc), kWorkunit6617.at("xml_doc"));
  for (int i = 0; i < 10 && feeder->enumerate(100, "", "") == 0; ++i) {
  }

  // Validator: (WU, result) pairs of WUs that need validation, then its updates.
  auto validator = std::make_unique<DB_VALIDATOR_ITEM_SET>();
  std::vector<VALIDATOR_ITEM> vitems;
  ASSERT_EQ(validator->enumerate(app_id, 100, 0, 0, 0, 0, vitems), 0) << db_error();
  ASSERT_EQ(vitems.size(), 2u);
  VALIDATOR_ITEM* done = nullptr;
  for (auto& item : vitems) {
    EXPECT_EQ(item.wu.id, wu_id);
    if (item.res.id == done_id) done = &item;
  }
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(std::string(done->res.xml_doc_in), kResult6617.at("xml_doc_in"));
  done->res.validate_state = 1;  // VALID
  done->res.granted_credit = 0.01000668726851852;
  ASSERT_EQ(validator->update_result(done->res), 0) << db_error();
  done->wu.canonical_resultid = done_id;
  done->wu.canonical_credit = 0.01000668726851852;
  done->wu.assimilate_state = 1;  // READY
  done->wu.transition_time = 2147483647;
  ASSERT_EQ(validator->update_workunit(done->wu), 0) << db_error();

  SqlRow w = one_row("SELECT * FROM workunit WHERE id = " + std::to_string(wu_id));
  EXPECT_EQ(w.at("need_validate"), "0");
  EXPECT_EQ(w.at("canonical_resultid"), std::to_string(done_id));
  EXPECT_EQ(w.at("assimilate_state"), "1");
  SqlRow r = one_row("SELECT * FROM result WHERE id = " + std::to_string(done_id));
  EXPECT_EQ(r.at("validate_state"), "1");
  EXPECT_EQ(r.at("granted_credit"), "0.01000668726851852");
}

}  // namespace
}  // namespace mw::test
