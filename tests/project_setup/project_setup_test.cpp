// mw-project-setup against a project laid out like make_project's, on the
// private MariaDB. BOINC's server is not packaged for Debian 12, so bin/start,
// bin/stop and bin/status are a test double that behaves like BOINC's own
// (doubles/boinc_bin_start_double.cpp): it starts the real mw-validator and
// mw-assimilator that install put in PROJECT/bin, and a shell double stands in
// for feeder, transitioner and file_deleter. Signatures are checked with
// Debian's libboinc_crypt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "boinc/crypto_oracle.h"
#include "mw/boinc/code_signing.h"
#include "mw/boinc/install_record.h"
#include "support/private_mariadb.h"
#include "support/test_support.h"
#include "setup.h"
#include "util/elf_inspect.h"
#include "util/fs.h"

namespace {

using mw::test::CommandResult;
using mw::test::PrivateMariaDb;
using mw::test::read_text;
using mw::test::run_command;
using mw::test::ScratchDir;
using mw::test::write_text;

const std::string kRealConfig = std::string(MW_SOURCE_DIR) + "/tests/boinc/data/config.xml";
const std::string kDoubles = std::string(MW_SOURCE_DIR) + "/tests/project_setup/doubles/";

// bin/start runs a daemon only where <host> is the short hostname.
std::string short_hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  std::string s = name;
  return s.substr(0, s.find('.'));
}
const std::string kPlatform = "x86_64-pc-linux-gnu";
// The start of make_project's project.xml (bin/xadd's list), with the sample app.
const std::string kProjectXml =
    "<boinc>\n    <platform>\n        <name>x86_64-pc-linux-gnu</name>\n"
    "        <user_friendly_name>Linux running on an AMD x86_64 or Intel EM64T CPU</user_friendly_name>\n"
    "    </platform>\n    <app>\n        <name>uppercase</name>\n"
    "        <user_friendly_name>Uppercase</user_friendly_name>\n    </app>\n</boinc>\n";

const mw::boinc::CodeSignPrivateKey& code_sign_key() {
  static const auto key = mw::boinc::CodeSignPrivateKey::generate();
  return key;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

void copy_executable(const std::string& from, const std::string& to) {
  write_text(to, read_text(from));
  ::chmod(to.c_str(), 0755);
}

class ProjectSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& server = PrivateMariaDb::shared();
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    db_ = "t_ps_" + test.substr(0, 50);
    server.create_database(db_);
    server.load_schema(db_, MW_BOINC_SCHEMA);
    auto conn = server.connect(db_);
    conn.execute("INSERT INTO platform (create_time, name, user_friendly_name) VALUES "
                 "(1, 'windows_x86_64', 'Microsoft Windows x64'), "
                 "(1, 'x86_64-pc-linux-gnu', 'Linux running on an AMD x86_64 or Intel EM64T CPU')");

    project_ = dir_ / "lab";
    host_ = short_hostname();
    for (std::string sub : {"", "/keys", "/apps", "/templates", "/download", "/upload", "/bin", "/cgi-bin"})
      ::mkdir((project_ + sub).c_str(), 0755);
    write_config(replace_all(read_text(kRealConfig), "<!-- mwkit-test -->", ""));
    write_text(project_xml(), kProjectXml);
    mw::boinc::write_code_sign_keys(code_sign_key(), project_ + "/keys");
    for (const char* command : {"start", "stop", "status"})
      copy_executable(MW_BIN_START_DOUBLE, project_ + "/bin/" + command);
    for (const char* stock : {"feeder", "transitioner", "file_deleter"})
      copy_executable(kDoubles + "boinc_stock_daemon_double.sh", project_ + "/bin/" + stock);
    wrapper_ = dir_ / "mw-wrapper";
    // The real wrapper: what it needs beyond glibc is what install must ship.
    copy_executable(MW_WRAPPER_BUILT, wrapper_);
  }

  // Every daemon bin/start started is stopped, as an admin's bin/stop would.
  void TearDown() override {
    if (::access((project_ + "/bin/stop").c_str(), X_OK) == 0) run_command({project_ + "/bin/stop"});
  }

  // config.xml from a template of the real one: database and paths made ours.
  void write_config(std::string text) {
    auto& server = PrivateMariaDb::shared();
    text = replace_all(text, "/home/boincadm/projects/lab", project_);
    text = replace_all(text, "<host>vm</host>", "<host>" + host_ + "</host>");
    text = replace_all(text, "log_vm", "log_" + host_);
    text = replace_all(text, "<db_name>lab</db_name>", "<db_name>" + db_ + "</db_name>");
    text = replace_all(text, "<db_user>boincadm</db_user>", "<db_user>" + server.user() + "</db_user>");
    text = replace_all(text, "DB_PASSWORD", server.password());
    text = replace_all(text, "<db_host>localhost</db_host>",
                       "<db_host>" + server.host() + ":" + std::to_string(server.port()) + "</db_host>");
    write_text(config_path(), text);
  }

  std::string config_path() const { return project_ + "/config.xml"; }
  std::string project_xml() const { return project_ + "/project.xml"; }

  CommandResult setup(const std::string& command, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {MW_PROJECT_SETUP, command, "--project", project_};
    if (command != "uninstall") {
      argv.push_back("--wrapper");
      argv.push_back(wrapper_);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv);
  }

  std::vector<mw::test::SqlRow> rows(const std::string& sql) {
    return PrivateMariaDb::shared().query_rows(db_, sql);
  }

  // Every file below the project with its bytes (what "nothing changed" compares),
  // but for the daemons' own logs, pid and lock files and working directories.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> files;
    for (const auto& rel : mw::test::list_tree(project_)) {
      if (rel.rfind("log_", 0) == 0 || rel.rfind("pid_", 0) == 0 || rel.rfind("tmp_", 0) == 0) continue;
      struct stat st {};
      std::string path = project_ + "/" + rel;
      if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files[rel] = read_text(path);
      else files[rel] = "<dir>";
    }
    return files;
  }
  std::string db_snapshot() {
    std::string out;
    for (const char* table : {"app", "app_version", "platform"})
      for (const auto& row : rows(std::string("SELECT * FROM ") + table))
        for (const auto& [k, v] : row) out += std::string(table) + "." + k + "=" + v + "\n";
    return out;
  }

  std::string calls() const {
    std::string path = project_ + "/double_calls.log";
    return ::access(path.c_str(), F_OK) != 0 ? "" : read_text(path);
  }

  // The daemon elements install appends to the real config's <daemons>.
  std::string our_daemons() const {
    return "        <daemon>\n"
           "            <cmd>mw-validator --app mw</cmd>\n"
           "            <output>mw_validator_mw.log</output>\n"
           "            <pid_file>mw_validator_mw.pid</pid_file>\n"
           "        </daemon>\n"
           "        <daemon>\n"
           "            <cmd>mw-assimilator --app mw --deliver " + project_ + "/mw_deliver</cmd>\n"
           "            <output>mw_assimilator_mw.log</output>\n"
           "            <pid_file>mw_assimilator_mw.pid</pid_file>\n"
           "        </daemon>\n";
  }

  // bin/status's line for the daemon running `cmd`, e.g. "  4  1234  running    locked   no  …";
  // empty when config.xml has no such daemon.
  std::string status_of(const std::string& cmd) {
    auto r = run_command({project_ + "/bin/status"});
    std::size_t at = r.out.find(cmd + "\n");
    if (at == std::string::npos) return "";
    return r.out.substr(r.out.rfind('\n', at) + 1, at - r.out.rfind('\n', at) - 1);
  }
  bool running(const std::string& cmd) {
    std::string line = status_of(cmd);
    return line.find(" running ") != std::string::npos && line.find(" locked ") != std::string::npos;
  }

  ScratchDir dir_;
  std::string db_;
  std::string project_;
  std::string host_;
  std::string wrapper_;
};

TEST_F(ProjectSetupTest, InstallsDaemonsTemplatesKeysAndASignedAppVersion) {
  const std::string before = read_text(config_path());
  auto r = setup("install");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // config.xml: our two daemons appended to <daemons>, every other byte kept.
  std::string expected = before;
  expected.insert(expected.find("    </daemons>"), our_daemons());
  EXPECT_EQ(read_text(config_path()), expected);
  bool backed_up = false;
  for (const auto& rel : mw::test::list_tree(project_))
    if (rel.rfind("config.xml.mw-backup-", 0) == 0) {
      backed_up = true;
      EXPECT_EQ(read_text(project_ + "/" + rel), before);
    }
  EXPECT_TRUE(backed_up);

  std::string expected_project_xml = kProjectXml;
  expected_project_xml.insert(expected_project_xml.find("</boinc>"),
                              "    <app>\n        <name>mw</name>\n"
                              "        <user_friendly_name>mwkit tasks (mw)</user_friendly_name>\n    </app>\n");
  EXPECT_EQ(read_text(project_xml()), expected_project_xml);
  bool project_xml_backed_up = false;
  for (const auto& rel : mw::test::list_tree(project_))
    if (rel.rfind("project.xml.mw-backup-", 0) == 0)
      project_xml_backed_up = read_text(project_ + "/" + rel) == kProjectXml;
  EXPECT_TRUE(project_xml_backed_up);

  for (const char* t :
       {"mw_in.xml", "mw_in_program.xml", "mw_in_inline.xml", "mw_in_inline_program.xml", "mw_out.xml"})
    EXPECT_EQ(read_text(project_ + "/templates/" + t),
              read_text(std::string(MW_SOURCE_DIR) + "/templates/" + t));
  struct stat st {};
  ASSERT_EQ(::stat((project_ + "/keys/mw_task_private.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(::access((project_ + "/mw_deliver").c_str(), F_OK) == 0);

  // The rows update_versions would make.
  auto apps = rows("SELECT id, name, deprecated FROM app");
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0]["name"], "mw");
  auto versions = rows(
      "SELECT av.version_num, av.xml_doc, av.deprecated, av.plan_class, p.name AS platform "
      "FROM app_version av JOIN platform p ON p.id = av.platformid");
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0]["version_num"], "100");
  EXPECT_EQ(versions[0]["platform"], kPlatform);
  EXPECT_EQ(versions[0]["plan_class"], "");
  const std::string doc = versions[0]["xml_doc"];
  const std::string main_name = "mw_1.00_" + kPlatform + "_mw-wrapper";
  EXPECT_EQ(doc.rfind("<file_info>\n    <name>" + main_name + "</name>\n    <url>http://127.0.0.1/lab/download/" +
                          main_name + "</url>\n    <executable/>\n    <file_signature>\n",
                      0),
            0u)
      << doc;
  EXPECT_NE(doc.find("<app_version>\n    <app_name>mw</app_name>\n    <version_num>100</version_num>\n"
                     "    <api_version>7.20.5</api_version>\n<file_ref>\n    <file_name>" +
                     main_name + "</file_name>\n    <main_program/>\n</file_ref>\n"),
            std::string::npos)
      << doc;
  EXPECT_NE(doc.find("<open_name>mw_task_public.pem</open_name>"), std::string::npos);
  EXPECT_NE(doc.find("<open_name>libboinc_api.so.7</open_name>\n    <copy_file/>"), std::string::npos) << doc;
  EXPECT_NE(doc.find("<open_name>libboinc.so.7</open_name>\n    <copy_file/>"), std::string::npos) << doc;
  EXPECT_EQ(doc.substr(doc.size() - 15), "</app_version>\n");

  // Every file is in download/ (flat) and its signature verifies with BOINC's own code.
  const std::string pub = read_text(project_ + "/keys/code_sign_public");
  std::size_t checked = 0;
  for (std::size_t at = doc.find("<file_info>"); at != std::string::npos; at = doc.find("<file_info>", at + 1)) {
    auto name_at = doc.find("<name>", at) + 6;
    std::string name = doc.substr(name_at, doc.find("</name>", name_at) - name_at);
    auto sig_at = doc.find("<file_signature>\n", at) + 17;
    std::string sig = doc.substr(sig_at, doc.find("    </file_signature>", sig_at) - sig_at);
    std::string file = project_ + "/download/" + name;
    ASSERT_EQ(::access(file.c_str(), R_OK), 0) << file;
    auto ok = crypto_oracle::check_file_signature2(mw::boinc::file_md5_hex(file), sig, pub);
    EXPECT_EQ(ok.rc, 0) << name;
    EXPECT_TRUE(ok.ok) << name;
    EXPECT_EQ(read_text(project_ + "/apps/mw/1.00/" + kPlatform + "/" + name + ".sig"), sig);
    auto nbytes_at = doc.find("<nbytes>", at) + 8;
    EXPECT_EQ(doc.substr(nbytes_at, doc.find("</nbytes>", nbytes_at) - nbytes_at),
              std::to_string(read_text(file).size()));
    ++checked;
  }
  // Beyond the BOINC API, every library the wrapper needs that glibc does not
  // provide goes with it (a volunteer host has only the client and glibc).
  std::size_t libraries = 0;
  for (const char* lib : {"libboinc_api.so.7", "libboinc.so.7", "libzip.so.4", "libcrypto.so.3", "libz.so.1",
                          "libbz2.so.1.0", "libstdc++.so.6", "libgcc_s.so.1"}) {
    EXPECT_NE(doc.find(std::string("<open_name>") + lib + "</open_name>\n    <copy_file/>"), std::string::npos)
        << lib << "\n" << doc;
    ++libraries;
  }
  EXPECT_EQ(doc.find("<open_name>libc.so.6</open_name>"), std::string::npos) << "glibc is never shipped";
  EXPECT_EQ(checked, 2u + libraries);  // wrapper, task key, the libraries
  EXPECT_EQ(read_text(project_ + "/download/" + main_name), read_text(wrapper_));
  EXPECT_TRUE(::access((project_ + "/apps/mw/1.00/" + kPlatform + "/version.xml").c_str(), F_OK) == 0);

  EXPECT_EQ(::access((project_ + "/reread_db").c_str(), F_OK), 0);
  EXPECT_EQ(calls(), "stop\nstart\n");

  // The daemons it configured run from PROJECT/bin, as bin/start finds them.
  EXPECT_EQ(read_text(project_ + "/bin/mw-validator"), read_text(MW_VALIDATOR_BUILT));
  EXPECT_EQ(read_text(project_ + "/bin/mw-assimilator"), read_text(MW_ASSIMILATOR_BUILT));
  EXPECT_TRUE(running("mw-validator --app mw")) << status_of("mw-validator --app mw");
  EXPECT_TRUE(running("mw-assimilator --app mw --deliver " + project_ + "/mw_deliver"));
  EXPECT_NE(r.out.find("running mw-validator --app mw (pid "), std::string::npos) << r.out;

  // What BOINC's remote submission needs and make_project does not make (reference §11.4, §11.6).
  EXPECT_EQ(rows("SHOW TABLES LIKE 'batch_file_assoc'").size(), 1u);
  EXPECT_EQ(::access((project_ + "/results").c_str(), W_OK), 0);

  // The record says what was installed.
  std::string record = read_text(project_ + "/mw_install.xml");
  EXPECT_NE(record.find("<deliver_dir>" + project_ + "/mw_deliver</deliver_dir>"), std::string::npos) << record;
  EXPECT_NE(record.find("<task_signing_key>" + project_ + "/keys/mw_task_private.pem</task_signing_key>"),
            std::string::npos) << record;
  EXPECT_NE(record.find("<platform>" + kPlatform + "</platform>"), std::string::npos) << record;
  EXPECT_NE(record.find("<version_num>100</version_num>"), std::string::npos) << record;
}

TEST_F(ProjectSetupTest, SecondInstallChangesNothingAndSaysSo) {
  ASSERT_EQ(setup("install").exit_code, 0);
  ::unlink((project_ + "/reread_db").c_str());
  const auto files = snapshot();
  const auto db = db_snapshot();
  auto r = setup("install");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nothing to change"), std::string::npos) << r.out;
  EXPECT_EQ(snapshot(), files);  // no backup, no reread_db, no recycling
  EXPECT_EQ(db_snapshot(), db);
}

TEST_F(ProjectSetupTest, DryRunPrintsTheChangesAndMakesNone) {
  const auto files = snapshot();
  const auto db = db_snapshot();
  auto r = setup("install", {"--dry-run", "--replication"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would add    daemon mw-validator --app mw"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<cmd>mw-assimilator --app mw --deliver " + project_ + "/mw_deliver</cmd>"),
            std::string::npos);
  EXPECT_NE(r.out.find("would add    template templates/mw_out.xml"), std::string::npos);
  EXPECT_NE(r.out.find("new version 1.00"), std::string::npos);
  EXPECT_NE(r.out.find("nothing was changed"), std::string::npos);
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);
}

TEST_F(ProjectSetupTest, CheckReportsMissingPresentAndOutdated) {
  auto before = setup("check");
  EXPECT_EQ(before.exit_code, 1) << before.err;
  EXPECT_NE(before.out.find("missing   daemon mw-validator --app mw"), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("present   daemon feeder"), std::string::npos);
  EXPECT_NE(before.out.find("missing   table batch_file_assoc"), std::string::npos) << before.out;

  ASSERT_EQ(setup("install").exit_code, 0);
  auto after = setup("check");
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_EQ(after.out.find("missing"), std::string::npos) << after.out;

  // A new wrapper build makes the installed version outdated; install adds 1.01.
  write_text(wrapper_, read_text(wrapper_) + "x");
  auto stale = setup("check");
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_NE(stale.out.find("outdated  app version of mw for " + kPlatform), std::string::npos) << stale.out;
  ASSERT_EQ(setup("install").exit_code, 0);
  auto versions = rows("SELECT version_num FROM app_version ORDER BY version_num");
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[1]["version_num"], "101");
  EXPECT_EQ(setup("check").exit_code, 0);
}

// mwkit's counting indexes (boinc/status_indexes.h): check names each one
// missing with the statement install runs; install adds them once; one of
// our name over other columns is replaced.
TEST_F(ProjectSetupTest, StatusIndexesAreAddedOnceAndReportedWhenMissing) {
  auto index_columns = [&](const std::string& table, const std::string& name) {
    std::string cols;
    for (const auto& r : rows("SELECT column_name AS c FROM information_schema.statistics WHERE table_schema = "
                              "DATABASE() AND table_name = '" + table + "' AND index_name = '" + name +
                              "' ORDER BY seq_in_index"))
      cols += (cols.empty() ? "" : ", ") + r.at("c");
    return cols;
  };
  auto before = setup("check");
  EXPECT_EQ(before.exit_code, 1);
  EXPECT_NE(before.out.find("missing   index mw_wu_batch_state on workunit"), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("missing   index mw_res_batch_state on result"), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("ALTER TABLE workunit ADD INDEX IF NOT EXISTS mw_wu_batch_state"), std::string::npos);

  auto first = setup("install");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("added mwkit's indexes"), std::string::npos) << first.out;
  EXPECT_EQ(index_columns("workunit", "mw_wu_batch_state"),
            "appid, batch, assimilate_state, need_validate, error_mask, canonical_resultid");
  EXPECT_EQ(index_columns("result", "mw_res_batch_state"), "appid, server_state, batch");
  auto second = setup("install");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("nothing to change"), std::string::npos) << second.out;
  auto check = setup("check");
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_NE(check.out.find("present   index mw_res_batch_state on result"), std::string::npos) << check.out;

  // An index of our name that does not cover the counts is as good as none.
  PrivateMariaDb::shared().connect(db_).execute(
      "ALTER TABLE result DROP INDEX mw_res_batch_state, ADD INDEX mw_res_batch_state (appid, batch)");
  auto wrong = setup("check");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.out.find("missing   index mw_res_batch_state on result"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("present   index mw_wu_batch_state on workunit"), std::string::npos) << wrong.out;
  ASSERT_EQ(setup("install").exit_code, 0);
  EXPECT_EQ(index_columns("result", "mw_res_batch_state"), "appid, server_state, batch");
  EXPECT_EQ(setup("check").exit_code, 0);
}

TEST_F(ProjectSetupTest, UninstallRemovesDaemonsDeprecatesVersionsKeepsWork) {
  const std::string original = read_text(config_path());
  ASSERT_EQ(setup("install").exit_code, 0);
  auto conn = PrivateMariaDb::shared().connect(db_);
  conn.execute("SET SESSION sql_mode = ''");  // only the columns this test cares about
  conn.execute("INSERT INTO workunit (create_time, appid, name, xml_doc, transition_time) "
               "SELECT 1, id, 'wu_kept', '', 0 FROM app WHERE name = 'mw'");
  write_text(project_ + "/upload/wu_kept_r1_0", "an output");
  write_text(project_ + "/mw_deliver/0_kept.result", "delivered");
  ::unlink((project_ + "/double_calls.log").c_str());

  const auto installed = snapshot();
  auto dry = setup("uninstall", {"--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would remove daemon mw-assimilator --app mw"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would remove app version 1.00 for " + kPlatform + " (deprecated, not deleted)"),
            std::string::npos) << dry.out;
  EXPECT_EQ(snapshot(), installed);
  EXPECT_EQ(rows("SELECT id FROM app_version WHERE deprecated = 0").size(), 1u);

  auto r = setup("uninstall");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_text(config_path()), original);  // byte for byte what it was before install
  for (const auto& v : rows("SELECT deprecated FROM app_version")) EXPECT_EQ(v.at("deprecated"), "1");
  EXPECT_EQ(rows("SELECT id FROM workunit WHERE name = 'wu_kept'").size(), 1u);
  EXPECT_EQ(rows("SELECT id FROM app WHERE name = 'mw'").size(), 1u);
  EXPECT_EQ(read_text(project_ + "/upload/wu_kept_r1_0"), "an output");
  EXPECT_EQ(read_text(project_ + "/mw_deliver/0_kept.result"), "delivered");
  EXPECT_EQ(calls(), "stop\nstart\n");
  EXPECT_FALSE(running("mw-validator --app mw"));

  auto again = setup("uninstall");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing to remove"), std::string::npos) << again.out;
  EXPECT_EQ(setup("check").exit_code, 1);  // uninstalled: daemons missing, no live version
}

TEST_F(ProjectSetupTest, OtherDaemonsCommentsAndOrderAreKeptByteForByte) {
  // No feeder; a commented-out mw-validator must not count as installed.
  const std::string text =
      "<?xml version=\"1.0\" ?>\n<!-- lab project: edited by hand -->\n<boinc>\n  <config>\n    <!-- keep the fanout -->\n"
      "    <db_name>lab</db_name><db_user>boincadm</db_user><db_passwd>DB_PASSWORD</db_passwd>\n"
      "    <db_host>localhost</db_host>\n    <host>vm</host>\n    <uldl_dir_fanout>1024</uldl_dir_fanout>\n"
      "    <download_url>http://127.0.0.1/lab/download</download_url>\n"
      "    <upload_url>http://127.0.0.1/lab_cgi/file_upload_handler</upload_url>\n"
      "    <download_dir>/home/boincadm/projects/lab/download</download_dir>\n"
      "    <upload_dir>/home/boincadm/projects/lab/upload</upload_dir>\n"
      "    <key_dir>/home/boincadm/projects/lab/keys</key_dir>\n"
      "  </config>\n  <daemons>\n"
      "    <!-- <daemon><cmd>mw-validator --app mw</cmd></daemon> -->\n"
      "    <daemon>\n      <cmd>transitioner -d 3</cmd>\n    </daemon>\n"
      "    <daemon><cmd>file_deleter -d 2 --preserve_wu_files</cmd><host>vm</host></daemon>\n"
      "    <daemon>\n      <cmd>my_validator --app other</cmd>\n      <output>v_other.log</output>\n    </daemon>\n"
      "  </daemons>\n</boinc>\n";
  write_config(text);
  const std::string before = read_text(config_path());
  auto r = setup("install", {"--replication"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("one_result_per_host_per_wu"), std::string::npos) << r.out;
  std::string expected = before;
  expected.insert(expected.find("  </config>"), "    <one_result_per_host_per_wu>1</one_result_per_host_per_wu>\n");
  expected.insert(expected.find("  </daemons>"),
                  "    <daemon>\n      <cmd>feeder -d 3</cmd>\n    </daemon>\n"
                  "    <daemon>\n      <cmd>mw-validator --app mw</cmd>\n      <output>mw_validator_mw.log</output>\n"
                  "      <pid_file>mw_validator_mw.pid</pid_file>\n    </daemon>\n"
                  "    <daemon>\n      <cmd>mw-assimilator --app mw --deliver " + project_ +
                      "/mw_deliver</cmd>\n      <output>mw_assimilator_mw.log</output>\n"
                      "      <pid_file>mw_assimilator_mw.pid</pid_file>\n    </daemon>\n");
  EXPECT_EQ(read_text(config_path()), expected);

  // Uninstall takes out only its own daemons; the feeder it added stays (others may need it).
  ASSERT_EQ(setup("uninstall").exit_code, 0);
  std::string after = read_text(config_path());
  EXPECT_EQ(after.find("mw-validator --app mw</cmd>\n"), std::string::npos);
  EXPECT_NE(after.find("<!-- <daemon><cmd>mw-validator --app mw</cmd></daemon> -->"), std::string::npos);
  EXPECT_NE(after.find("<cmd>my_validator --app other</cmd>"), std::string::npos);
  EXPECT_NE(after.find("<cmd>feeder -d 3</cmd>"), std::string::npos);
}

TEST_F(ProjectSetupTest, MissingCodeSignKeysAreClearErrorsAndChangeNothing) {
  ::unlink((project_ + "/keys/code_sign_public").c_str());
  auto files = snapshot();
  auto db = db_snapshot();
  auto r = setup("install");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(project_ + "/keys/code_sign_public"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);

  // Public key back, private key offline and no --signatures: refused, nothing changed.
  mw::boinc::write_code_sign_keys(code_sign_key(), dir_ / "offline");
  write_text(project_ + "/keys/code_sign_public", read_text(dir_ / "offline/code_sign_public"));
  ::unlink((project_ + "/keys/code_sign_private").c_str());
  files = snapshot();
  r = setup("install");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--signatures"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);
}

TEST_F(ProjectSetupTest, OfflineSignaturesMadeByBoincAreAccepted) {
  mw::boinc::write_code_sign_keys(code_sign_key(), dir_ / "offline");
  ::unlink((project_ + "/keys/code_sign_private").c_str());
  ASSERT_EQ(run_command({std::string(MW_TOOLS_DIR) + "/mw-sign", "keygen", "--out", dir_ / "task"}).exit_code, 0);
  std::string task_pub = dir_ / "task/task_sign_public.pem";
  // The first run names every file to sign: "SOURCE -> DIR/NAME.sig".
  std::string sigs = dir_ / "sigs";
  ::mkdir(sigs.c_str(), 0755);
  auto dry = setup("install", {"--signatures", sigs, "--task-pub", task_pub, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1) << dry.err;
  EXPECT_NE(dry.out.find("install would stop before changing anything: missing signatures"), std::string::npos)
      << dry.out;
  auto r = setup("install", {"--signatures", sigs, "--task-pub", task_pub});
  ASSERT_EQ(r.exit_code, 2);
  std::size_t signed_files = 0;
  for (std::size_t at = r.err.find(" -> "); at != std::string::npos; at = r.err.find(" -> ", at + 1)) {
    std::size_t start = r.err.rfind("\n  ", at) + 3;
    std::string source = r.err.substr(start, at - start);
    std::size_t end = r.err.find('\n', at);
    std::string target = r.err.substr(at + 4, end - at - 4);
    auto sig = crypto_oracle::sign_file(source, dir_ / "offline/code_sign_private");
    ASSERT_EQ(sig.rc, 0);
    write_text(target, sig.text);
    ++signed_files;
  }
  EXPECT_EQ(signed_files, 10u) << r.err;  // wrapper, task key, the 8 libraries it needs beyond glibc
  r = setup("install", {"--signatures", sigs, "--task-pub", task_pub});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rows("SELECT id FROM app_version").size(), 1u);
  EXPECT_EQ(::access((project_ + "/keys/mw_task_private.pem").c_str(), F_OK), -1);  // --task-pub given
}

TEST_F(ProjectSetupTest, ReadOnlyProjectDirectoryChangesNothing) {
  auto files = snapshot();
  auto db = db_snapshot();
  // root ignores mode bits, so make the directory immutable instead.
  bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(run_command({"/usr/bin/chattr", "+i", project_}).exit_code, 0);
  } else {
    ASSERT_EQ(::chmod(project_.c_str(), 0555), 0);
  }
  auto r = setup("install");
  if (root) run_command({"/usr/bin/chattr", "-i", project_});
  else ::chmod(project_.c_str(), 0755);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot write in " + project_), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed"), std::string::npos);
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);
}

TEST_F(ProjectSetupTest, MalformedConfigIsAClearErrorAndChangesNothing) {
  std::string text = read_text(config_path());
  text.replace(text.find("<daemons>"), 9, "<daemons");
  write_text(config_path(), text);
  auto files = snapshot();
  auto db = db_snapshot();
  auto r = setup("install");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(config_path()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line "), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);
}

// §11.1: bin/start exits 0 when a daemon's program is nowhere to be found; the
// daemon is then simply not running. check says so and why; install puts the
// program back and waits until the daemon holds its lock.
TEST_F(ProjectSetupTest, CheckTellsADaemonIsNotRunningAndWhyAndInstallRestartsIt) {
  ASSERT_EQ(setup("install").exit_code, 0);
  ASSERT_EQ(::unlink((project_ + "/bin/mw-validator").c_str()), 0);
  run_command({project_ + "/bin/stop"});
  auto started = run_command({project_ + "/bin/start"});
  EXPECT_EQ(started.exit_code, 0);  // as BOINC's does
  EXPECT_FALSE(running("mw-validator --app mw"));

  auto check = setup("check");
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.out.find("missing   program bin/mw-validator"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("stopped   daemon running: mw-validator --app mw"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("Couldn't execute 'mw-validator --app mw': [Errno 2] No such file or directory"),
            std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find("present   daemon running: mw-assimilator"), std::string::npos) << check.out;

  auto again = setup("install");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(running("mw-validator --app mw")) << status_of("mw-validator --app mw");
  EXPECT_EQ(setup("check").exit_code, 0);
  // Running daemons and nothing else to do: a second install says so and restarts nothing.
  ::unlink((project_ + "/double_calls.log").c_str());
  auto third = setup("install");
  EXPECT_NE(third.out.find("nothing to change"), std::string::npos) << third.out;
  EXPECT_EQ(calls(), "");
}

// A daemon that starts and dies (here: its program fails at once) makes
// install fail, with the daemon's log tail in the error.
TEST_F(ProjectSetupTest, InstallFailsWithTheLogTailWhenADaemonDoesNotStayUp) {
  std::string programs = dir_ / "programs";
  ::mkdir(programs.c_str(), 0755);
  write_text(programs + "/mw-validator",
             "#!/bin/sh\necho '2026-12-01 10:00:00.0000 UTC [CRITICAL] cannot open the database: test says no' >&2\n"
             "exit 3\n");
  ::chmod((programs + "/mw-validator").c_str(), 0755);
  copy_executable(MW_ASSIMILATOR_BUILT, programs + "/mw-assimilator");
  auto r = setup("install", {"--programs-dir", programs, "--start-timeout", "3"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("mw-validator --app mw is not running after bin/start"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[CRITICAL] cannot open the database: test says no"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("mw-assimilator --app mw --deliver " + project_ + "/mw_deliver is not running"),
            std::string::npos) << r.err;
}

// §11.2: with <host> not this machine's short name, bin/start starts nothing;
// install refuses before changing anything, naming the field.
TEST_F(ProjectSetupTest, HostThatIsNotThisMachineIsRefusedBeforeAnyChange) {
  std::string text = read_text(config_path());
  write_text(config_path(), replace_all(text, "<host>" + host_ + "</host>", "<host>localhost</host>"));
  const auto files = snapshot();
  const auto db = db_snapshot();
  auto r = setup("install");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("<host> is 'localhost' but this machine's short hostname is '" + host_ + "'"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);
}

// One record: after an install with non-default options, check and a second
// install need only --project, and masters' tools read the same values.
TEST_F(ProjectSetupTest, CheckWithOnlyTheProjectAfterANonDefaultInstallIsClean) {
  ASSERT_EQ(run_command({std::string(MW_TOOLS_DIR) + "/mw-sign", "keygen", "--out", dir_ / "task"}).exit_code, 0);
  const std::string pub = dir_ / "task/task_sign_public.pem";
  const std::string priv = dir_ / "task/task_sign_private.pem";
  const std::string deliver = dir_ / "results";
  auto r = run_command({MW_PROJECT_SETUP, "install", "--project", project_, "--deliver", deliver, "--task-pub", pub,
                        "--task-key", priv, "--replication"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(::access((project_ + "/keys/mw_task_private.pem").c_str(), F_OK), -1);  // no key of its own

  auto check = run_command({MW_PROJECT_SETUP, "check", "--project", project_});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out.find("missing"), std::string::npos) << check.out;
  EXPECT_EQ(check.out.find("outdated"), std::string::npos) << check.out;
  EXPECT_EQ(check.out.find("run mw-project-setup install"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("present   delivery directory " + deliver), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("files verify)"), std::string::npos) << check.out;

  auto again = run_command({MW_PROJECT_SETUP, "install", "--project", project_});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to change"), std::string::npos) << again.out;

  auto record = mw::boinc::read_install_record(project_, "mw");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->deliver_dir, deliver);
  EXPECT_EQ(record->task_signing_key, priv);
  ASSERT_EQ(record->trusted_task_keys.size(), 1u);
  EXPECT_EQ(record->trusted_task_keys[0], read_text(pub));
  EXPECT_EQ(record->min_quorum, 2);
  EXPECT_TRUE(running("mw-assimilator --app mw --deliver " + deliver));
}

// Options that differ from the record are listed, and those that would strand
// work need their own flag.
TEST_F(ProjectSetupTest, ReplacingKeysOrMovingDeliveryNeedsItsOwnFlag) {
  ASSERT_EQ(setup("install").exit_code, 0);
  const auto files = snapshot();
  const auto db = db_snapshot();
  const std::string elsewhere = dir_ / "elsewhere";
  auto moved = setup("install", {"--deliver", elsewhere});
  EXPECT_EQ(moved.exit_code, 2);
  EXPECT_NE(moved.out.find("update delivery directory"), std::string::npos) << moved.out;
  EXPECT_NE(moved.err.find("--move-deliver"), std::string::npos) << moved.err;
  EXPECT_NE(moved.err.find("nothing was changed"), std::string::npos) << moved.err;

  ASSERT_EQ(run_command({std::string(MW_TOOLS_DIR) + "/mw-sign", "keygen", "--out", dir_ / "new"}).exit_code, 0);
  auto keys = setup("install", {"--task-pub", dir_ / "new/task_sign_public.pem"});
  EXPECT_EQ(keys.exit_code, 2);
  EXPECT_NE(keys.err.find("--replace-task-keys"), std::string::npos) << keys.err;
  auto dry = setup("install", {"--task-pub", dir_ / "new/task_sign_public.pem", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1);
  EXPECT_NE(dry.out.find("install would stop before changing anything"), std::string::npos) << dry.out;
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);

  // Trusting the old and a new key together is a rotation, not a replacement.
  auto both = setup("install", {"--task-pub", project_ + "/keys/mw_task_public.pem", "--task-pub",
                                dir_ / "new/task_sign_public.pem"});
  ASSERT_EQ(both.exit_code, 0) << both.out << both.err;
  EXPECT_EQ(mw::boinc::read_install_record(project_, "mw")->trusted_task_keys.size(), 2u);

  auto move = setup("install", {"--deliver", elsewhere, "--move-deliver"});
  ASSERT_EQ(move.exit_code, 0) << move.out << move.err;
  EXPECT_EQ(mw::boinc::read_install_record(project_, "mw")->deliver_dir, elsewhere);
  EXPECT_TRUE(running("mw-assimilator --app mw --deliver " + elsewhere));
}

// docs/operator-guide.md's commands, run as written (the project path made the
// fixture's): install, check and uninstall as an admin would type them.
TEST_F(ProjectSetupTest, OperatorGuideCommandsRunAsWritten) {
  const std::string guide = read_text(std::string(MW_SOURCE_DIR) + "/docs/operator-guide.md");
  auto section = [&](const std::string& from, const std::string& to) {
    auto b = guide.find(from);
    auto e = guide.find(to, b == std::string::npos ? 0 : b + from.size());
    EXPECT_NE(b, std::string::npos) << "no section '" << from << "' in the guide";
    return b == std::string::npos ? std::string() : guide.substr(b, e == std::string::npos ? e : e - b);
  };
  std::vector<std::string> commands;
  for (const std::string& text : {section("## Install, step by step", "### Options you may need"),
                                  section("## Removing mwkit", "## When something goes wrong")}) {
    bool in_sh = false;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      auto first = line.find_first_not_of(' ');
      std::string t = first == std::string::npos ? "" : line.substr(first);
      if (t.rfind("```", 0) == 0) {
        in_sh = !in_sh && t == "```sh";
        continue;
      }
      if (!in_sh || t.rfind("mw-project-setup ", 0) != 0) continue;
      auto comment = t.find("  #");
      commands.push_back(comment == std::string::npos ? t : t.substr(0, comment));
    }
  }
  ASSERT_GE(commands.size(), 5u) << "install --dry-run, install, check, uninstall --dry-run, uninstall";
  for (const auto& command : commands) {
    std::vector<std::string> argv;
    std::istringstream words(replace_all(command, "~/projects/lab", project_));
    for (std::string w; words >> w;) argv.push_back(w);
    argv[0] = MW_PROJECT_SETUP;
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.out << r.err;
    if (argv[1] == "install" && command.find("--dry-run") == std::string::npos) {
      EXPECT_TRUE(running("mw-validator --app mw")) << command;
    }
  }
  EXPECT_EQ(read_text(config_path()).find("mw-validator"), std::string::npos) << "the guide ends uninstalled";
}

// A wrapper that needs a library nobody ships would fail on every volunteer
// host with "error while loading shared libraries": refused, naming it.
TEST_F(ProjectSetupTest, AWrapperThatWouldNotLoadOnABareHostIsRefusedNamingTheLibrary) {
  const auto files = snapshot();
  const auto db = db_snapshot();
  auto r = setup("install", {"--no-boinc-libs"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("would not load on a volunteer host"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("libboinc_api.so.7 (needed by mw-wrapper): not shipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("libzip.so.4 (needed by mw-wrapper)"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(), files);
  EXPECT_EQ(db_snapshot(), db);

  // Shipping only some: the rest is named, including what a shipped library needs.
  r = setup("install", {"--no-boinc-libs", "--boinc-lib", "/usr/lib/x86_64-linux-gnu/libzip.so.4"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.find("libzip.so.4 (needed by"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("libcrypto.so.3 (needed by"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(), files);

  // check says the same, as a problem.
  auto c = setup("check", {"--no-boinc-libs"});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.out.find("problem   the app version for " + kPlatform + " would not load"), std::string::npos) << c.out;
}

// check states the oldest glibc the app version loads with.
TEST_F(ProjectSetupTest, CheckShowsTheAppVersionsGlibcFloor) {
  ASSERT_EQ(setup("install").exit_code, 0);
  auto r = setup("check");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // The floor is the newest GLIBC_ version of the wrapper and what ships with it.
  auto closure = mw::detail::library_closure(wrapper_, {}, mw::detail::system_library_dirs());
  ASSERT_FALSE(closure.glibc_floor.empty());
  EXPECT_NE(r.out.find("present   app version for " + kPlatform + " loads on a host with only glibc >= " +
                       closure.glibc_floor + " (GLIBC_" + closure.glibc_floor + " from " + closure.glibc_floor_from +
                       "); ships " + std::to_string(closure.libraries.size()) + " libraries beyond glibc\n"),
            std::string::npos) << r.out;
}

// A second platform (docs/wrapper.md, "aarch64"): the cross-built wrapper,
// its library closure walked in the arm64 root, code-signed, recorded, and
// check shows both platforms' floors. Skipped without the aarch64 build
// (scripts/test.sh makes it).
TEST_F(ProjectSetupTest, AnAarch64AppVersionShipsItsOwnLibrariesFromTheArm64Root) {
  const std::string arm = "aarch64-unknown-linux-gnu";
  const std::string arm_wrapper = MW_AARCH64_BUILD "/client_wrapper/mw-wrapper";
  const std::string sysroot = MW_ARM64_SYSROOT;
  if (!mw::detail::path_exists(arm_wrapper) || !mw::detail::path_exists(sysroot + "/.mw-sysroot"))
    GTEST_SKIP() << arm_wrapper << " or the arm64 root " << sysroot
                 << " is missing: make them as docs/wrapper.md (\"aarch64\") says";
  const auto files = snapshot();
  // Without the root its libraries are found nowhere: refused, naming them.
  auto r = setup("install", {"--platform-wrapper", arm + "=" + arm_wrapper});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("the app version for " + arm + " would not load"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("libzip.so.4 (needed by mw-wrapper): not shipped"), std::string::npos) << r.err;
  // This machine's wrapper as the aarch64 one: both architectures named.
  r = setup("install", {"--platform-wrapper", arm + "=" + wrapper_, "--platform-root", arm + "=" + sysroot});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find(wrapper_ + " is built for x86_64, not for " + arm), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(), files);

  r = setup("install", {"--platform-wrapper", arm + "=" + arm_wrapper, "--platform-root", arm + "=" + sysroot});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto versions = rows(
      "SELECT av.xml_doc, p.name AS platform FROM app_version av JOIN platform p ON p.id = av.platformid "
      "ORDER BY av.id");
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0]["platform"], kPlatform);
  EXPECT_EQ(versions[1]["platform"], arm);
  const std::string doc = versions[1]["xml_doc"];
  const std::string prefix = project_ + "/download/mw_1.00_" + arm + "_";
  EXPECT_EQ(read_text(prefix + "mw-wrapper"), read_text(arm_wrapper));
  // Each library is the root's aarch64 file, signed like every app-version file.
  auto closure = mw::detail::library_closure(arm_wrapper, {}, mw::setup::root_library_dirs(sysroot, arm));
  ASSERT_THAT(closure.missing, ::testing::IsEmpty());
  ASSERT_GE(closure.libraries.size(), 8u);
  const std::string pub = read_text(project_ + "/keys/code_sign_public");
  for (const auto& lib : closure.libraries) {
    EXPECT_NE(doc.find("<open_name>" + lib.soname + "</open_name>\n    <copy_file/>"), std::string::npos) << doc;
    const std::string shipped = prefix + lib.soname;
    EXPECT_EQ(mw::detail::inspect_elf(shipped).machine, EM_AARCH64) << shipped;
    EXPECT_EQ(read_text(shipped), read_text(lib.path)) << lib.soname;
    const std::string sig = read_text(project_ + "/apps/mw/1.00/" + arm + "/mw_1.00_" + arm + "_" + lib.soname + ".sig");
    EXPECT_TRUE(crypto_oracle::check_file_signature2(mw::boinc::file_md5_hex(shipped), sig, pub).ok) << lib.soname;
  }
  // Recorded: check needs only the project, and prints each platform's floor.
  auto c = run_command({MW_PROJECT_SETUP, "check", "--project", project_});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("present   app version for " + arm + " loads on a host with only glibc >= " +
                       closure.glibc_floor + " (GLIBC_" + closure.glibc_floor + " from " + closure.glibc_floor_from +
                       "); ships " + std::to_string(closure.libraries.size()) + " libraries beyond glibc\n"),
            std::string::npos) << c.out;
  EXPECT_NE(c.out.find("present   app version for " + kPlatform + " loads on a host with only glibc >= "),
            std::string::npos) << c.out;
  EXPECT_NE(c.out.find("present   install record"), std::string::npos) << c.out;
}

// Installed (cmake --install puts every program in PREFIX/bin), mw-project-setup
// finds the wrapper and the daemons beside itself, as it finds them in the build tree.
TEST_F(ProjectSetupTest, FromAnInstalledPrefixTheProgramsBesideItAreInstalled) {
  const std::string bin = dir_ / "prefix/bin";
  ::mkdir((dir_ / "prefix").c_str(), 0755);
  ::mkdir(bin.c_str(), 0755);
  copy_executable(MW_PROJECT_SETUP, bin + "/mw-project-setup");
  copy_executable(MW_VALIDATOR_BUILT, bin + "/mw-validator");
  copy_executable(MW_ASSIMILATOR_BUILT, bin + "/mw-assimilator");
  copy_executable(wrapper_, bin + "/mw-wrapper");
  auto r = run_command({bin + "/mw-project-setup", "install", "--project", project_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("from " + bin + "/mw-validator"), std::string::npos) << r.out;
  EXPECT_EQ(read_text(project_ + "/download/mw_1.00_" + kPlatform + "_mw-wrapper"), read_text(wrapper_));
  EXPECT_TRUE(running("mw-validator --app mw"));
  EXPECT_EQ(run_command({bin + "/mw-project-setup", "check", "--project", project_}).exit_code, 0);
}

}  // namespace
