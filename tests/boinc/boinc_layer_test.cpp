// The BOINC project layer (config.xml, fan-out paths, templates) against BOINC
// itself: Debian's libsched 7.20.5 is the oracle (see layer_oracle.h), and the
// rows a real BOINC server wrote are golden data (tests/boinc/data/).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "boinc/layer_oracle.h"
#include "boinc/md5.h"
#include "boinc/template_lexer.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/md5_info.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/templates.h"
#include "mw/error.h"
#include "support/test_support.h"

namespace mw::boinc {
namespace {

using mw::test::error_of;
using mw::test::read_text;
using mw::test::ScratchDir;
using mw::test::write_text;

const std::string kData = std::string(MW_SOURCE_DIR) + "/tests/boinc/data/";
const std::string kDownloadUrl = "http://127.0.0.1/lab/download";
const std::string kUploadUrl = "http://127.0.0.1/lab_cgi/file_upload_handler";

std::string data(const std::string& name) { return read_text(kData + name); }

// The value of one column in a `mysql \G` dump: from "name: " to the next
// line that starts another column (right-aligned "  other: ").
std::string column(const std::string& dump, const std::string& name) {
  const std::string key = " " + name + ": ";
  const std::size_t at = dump.find(key);
  if (at == std::string::npos) return "<missing " + name + ">";
  const std::size_t start = at + key.size();
  std::size_t pos = start;
  for (;;) {
    const std::size_t nl = dump.find('\n', pos);
    if (nl == std::string::npos) return dump.substr(start);
    // A following column line: spaces, an identifier, ": ".
    std::size_t i = nl + 1;
    while (i < dump.size() && dump[i] == ' ') ++i;
    std::size_t j = i;
    while (j < dump.size() && (std::isalnum(static_cast<unsigned char>(dump[j])) || dump[j] == '_')) ++j;
    if (j > i && i > nl + 1 && dump.compare(j, 2, ": ") == 0) return dump.substr(start, nl - start);
    pos = nl + 1;
  }
}

void set_mtime(const std::string& path, time_t when) {
  struct timeval tv[2] = {{when, 0}, {when, 0}};
  ASSERT_EQ(utimes(path.c_str(), tv), 0) << path;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// ---------------------------------------------------------------- config.xml

ProjectConfig read_config_text(const ScratchDir& dir, const std::string& text) {
  write_text(dir / "config.xml", text);
  return read_project_config(dir.path());
}

std::string minimal_config(const std::string& extra) {
  return "<boinc><config>\n"
         "<db_name>p</db_name><download_dir>/p/download</download_dir>\n"
         "<upload_dir>/p/upload</upload_dir><download_url>http://h/p/download</download_url>\n"
         "<upload_url>http://h/p_cgi/file_upload_handler</upload_url>\n" +
         extra + "</config></boinc>\n";
}

TEST(ProjectConfigTest, ReadsTheRealProjectsConfig) {
  ScratchDir dir;
  ProjectConfig c = read_config_text(dir, data("config.xml"));
  EXPECT_EQ(c.config_path, dir / "config.xml");
  EXPECT_EQ(c.project_dir, dir.path());
  EXPECT_EQ(c.long_name, "Lab Test Project");
  EXPECT_EQ(c.db_name, "lab");
  EXPECT_EQ(c.db_host, "localhost");
  EXPECT_EQ(c.db_port, 0);
  EXPECT_EQ(c.db_user, "boincadm");
  EXPECT_EQ(c.db_passwd, "DB_PASSWORD");
  EXPECT_EQ(c.host, "vm");
  EXPECT_EQ(c.master_url, "http://127.0.0.1/lab/");
  EXPECT_EQ(c.download_url, "http://127.0.0.1/lab/download");
  EXPECT_EQ(c.download_dir, "/home/boincadm/projects/lab/download");
  EXPECT_EQ(c.upload_url, "http://127.0.0.1/lab_cgi/file_upload_handler");
  EXPECT_EQ(c.upload_dir, "/home/boincadm/projects/lab/upload");
  EXPECT_EQ(c.key_dir, "/home/boincadm/projects/lab/keys/");
  EXPECT_EQ(c.app_dir, "/home/boincadm/projects/lab/apps");
  EXPECT_EQ(c.uldl_dir_fanout, 1024);
  EXPECT_TRUE(c.cache_md5_info);
  EXPECT_TRUE(c.dont_generate_upload_certificates);
  EXPECT_TRUE(c.ignore_upload_certificates);
  EXPECT_TRUE(c.one_result_per_host_per_wu);
  EXPECT_FALSE(c.one_result_per_user_per_wu);

  ASSERT_EQ(c.daemons.size(), 5u);
  const DaemonConfig& feeder = c.daemons[0];
  EXPECT_EQ(feeder.cmd, "feeder -d 3");
  EXPECT_EQ(feeder.program(), "feeder");
  EXPECT_TRUE(feeder.output.empty());
  EXPECT_FALSE(feeder.disabled);
  // The file names the real project's pid_vm/ and log_vm/ hold.
  EXPECT_EQ(feeder.output_or_default(), "feeder.log");
  EXPECT_EQ(feeder.pid_file_or_default(), "feeder.pid");
  EXPECT_EQ(feeder.lock_file_or_default(), "feeder.lock");
  const DaemonConfig& validator = c.daemons[3];
  EXPECT_EQ(validator.cmd, "sample_bitwise_validator -d 3 --app uppercase");
  EXPECT_EQ(validator.program(), "sample_bitwise_validator");
  EXPECT_EQ(validator.output_or_default(), "validator_uppercase.log");
  EXPECT_EQ(validator.pid_file_or_default(), "validator_uppercase.pid");
  EXPECT_EQ(validator.lock_file_or_default(), "validator_uppercase.log.lock");
  EXPECT_EQ(c.daemons[4].cmd, "batch_collect_assimilator -d 3 --app uppercase");
}

TEST(ProjectConfigTest, AgreesWithBoincsOwnParser) {
  const std::vector<std::string> configs = {
      data("config.xml"),
      minimal_config("<uldl_dir_fanout>0x400</uldl_dir_fanout><cache_md5_info/>"
                     "<one_result_per_user_per_wu>2</one_result_per_user_per_wu>"
                     "<db_passwd> a&amp;b&lt;c </db_passwd><db_host>db.example:3307</db_host>"),
      minimal_config("<uldl_dir_fanout>010</uldl_dir_fanout><ignore_upload_certificates> 0x0 </ignore_upload_certificates>"
                     "<project_dir>/elsewhere</project_dir><key_dir>/k</key_dir>"),
      minimal_config(""),
  };
  for (const auto& text : configs) {
    ScratchDir dir;
    ProjectConfig ours = read_config_text(dir, text);
    oracle::ParsedConfig boinc = oracle::parse_config(dir.path());
    ASSERT_EQ(boinc.rc, 0) << text;
    EXPECT_EQ(ours.master_url, boinc.master_url);
    EXPECT_EQ(ours.long_name, boinc.long_name);
    EXPECT_EQ(ours.db_name, boinc.db_name);
    EXPECT_EQ(ours.db_user, boinc.db_user);
    EXPECT_EQ(ours.db_passwd, boinc.db_passwd);
    const std::string host = ours.db_port ? ours.db_host + ":" + std::to_string(ours.db_port) : ours.db_host;
    EXPECT_EQ(host, boinc.db_host);
    EXPECT_EQ(ours.download_url, boinc.download_url);
    EXPECT_EQ(ours.download_dir, boinc.download_dir);
    EXPECT_EQ(ours.upload_url, boinc.upload_url);
    EXPECT_EQ(ours.upload_dir, boinc.upload_dir);
    EXPECT_EQ(ours.key_dir, boinc.key_dir);
    EXPECT_EQ(ours.project_dir, boinc.project_dir.empty() ? dir.path() : boinc.project_dir);
    EXPECT_EQ(ours.uldl_dir_fanout, boinc.uldl_dir_fanout) << text;
    EXPECT_EQ(ours.cache_md5_info, boinc.cache_md5_info);
    EXPECT_EQ(ours.dont_generate_upload_certificates, boinc.dont_generate_upload_certificates);
    EXPECT_EQ(ours.ignore_upload_certificates, boinc.ignore_upload_certificates);
    EXPECT_EQ(ours.one_result_per_host_per_wu, boinc.one_result_per_host_per_wu);
    EXPECT_EQ(ours.one_result_per_user_per_wu, boinc.one_result_per_user_per_wu);
  }
}

TEST(ProjectConfigTest, SplitsHostAndPortAndDefaultsFanoutToFlat) {
  ScratchDir dir;
  ProjectConfig c = read_config_text(dir, minimal_config("<db_host> db.example:3307 </db_host>"));
  EXPECT_EQ(c.db_host, "db.example");
  EXPECT_EQ(c.db_port, 3307);
  EXPECT_EQ(c.uldl_dir_fanout, 0);  // absent: flat, as in BOINC
  EXPECT_FALSE(c.cache_md5_info);
  EXPECT_TRUE(c.daemons.empty());

  char hostname[256] = {};
  ASSERT_EQ(gethostname(hostname, sizeof(hostname) - 1), 0);
  c = read_config_text(dir, minimal_config(std::string("<db_host>") + hostname + "</db_host>"));
  EXPECT_EQ(c.db_host, "localhost");
}

TEST(ProjectConfigTest, ErrorsNameTheFileAndTheElement) {
  ScratchDir dir;
  std::string msg = error_of([&] { read_project_config(dir.path()); }, Errc::io);
  EXPECT_NE(msg.find(dir / "config.xml"), std::string::npos) << msg;

  msg = error_of([&] { read_config_text(dir, "<boinc><config>\n<db_name>x</db_name>\n<oops></boinc>"); },
                 Errc::format);
  EXPECT_NE(msg.find(dir / "config.xml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line "), std::string::npos) << msg;

  msg = error_of([&] { read_config_text(dir, "<boinc>\n<config>\n<db_name>x</db_name>\n</config></boinc>"); },
                 Errc::format);
  EXPECT_NE(msg.find("download_dir"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;

  msg = error_of([&] { read_config_text(dir, minimal_config("<uldl_dir_fanout>1k</uldl_dir_fanout>\n")); },
                 Errc::format);
  EXPECT_NE(msg.find("<uldl_dir_fanout>"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'1k'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 5"), std::string::npos) << msg;

  msg = error_of([&] { read_config_text(dir, minimal_config("<uldl_dir_fanout>-4</uldl_dir_fanout>")); },
                 Errc::format);
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  msg = error_of([&] { read_config_text(dir, minimal_config("<cache_md5_info>yes</cache_md5_info>")); },
                 Errc::format);
  EXPECT_NE(msg.find("<cache_md5_info>"), std::string::npos) << msg;
  // BOINC's own parser gives up on the whole file here.
  msg = error_of([&] { read_config_text(dir, minimal_config("<cache_md5_info></cache_md5_info>")); },
                 Errc::format);
  EXPECT_NE(msg.find("<cache_md5_info>0</cache_md5_info>"), std::string::npos) << msg;
  EXPECT_NE(oracle::parse_config(dir.path()).rc, 0);
  msg = error_of([&] { read_config_text(dir, minimal_config("<db_host>h:port</db_host>")); }, Errc::format);
  EXPECT_NE(msg.find("port"), std::string::npos) << msg;
  msg = error_of([&] { read_config_text(dir, "<boinc><daemons/><config/></boinc>"); }, Errc::format);
  EXPECT_NE(msg.find("must begin with <config>"), std::string::npos) << msg;
  msg = error_of(
      [&] {
        std::string text = minimal_config("");
        text.replace(text.find("</boinc>"), 8, "<daemons><daemon><output>x</output></daemon></daemons></boinc>");
        read_config_text(dir, text);
      },
      Errc::format);
  EXPECT_NE(msg.find("<daemon>"), std::string::npos) << msg;
  EXPECT_NE(msg.find("<cmd>"), std::string::npos) << msg;
}

// Restores the working directory and BOINC_PROJECT_DIR when a test ends.
class ProjectDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char buf[4096];
    ASSERT_NE(getcwd(buf, sizeof(buf)), nullptr);
    cwd_ = buf;
    if (const char* env = std::getenv("BOINC_PROJECT_DIR")) saved_env_ = env;
    unsetenv("BOINC_PROJECT_DIR");
  }
  void TearDown() override {
    EXPECT_EQ(chdir(cwd_.c_str()), 0);
    if (saved_env_) setenv("BOINC_PROJECT_DIR", saved_env_->c_str(), 1);
    else unsetenv("BOINC_PROJECT_DIR");
  }
  static void make_project(const std::string& dir) {
    write_text(dir + "/config.xml", minimal_config(""));
    ASSERT_EQ(mkdir((dir + "/cgi-bin").c_str(), 0755), 0);
  }
  std::string cwd_;
  std::optional<std::string> saved_env_;
};

TEST_F(ProjectDirTest, FollowsBoincsSearchOrder) {
  ScratchDir root;
  const std::string project = root / "proj";
  ASSERT_EQ(mkdir(project.c_str(), 0755), 0);
  make_project(project);
  ASSERT_EQ(mkdir((project + "/tmp_vm").c_str(), 0755), 0);

  EXPECT_EQ(find_project_dir(project), project);
  ASSERT_EQ(chdir(project.c_str()), 0);
  EXPECT_EQ(find_project_dir(), ".");
  ASSERT_EQ(chdir((project + "/tmp_vm").c_str()), 0);  // where BOINC daemons run
  EXPECT_EQ(find_project_dir(), "..");

  setenv("BOINC_PROJECT_DIR", project.c_str(), 1);
  ASSERT_EQ(chdir(root.path().c_str()), 0);
  EXPECT_EQ(find_project_dir(), project);
  // The hint wins over the environment.
  std::string msg = error_of([&] { find_project_dir(root.path()); }, Errc::usage);
  EXPECT_NE(msg.find("config.xml and cgi-bin/"), std::string::npos) << msg;

  setenv("BOINC_PROJECT_DIR", root.path().c_str(), 1);
  msg = error_of([&] { find_project_dir(); }, Errc::usage);
  EXPECT_NE(msg.find("BOINC_PROJECT_DIR"), std::string::npos) << msg;

  unsetenv("BOINC_PROJECT_DIR");
  msg = error_of([&] { find_project_dir(); }, Errc::usage);
  EXPECT_NE(msg.find("not in a BOINC project directory"), std::string::npos) << msg;
}

TEST_F(ProjectDirTest, NeedsBothConfigAndCgiBin) {
  ScratchDir dir;
  write_text(dir / "config.xml", minimal_config(""));
  std::string msg = error_of([&] { find_project_dir(dir.path()); }, Errc::usage);
  EXPECT_NE(msg.find("cgi-bin/"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("config.xml"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- fan-out

TEST(HierarchyTest, MatchesTheReferenceExamples) {
  EXPECT_EQ(fanout_dir("job1_in.dat", 1024), "113");
  EXPECT_EQ(fanout_dir("example_app_1_2_in", 1024), "89");
  EXPECT_EQ(fanout_dir("wu_0_r123_0", 1024), "3f5");
  // The real rows: probe_in.txt under download/384, in_q2_1.txt under 1be.
  EXPECT_EQ(dir_hier_url("probe_in.txt", kDownloadUrl, 1024), kDownloadUrl + "/384/probe_in.txt");
  EXPECT_EQ(dir_hier_url("in_q2_1.txt", kDownloadUrl, 1024), kDownloadUrl + "/1be/in_q2_1.txt");
  EXPECT_EQ(dir_hier_path("x", "/d", 0), "/d/x");
  EXPECT_EQ(error_of([] { dir_hier_path("x", "/d", -1); }, Errc::usage).empty(), false);
}

std::vector<std::string> realistic_names(std::size_t count) {
  std::vector<std::string> names;
  std::mt19937 rng(20261122);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
  for (std::size_t i = 0; names.size() < count; ++i) {
    switch (i % 6) {
      case 0: names.push_back("job" + std::to_string(i) + "_in"); break;
      case 1: names.push_back("jf_" + detail::md5_hex(std::to_string(i))); break;
      case 2: names.push_back("batch_" + std::to_string(i / 7) + ".task_" + std::to_string(i) + ".zip"); break;
      case 3: names.push_back("wu_" + std::to_string(i) + "_" + std::to_string(i % 3) + "_r" +
                              std::to_string(rng() % 2147483647u) + "_0"); break;
      case 4: {
        std::string s(100 + rng() % 90, 'x');  // long names, up to 189 characters
        for (auto& c : s) c = alphabet[rng() % alphabet.size()];
        names.push_back(s);
        break;
      }
      default: {
        std::string s(1 + rng() % 24, 'x');
        for (auto& c : s) c = alphabet[rng() % alphabet.size()];
        names.push_back(s);
      }
    }
  }
  return names;
}

TEST(HierarchyTest, PathsAndUrlsEqualLibschedsForTenThousandNames) {
  const auto names = realistic_names(10000);
  const std::string root = "/home/boincadm/projects/lab/download";
  std::size_t compared = 0;
  for (int fanout : {256, 1024, 0, 1, 7, 4096}) {
    std::set<std::string> dirs;
    for (const auto& name : names) {
      const std::string ours = dir_hier_path(name, root, fanout);
      ASSERT_EQ(ours, oracle::dir_hier_path(name, root, fanout, false)) << name << " fanout " << fanout;
      ASSERT_EQ(dir_hier_url(name, kDownloadUrl, fanout), oracle::dir_hier_url(name, kDownloadUrl, fanout))
          << name << " fanout " << fanout;
      if (fanout > 0) dirs.insert(fanout_dir(name, fanout));
      ++compared;
    }
    // 10^4 names cover (almost) every directory: the hash spreads them.
    if (fanout == 256) {
      EXPECT_EQ(dirs.size(), 256u);
    }
    if (fanout == 1024) {
      EXPECT_GT(dirs.size(), 1000u);
    }
  }
  EXPECT_EQ(compared, 60000u);
}

TEST(HierarchyTest, CreatesFanoutDirectoriesLikeBoinc) {
  ScratchDir dir;
  const mode_t old = umask(077);  // BOINC's mode does not depend on the umask
  ASSERT_EQ(mkdir((dir / "a").c_str(), 0755), 0);
  ASSERT_EQ(make_dir_hier_path("job1_in.dat", dir / "a", 1024), dir / "a/113/job1_in.dat");
  ASSERT_EQ(mkdir((dir / "b").c_str(), 0755), 0);
  const std::string boinc = oracle::dir_hier_path("job1_in.dat", dir / "b", 1024, true);
  umask(old);
  EXPECT_EQ(boinc, dir / "b/113/job1_in.dat");
  EXPECT_EQ(mode_of(dir / "a/113"), kFanoutDirMode);
  EXPECT_EQ(mode_of(dir / "a/113"), mode_of(dir / "b/113"));
  // Existing directories are left alone; a file in the way is an error.
  ASSERT_EQ(chmod((dir / "a/113").c_str(), 0755), 0);
  make_dir_hier_path("job1_in.dat", dir / "a", 1024);
  EXPECT_EQ(mode_of(dir / "a/113"), 0755u);
  write_text(dir / "a/89", "not a directory");
  std::string msg = error_of([&] { make_dir_hier_path("example_app_1_2_in", dir / "a", 1024); }, Errc::io);
  EXPECT_NE(msg.find(dir / "a/89"), std::string::npos) << msg;
}

TEST(HierarchyTest, MakeDirFailsWithoutRoot) {
  ScratchDir dir;
  std::string msg = error_of([&] { make_dir_hier_path("job1_in.dat", dir / "missing", 1024); }, Errc::io);
  EXPECT_NE(msg.find(dir / "missing/113"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- .md5 cache

TEST(Md5InfoTest, FollowsBoincsCacheRules) {
  ScratchDir dir;
  const std::string f = dir / "in.dat";
  write_text(f, "hello\n");
  const FileDigest d = md5_file(f);
  EXPECT_EQ(d.md5, "b1946ac92492d2347c6235b4d2611184");
  EXPECT_EQ(d.nbytes, 6);
  EXPECT_EQ(format_md5_info(d), "b1946ac92492d2347c6235b4d2611184 6.000000000000000e+00\n");

  EXPECT_FALSE(read_md5_info(f));
  write_md5_info(f, d);
  EXPECT_EQ(read_text(f + ".md5"), format_md5_info(d));
  auto cached = read_md5_info(f);
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->md5, d.md5);

  // Never replaced, even by different data.
  write_md5_info(f, FileDigest{"00000000000000000000000000000000", 1});
  EXPECT_EQ(read_text(f + ".md5"), format_md5_info(d));

  // Any word and number, one newline, nothing after.
  write_text(f + ".md5", "ABC\n 12\n");
  ASSERT_TRUE(read_md5_info(f));
  EXPECT_EQ(read_md5_info(f)->md5, "ABC");
  EXPECT_EQ(read_md5_info(f)->nbytes, 12);
  for (const char* bad : {"abc 12", "abc 12\n\n", "abc\n", "abc x\n", "", "abc 12 \n"}) {
    write_text(f + ".md5", bad);
    EXPECT_FALSE(read_md5_info(f)) << bad;
    EXPECT_TRUE(exists(f + ".md5")) << "only stale side files are deleted";
  }

  // Older than the data file (whole seconds): deleted.
  write_text(f + ".md5", format_md5_info(d));
  set_mtime(f, 2000000000);
  set_mtime(f + ".md5", 1999999999);
  EXPECT_FALSE(read_md5_info(f));
  EXPECT_FALSE(exists(f + ".md5"));
  EXPECT_EQ(staged_file_digest(f, true).md5, d.md5);
  EXPECT_EQ(read_text(f + ".md5"), format_md5_info(d));

  EXPECT_EQ(error_of([&] { md5_file(dir / "missing"); }, Errc::io).find(dir / "missing") != std::string::npos,
            true);
}

TEST(TemplateTextTest, UnescapeMatchesLibboinc) {
  const std::vector<std::string> fixed = {
      "&lt;&gt;&amp;&quot;&apos;", "&#65;&#66", "&#;x", "&#300;y", "&#x41;", "&#xa;&#xA;&#xd;&#xD;",
      "&foo; &", "&#65x;", "&#0065;", "&#12345;z", "&#9;t", "a&#", "&#255;", "&#0;cut", "&#00000000000065;",
      "&#99999999999999999999;", "&amp;lt;", "&&lt;", "&#-5;", "&#+5;", "&# 5;"};
  for (const auto& t : fixed) EXPECT_EQ(detail::unescape(t), oracle::xml_unescape(t)) << t;
  std::mt19937 rng(11);
  const std::vector<std::string> atoms = {"&", "#", ";", "x", "X", "a", "A", "1", "0", "9", "2", "5", "lt", "gt",
                                          "amp", "quot", "apos", " ", "\xc3\xa9", "&#", "&#x", "D", "d"};
  for (int i = 0; i < 20000; ++i) {
    std::string t;
    for (int n = static_cast<int>(rng() % 12); n > 0; --n) t += atoms[rng() % atoms.size()];
    ASSERT_EQ(detail::unescape(t), oracle::xml_unescape(t)) << t;
  }
}

// ---------------------------------------------------------------- input templates

// Two identical projects: mwkit works in one, libsched in the other, and the
// results (xml_doc, workunit values, files left in download/) must agree.
class Twin {
 public:
  explicit Twin(int fanout, bool cache_md5_info = true) {
    for (const char* side : {"ours", "boinc"}) {
      const std::string dl = root_ / side;
      EXPECT_EQ(mkdir(dl.c_str(), 0755), 0);
    }
    config_.download_dir = root_ / "ours";
    config_.download_url = kDownloadUrl;
    config_.upload_url = kUploadUrl;
    config_.uldl_dir_fanout = fanout;
    config_.cache_md5_info = cache_md5_info;
    config_.dont_generate_upload_certificates = true;
    config_.config_path = root_ / "config.xml";
    boinc_.download_dir = root_ / "boinc";
    boinc_.download_url = kDownloadUrl;
    boinc_.upload_url = kUploadUrl;
    boinc_.fanout = fanout;
    boinc_.cache_md5_info = cache_md5_info;
  }

  // Writes a file (and optionally its side file) into both download trees,
  // in the hierarchy or, with top=true, at the top of download/.
  void stage(const std::string& name, const std::string& content, bool top = false,
             const std::optional<std::string>& md5_file_text = std::nullopt) {
    for (const char* side : {"ours", "boinc"}) {
      const std::string dl = root_ / side;
      const std::string path = top ? dl + "/" + name : make_dir_hier_path(name, dl, config_.uldl_dir_fanout);
      write_text(path, content);
      set_mtime(path, 1700000000);
      if (md5_file_text) {
        write_text(path + ".md5", *md5_file_text);
        set_mtime(path + ".md5", 1700000000);
      }
    }
  }
  // A file that only needs its side file (the content is never read).
  void stage_with_md5(const std::string& name, const std::string& md5, double nbytes) {
    stage(name, std::string(static_cast<std::size_t>(nbytes), 'x'), false,
          format_md5_info(FileDigest{md5, nbytes}));
  }

  std::string ours_path(const std::string& name) const {
    return dir_hier_path(name, root_ / "ours", config_.uldl_dir_fanout);
  }
  std::string boinc_path(const std::string& name) const {
    return dir_hier_path(name, root_ / "boinc", config_.uldl_dir_fanout);
  }

  // Files and contents left in both trees must be the same.
  void expect_same_trees() const {
    auto ours = mw::test::list_tree(root_ / "ours");
    auto boinc = mw::test::list_tree(root_ / "boinc");
    ASSERT_EQ(ours, boinc);
    for (const auto& rel : ours) {
      const std::string a = root_ / ("ours/" + rel);
      const std::string b = root_ / ("boinc/" + rel);
      struct stat st {};
      ASSERT_EQ(::stat(a.c_str(), &st), 0);
      if (S_ISDIR(st.st_mode)) {
        EXPECT_EQ(mode_of(a), mode_of(b)) << rel;
        continue;
      }
      EXPECT_EQ(read_text(a), read_text(b)) << rel;
      EXPECT_EQ(mode_of(a), mode_of(b)) << rel;
    }
  }

  ProjectConfig& config() { return config_; }

  struct Run {
    std::optional<WorkunitDoc> ours;
    std::string our_error;
    oracle::Workunit boinc;
  };

  // Runs both; `files` name the staged files (or remote ones).
  Run run(const std::string& tmpl, const std::vector<InputFile>& files,
          const std::optional<std::string>& command_line = std::nullopt, const std::string& additional = "") {
    Run r;
    std::vector<oracle::Infile> infiles;
    for (const auto& f : files) {
      oracle::Infile in;
      in.name = f.name;
      if (!f.url.empty()) {
        in.remote = true;
        in.url = f.url;
        in.md5 = f.digest->md5;
        in.nbytes = f.digest->nbytes;
      }
      infiles.push_back(in);
    }
    r.boinc = oracle::process_input_template(tmpl, infiles, boinc_, command_line ? command_line->c_str() : nullptr,
                                             additional.empty() ? nullptr : additional.c_str());
    try {
      r.ours = make_workunit_doc(InputTemplate::parse(tmpl, "test_in"), files, config_, command_line, additional);
    } catch (const Error& e) {
      r.our_error = e.what();
    }
    return r;
  }

  // Runs both and expects the same bytes and values; returns our document.
  WorkunitDoc expect_same(const std::string& tmpl, const std::vector<InputFile>& files,
                          const std::optional<std::string>& command_line = std::nullopt,
                          const std::string& additional = "") {
    Run r = run(tmpl, files, command_line, additional);
    EXPECT_EQ(r.boinc.rc, 0) << "BOINC refused the template:\n" << tmpl;
    EXPECT_TRUE(r.ours) << r.our_error;
    if (!r.ours || r.boinc.rc != 0) return {};
    EXPECT_EQ(r.ours->xml_doc, r.boinc.xml_doc) << tmpl;
    expect_same_values(r.ours->values, r.boinc);
    expect_same_trees();
    return *r.ours;
  }

  // Either both refuse or both produce the same document; true when accepted.
  bool expect_agreement(const std::string& tmpl, const std::vector<InputFile>& files,
                        const std::optional<std::string>& command_line = std::nullopt) {
    Run r = run(tmpl, files, command_line);
    if (r.boinc.rc != 0) {
      EXPECT_FALSE(r.ours) << "BOINC refused but mwkit accepted:\n" << tmpl;
      return false;
    }
    EXPECT_TRUE(r.ours) << "BOINC accepted but mwkit refused: " << r.our_error;
    if (!r.ours) return false;
    EXPECT_EQ(r.ours->xml_doc, r.boinc.xml_doc);
    expect_same_values(r.ours->values, r.boinc);
    return true;
  }

  // Both must refuse; returns our message.
  std::string expect_both_refuse(const std::string& tmpl, const std::vector<InputFile>& files,
                                 const std::optional<std::string>& command_line = std::nullopt) {
    Run r = run(tmpl, files, command_line);
    EXPECT_NE(r.boinc.rc, 0) << "BOINC accepted:\n" << tmpl << "\n" << r.boinc.xml_doc;
    EXPECT_FALSE(r.ours) << "mwkit accepted:\n" << tmpl << "\n" << (r.ours ? r.ours->xml_doc : "");
    return r.our_error;
  }

  static void expect_same_values(const TemplateWorkunitValues& v, const oracle::Workunit& w) {
    using oracle::kUnsetDouble;
    using oracle::kUnsetInt;
    EXPECT_EQ(v.rsc_fpops_est.value_or(kUnsetDouble), w.rsc_fpops_est);
    EXPECT_EQ(v.rsc_fpops_bound.value_or(kUnsetDouble), w.rsc_fpops_bound);
    EXPECT_EQ(v.rsc_memory_bound.value_or(kUnsetDouble), w.rsc_memory_bound);
    EXPECT_EQ(v.rsc_bandwidth_bound.value_or(kUnsetDouble), w.rsc_bandwidth_bound);
    EXPECT_EQ(v.rsc_disk_bound.value_or(kUnsetDouble), w.rsc_disk_bound);
    EXPECT_EQ(v.batch.value_or(kUnsetInt), w.batch);
    EXPECT_EQ(v.delay_bound.value_or(kUnsetInt), w.delay_bound);
    EXPECT_EQ(v.min_quorum.value_or(kUnsetInt), w.min_quorum);
    EXPECT_EQ(v.target_nresults.value_or(kUnsetInt), w.target_nresults);
    EXPECT_EQ(v.max_error_results.value_or(kUnsetInt), w.max_error_results);
    EXPECT_EQ(v.max_total_results.value_or(kUnsetInt), w.max_total_results);
    EXPECT_EQ(v.max_success_results.value_or(kUnsetInt), w.max_success_results);
    EXPECT_EQ(v.size_class.value_or(kUnsetInt), w.size_class);
  }

 private:
  ScratchDir root_;
  ProjectConfig config_;
  oracle::Config boinc_;
};

TEST(InputTemplateTest, RealUppercaseTemplateGivesTheRealRowsXmlDoc) {
  // Workunit 6617 of the real server: libsched create_work with templates/uppercase_in
  // and probe_in.txt (25 bytes, md5 19ecf9f7…), fanout 1024.
  const std::string golden = column(data("rows-quorum1-wu6617.txt"), "xml_doc");
  ASSERT_EQ(golden.substr(0, 12), "<file_info>\n");
  Twin twin(1024);
  twin.stage_with_md5("probe_in.txt", "19ecf9f7de13ae58c2b261ad68959e4c", 25);
  WorkunitDoc doc = twin.expect_same(data("uppercase_in"), {InputFile::staged("probe_in.txt")});
  EXPECT_EQ(doc.xml_doc, golden);
  EXPECT_EQ(doc.values.rsc_fpops_est, 1e9);
  EXPECT_EQ(doc.values.rsc_fpops_bound, 1e12);
  EXPECT_EQ(doc.values.delay_bound, 86400);
  EXPECT_EQ(doc.values.min_quorum, 1);
  EXPECT_EQ(doc.values.target_nresults, 1);
  EXPECT_FALSE(doc.values.max_error_results);
  ASSERT_EQ(doc.files.size(), 1u);
  EXPECT_EQ(doc.files[0].name, "probe_in.txt");
  EXPECT_EQ(doc.files[0].md5, "19ecf9f7de13ae58c2b261ad68959e4c");
  EXPECT_EQ(doc.files[0].nbytes, 25);

  // The same bytes without touching the file system, when MD5 and size are known.
  Twin empty(1024);
  WorkunitDoc known = make_workunit_doc(InputTemplate::parse(data("uppercase_in"), "uppercase_in"),
                                        {InputFile::known("probe_in.txt", {"19ecf9f7de13ae58c2b261ad68959e4c", 25})},
                                        empty.config());
  EXPECT_EQ(known.xml_doc, golden);
  EXPECT_TRUE(mw::test::list_tree(empty.config().download_dir).empty());
}

TEST(InputTemplateTest, RealQuorum2Template) {
  Twin twin(1024);
  twin.stage_with_md5("in_q2_1.txt", "304ffa58312337c5329ff48f1b668696", 39);
  WorkunitDoc doc = twin.expect_same(data("uppercase_q2_in"), {InputFile::staged("in_q2_1.txt")});
  EXPECT_FALSE(doc.values.min_quorum);  // left to the caller (gotcha 17)
  EXPECT_EQ(doc.values.max_error_results, 3);
  EXPECT_EQ(doc.values.max_total_results, 6);
  EXPECT_EQ(doc.values.max_success_results, 4);
  // Row 6620 (BOINC 8.3's bin/create_work passed an empty command line too;
  // 7.20 refuses that) holds the same <file_info> and <file_ref>.
  const std::string golden = column(data("rows-quorum2-wu6620.txt"), "xml_doc");
  const std::string file_info = golden.substr(0, golden.find("<workunit>"));
  EXPECT_EQ(doc.xml_doc.substr(0, doc.xml_doc.find("<workunit>")), file_info);
  EXPECT_NE(golden.find(doc.xml_doc.substr(doc.xml_doc.find("<file_ref>"))), std::string::npos);
  // expect_same also compared the .md5 side files both wrote.
}

TEST(InputTemplateTest, ConstantStickyAndNoDeleteFiles) {
  Twin twin(1024);
  twin.stage_with_md5("shared_v3", "0123456789abcdef0123456789abcdef", 1234567);
  twin.stage("job17_in", "payload of job 17\n");
  const std::string tmpl = R"(<input_template>
    <file_info>
        <physical_name>shared_v3</physical_name>
        <no_delete/>
        <sticky/>
    </file_info>
    <file_info>
        <number>1</number>
    </file_info>
    <workunit>
        <file_ref>
            <file_number>0</file_number>
            <open_name>db</open_name>
            <copy_file/>
        </file_ref>
        <file_ref>
            <open_name>in.dat</open_name>
        </file_ref>
        <rsc_memory_bound>2e9</rsc_memory_bound>
    </workunit>
</input_template>
)";
  WorkunitDoc doc = twin.expect_same(tmpl, {InputFile::staged("job17_in")});
  ASSERT_EQ(doc.files.size(), 2u);
  EXPECT_EQ(doc.files[0].name, "shared_v3");
  EXPECT_EQ(doc.files[0].nbytes, 1234567);
  EXPECT_NE(doc.xml_doc.find("<no_delete/>\n<sticky/>\n    <name>shared_v3</name>"), std::string::npos)
      << doc.xml_doc;

  // The constant file's side file is read even without cache_md5_info.
  Twin uncached(1024, /*cache_md5_info=*/false);
  uncached.stage_with_md5("shared_v3", "0123456789abcdef0123456789abcdef", 1234567);
  uncached.stage("job17_in", "payload of job 17\n");
  EXPECT_EQ(uncached.expect_same(tmpl, {InputFile::staged("job17_in")}).xml_doc, doc.xml_doc);

  // A constant file needs its .md5 file; BOINC never hashes it.
  Twin bare(1024);
  bare.stage("shared_v3", "content");
  bare.stage("job17_in", "x");
  std::string msg = bare.expect_both_refuse(tmpl, {InputFile::staged("job17_in")});
  EXPECT_NE(msg.find("shared_v3"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".md5"), std::string::npos) << msg;
}

TEST(InputTemplateTest, SeveralFilesRefsAndOtherElements) {
  Twin twin(256);
  twin.stage("a.dat", "aaaa");
  twin.stage("b_2.in", std::string(70000, 'b'));
  twin.stage("jf_c.bin", "");
  const std::string tmpl = R"(<input_template>
<file_info><number>0</number><executable/></file_info>
<file_info>
  <number>1</number>
  <foo>  some <b>bold</b>  text  </foo>
</file_info>
<file_info><number>2</number><sticky/><no_delete/></file_info>
<workunit>
  <file_ref><file_number>0</file_number><open_name>prog</open_name><main_program/></file_ref>
  <file_ref>
    <file_number>1</file_number>
    <file_name>ignored</file_name>
    <copy_file/>
    <bar>x &amp; y</bar>
  </file_ref>
  <file_ref><open_name>third</open_name><copy_file/></file_ref>
  <credit>3.5</credit>
  <priority>5</priority>
</workunit>
</input_template>)";
  WorkunitDoc doc = twin.expect_same(
      tmpl, {InputFile::staged("a.dat"), InputFile::staged("b_2.in"), InputFile::staged("jf_c.bin")});
  EXPECT_NE(doc.xml_doc.find("    <open_name>b_2.in</open_name>"), std::string::npos) << doc.xml_doc;
  EXPECT_NE(doc.xml_doc.find("<priority>5</priority>"), std::string::npos);
  EXPECT_EQ(doc.files[1].nbytes, 70000);
}

TEST(InputTemplateTest, CommandLines) {
  Twin twin(1024);
  twin.stage("in1", "1");
  const std::string no_cmd =
      "<input_template><file_info/><file_info></file_info><workunit>"
      "<file_ref><open_name>in</open_name></file_ref></workunit></input_template>";
  // <file_info/> is not a file_info for BOINC: only the second one counts.
  twin.expect_same(no_cmd, {InputFile::staged("in1")}, std::string("--steps 100 --seed 7"));
  twin.expect_same(no_cmd, {InputFile::staged("in1")}, std::string(""));
  twin.expect_same(no_cmd, {InputFile::staged("in1")});

  const std::string with_cmd =
      "<input_template><file_info></file_info><workunit>"
      "<command_line>  --a  b &lt;c&gt; &#65;&#xA;z  </command_line>"
      "<file_ref><open_name>in</open_name></file_ref></workunit></input_template>";
  twin.expect_same(with_cmd, {InputFile::staged("in1")});
  // Both a template and a given command line: BOINC 7.20 refuses, so do we.
  std::string msg = twin.expect_both_refuse(with_cmd, {InputFile::staged("in1")}, std::string("--x"));
  EXPECT_NE(msg.find("<command_line>"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 1"), std::string::npos) << msg;
  twin.expect_both_refuse(with_cmd, {InputFile::staged("in1")}, std::string(""));
  twin.expect_same(with_cmd, {InputFile::staged("in1")}, std::nullopt, "<rsc_x>1</rsc_x>\n<y/>");
}

TEST(InputTemplateTest, WorkunitValuesAreExtractedLikeBoinc) {
  Twin twin(1024);
  twin.stage("in1", "1");
  const std::string tmpl = R"(<input_template>
<file_info></file_info>
<workunit>
  <file_ref><open_name>in</open_name></file_ref>
  <rsc_fpops_est>3.6e12</rsc_fpops_est>
  <rsc_fpops_bound>0x10</rsc_fpops_bound>
  <rsc_memory_bound> 5e8 </rsc_memory_bound>
  <rsc_disk_bound>1000000000</rsc_disk_bound>
  <rsc_bandwidth_bound>1e5</rsc_bandwidth_bound>
  <batch>42</batch>
  <delay_bound>010</delay_bound>
  <min_quorum>2</min_quorum>
  <target_nresults>3</target_nresults>
  <max_error_results>4</max_error_results>
  <max_total_results>8</max_total_results>
  <max_success_results>0x6</max_success_results>
  <size_class>-1</size_class>
  <min_quorum></min_quorum>
  <target_nresults>2</target_nresults>
  <priority>7</priority>
  <max_success_results/>
</workunit>
</input_template>)";
  WorkunitDoc doc = twin.expect_same(tmpl, {InputFile::staged("in1")});
  EXPECT_EQ(doc.values.rsc_fpops_bound, 16.0);
  EXPECT_EQ(doc.values.delay_bound, 8);       // C strtol base 0: octal
  EXPECT_EQ(doc.values.min_quorum, 0);        // <x></x> reads as 0, the last one wins
  EXPECT_EQ(doc.values.target_nresults, 2);
  EXPECT_EQ(doc.values.max_success_results, 6);
  EXPECT_EQ(doc.values.size_class, -1);
  EXPECT_EQ(doc.values.batch, 42);
  // Not numbers BOINC reads: copied as they are.
  EXPECT_NE(doc.xml_doc.find("<priority>7</priority>\n<max_success_results/>\n"), std::string::npos) << doc.xml_doc;
}

TEST(InputTemplateTest, GzipRemoteAndFlat) {
  Twin twin(0);
  twin.stage("big.dat", std::string(5000, 'z'));
  twin.stage("big.dat.gz", std::string(123, 'g'));
  const std::string tmpl = R"(<input_template>
<file_info><gzip/></file_info>
<file_info>
  <url>http://mirror1.example/files/</url>
  <url>http://mirror2.example/f/</url>
  <md5_cksum>d41d8cd98f00b204e9800998ecf8427e</md5_cksum>
  <nbytes>1048576</nbytes>
  <gzipped_nbytes>2048</gzipped_nbytes>
  <gzip>1</gzip>
</file_info>
<file_info><no_delete/></file_info>
<workunit>
  <file_ref><open_name>big</open_name></file_ref>
  <file_ref><open_name>mirrored</open_name></file_ref>
  <file_ref><open_name>remote</open_name></file_ref>
</workunit>
</input_template>)";
  WorkunitDoc doc = twin.expect_same(
      tmpl, {InputFile::staged("big.dat"), InputFile::staged("ref_name.bin"),
             InputFile::remote("https://data.example/x/blob", {"0123456789abcdef0123456789abcdef", 777})});
  EXPECT_NE(doc.xml_doc.find("<gzipped_url>" + kDownloadUrl + "/big.dat.gz</gzipped_url>"), std::string::npos)
      << doc.xml_doc;
  EXPECT_NE(doc.xml_doc.find("<url>http://mirror2.example/f/ref_name.bin</url>"), std::string::npos);
  EXPECT_EQ(doc.files[2].name, "jf_0123456789abcdef0123456789abcdef");

  std::string msg = twin.expect_both_refuse("<file_info><gzip/></file_info><workunit>"
                                            "<file_ref><open_name>x</open_name></file_ref></workunit>",
                                            {InputFile::staged("no_gz_here")});
  EXPECT_FALSE(msg.empty());
}

TEST(InputTemplateTest, LexicalCornersMatchBoinc) {
  Twin twin(1024);
  twin.stage("in1", "1");
  const std::string tmpl = R"(<?xml version="1.0"?>
<!-- a comment with <file_info> inside -->
<input_template>
    <file_info>
        <sticky />
        <foo   attr="1">  some <b>bold</b>  text  </foo>
        <!-- comment -->
        <gzip>0</gzip>
        <bar a="x/y"/>
        <md5_cksum>without nbytes this is ignored</md5_cksum>
    </file_info>
    stray text at the top level is skipped
    <workunit>
        <file_ref>
            <open_name>  a&amp;b  </open_name>
            <file_number>0</file_number>
            <optional/>
        </file_ref>
        <command_line><![CDATA[  x &amp; y  ]]></command_line>
        <baz>
           multi
           line
        </baz>
        <x1/><x2 />
    </workunit>
</input_template>
)";
  WorkunitDoc doc = twin.expect_same(tmpl, {InputFile::staged("in1")});
  EXPECT_NE(doc.xml_doc.find("<bar//>"), std::string::npos) << doc.xml_doc;
  // A '/' inside an attribute makes BOINC read the tag as self-closed, so its
  // body becomes stray text, which BOINC cannot place: both refuse.
  twin.expect_both_refuse("<file_info><bar a=\"x/y\">body</bar></file_info><workunit>"
                          "<file_ref><copy_file/></file_ref></workunit>",
                          {InputFile::staged("in1")});
}

TEST(InputTemplateTest, FilesAtTheTopOfDownloadAreCopiedIntoTheHierarchy) {
  Twin twin(1024);
  twin.stage("late.dat", "staged the old way\n", /*top=*/true);
  ASSERT_EQ(chmod((twin.config().download_dir + "/late.dat").c_str(), 0640), 0);
  ASSERT_EQ(chmod((twin.config().download_dir + "/../boinc/late.dat").c_str(), 0640), 0);
  WorkunitDoc doc = twin.expect_same(data("uppercase_in"), {InputFile::staged("late.dat")});
  EXPECT_TRUE(exists(twin.ours_path("late.dat")));
  EXPECT_TRUE(exists(twin.ours_path("late.dat") + ".md5"));
  EXPECT_EQ(doc.files[0].nbytes, 19);
}

TEST(InputTemplateTest, Md5CacheIsUsedReplacedAndKeptLikeBoinc) {
  const std::string tmpl = data("uppercase_in");
  {  // A current side file is trusted, even when it lies.
    Twin twin(1024);
    twin.stage("f", "abc", false, "ffffffffffffffffffffffffffffffff 99\n");
    WorkunitDoc doc = twin.expect_same(tmpl, {InputFile::staged("f")});
    EXPECT_EQ(doc.files[0].md5, "ffffffffffffffffffffffffffffffff");
    EXPECT_EQ(doc.files[0].nbytes, 99);
  }
  {  // A stale one is deleted and rewritten.
    Twin twin(1024);
    twin.stage("f", "abc", false, "ffffffffffffffffffffffffffffffff 99\n");
    set_mtime(twin.ours_path("f") + ".md5", 1600000000);
    set_mtime(twin.boinc_path("f") + ".md5", 1600000000);
    WorkunitDoc doc = twin.expect_same(tmpl, {InputFile::staged("f")});
    EXPECT_EQ(doc.files[0].md5, "900150983cd24fb0d6963f7d28e17f72");
  }
  {  // An unreadable one is ignored and left alone.
    Twin twin(1024);
    twin.stage("f", "abc", false, "not a cache file\n");
    WorkunitDoc doc = twin.expect_same(tmpl, {InputFile::staged("f")});
    EXPECT_EQ(doc.files[0].md5, "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(read_text(twin.ours_path("f") + ".md5"), "not a cache file\n");
  }
  {  // Without cache_md5_info nothing is read or written.
    Twin twin(1024, /*cache_md5_info=*/false);
    twin.stage("f", "abc", false, "ffffffffffffffffffffffffffffffff 99\n");
    twin.stage("g", "abcd");
    WorkunitDoc doc = twin.expect_same(tmpl, {InputFile::staged("f")});
    EXPECT_EQ(doc.files[0].md5, "900150983cd24fb0d6963f7d28e17f72");
    twin.expect_same(tmpl, {InputFile::staged("g")});
    EXPECT_FALSE(exists(twin.ours_path("g") + ".md5"));
  }
}

TEST(InputTemplateTest, CountMismatchesAndMissingFilesAreRefusedLikeBoinc) {
  Twin twin(1024);
  twin.stage("a", "a");
  twin.stage("b", "b");
  const std::string one = data("uppercase_in");
  std::string msg = twin.expect_both_refuse(one, {});
  EXPECT_NE(msg.find("test_in"), std::string::npos) << msg;
  twin.expect_both_refuse(one, {InputFile::staged("a"), InputFile::staged("b")});
  msg = twin.expect_both_refuse(one, {InputFile::staged("never_staged")});
  EXPECT_NE(msg.find("never_staged"), std::string::npos) << msg;

  msg = twin.expect_both_refuse("<file_info/><file_info></file_info><workunit></workunit>",
                                {InputFile::staged("a")});
  EXPECT_NE(msg.find("0 <file_ref>s for 1 <file_info>s"), std::string::npos) << msg;
  msg = twin.expect_both_refuse("<file_info></file_info><workunit>\n<file_ref><open_name>x</open_name></file_ref>\n"
                                "<file_ref><open_name>y</open_name></file_ref></workunit>",
                                {InputFile::staged("a")});
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("<file_ref> #2"), std::string::npos) << msg;
  msg = twin.expect_both_refuse("<input_template><file_info></file_info></input_template>", {InputFile::staged("a")});
  EXPECT_NE(msg.find("no <workunit>"), std::string::npos) << msg;
  msg = twin.expect_both_refuse("<file_info></file_info><workunit><file_ref><file_number>0</file_number>"
                                "</file_ref></workunit>",
                                {InputFile::staged("a")});
  EXPECT_NE(msg.find("<open_name> or <copy_file/>"), std::string::npos) << msg;
}

TEST(InputTemplateTest, MalformedValuesAreErrorsNamingTheElement) {
  // Where BOINC would carry on with garbage, we stop and say where.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"<file_info></file_info>\n<workunit>\n<min_quorum>two</min_quorum></workunit>", "line 3: <min_quorum>: 'two'"},
      {"<file_info></file_info><workunit><rsc_fpops_est>1e999</rsc_fpops_est></workunit>", "<rsc_fpops_est>"},
      {"<file_info></file_info><workunit><delay_bound>1.5</delay_bound></workunit>", "<delay_bound>: '1.5'"},
      {"<file_info><nbytes><x/></nbytes></file_info><workunit></workunit>", "<nbytes> must hold a number"},
      {"<file_info>\n<sticky/>\n", "line 1: <file_info> #1 is not closed"},
      {"<file_info></file_info><workunit><foo>unclosed</workunit>", "<foo> has no </foo>"},
      {"<workunit></workunit><file_info></file_info>", "<file_info> after <workunit>"},
      {"<workunit></workunit><workunit></workunit>", "a second <workunit>"},
      {"<file_info>oops</file_info><workunit></workunit>", "unexpected text 'oops'"},
      {"<file_info></file_info><workunit></file_ref></workunit>", "unexpected </file_ref>"},
      {std::string("<workunit>\0</workunit>", 22), "NUL byte"},
  };
  for (const auto& [text, expected] : cases) {
    std::string msg = error_of([&] { InputTemplate::parse(text, "templates/x_in"); }, Errc::format);
    EXPECT_NE(msg.find("templates/x_in"), std::string::npos) << msg;
    EXPECT_NE(msg.find(expected), std::string::npos) << "expected '" << expected << "' in: " << msg;
  }
  // Names that would escape the hierarchy or the markup.
  Twin twin(1024);
  auto tmpl = InputTemplate::parse(data("uppercase_in"), "uppercase_in");
  for (const char* bad : {"../x", "a/b", "", "a<b", "x%20y"}) {
    std::string msg = error_of([&] { make_workunit_doc(tmpl, {InputFile::staged(bad)}, twin.config()); }, Errc::usage);
    EXPECT_NE(msg.find("uppercase_in"), std::string::npos) << msg;
  }
  for (const char* bad_md5 : {"", "0123456789ABCDEF0123456789abcdef", "<md5_cksum>"}) {
    std::string msg = error_of(
        [&] { make_workunit_doc(tmpl, {InputFile::known("ok_name", {bad_md5, 1})}, twin.config()); }, Errc::usage);
    EXPECT_NE(msg.find("MD5"), std::string::npos) << msg;
  }
}

TEST(InputTemplateTest, ParsedOnceUsedManyTimes) {
  Twin twin(1024);
  auto tmpl = InputTemplate::parse(data("uppercase_in"), "uppercase_in");
  EXPECT_EQ(tmpl.file_count(), 1u);
  EXPECT_EQ(tmpl.variable_file_count(), 1u);
  EXPECT_TRUE(tmpl.has_command_line());
  EXPECT_EQ(tmpl.values().delay_bound, 86400);
  for (int i = 0; i < 200; ++i) {
    const std::string name = "jf_" + detail::md5_hex(std::to_string(i));
    WorkunitDoc doc = make_workunit_doc(tmpl, {InputFile::known(name, {detail::md5_hex("x"), 1.0 * i})},
                                        twin.config());
    EXPECT_NE(doc.xml_doc.find(dir_hier_url(name, kDownloadUrl, 1024)), std::string::npos);
  }
  WorkunitDoc big;
  std::string msg = error_of(
      [&] {
        make_workunit_doc(InputTemplate::parse("<file_info></file_info><workunit><file_ref><copy_file/></file_ref>"
                                               "</workunit>",
                                               "big_in"),
                          {InputFile::known("a", {detail::md5_hex("a"), 1})}, twin.config(),
                          std::string(70000, 'c'));
      },
      Errc::usage);
  EXPECT_NE(msg.find("65535"), std::string::npos) << msg;
}

// A randomized differential: templates assembled from the constructs BOINC's
// scanner treats specially, in random order and spacing.
TEST(InputTemplateTest, RandomTemplatesMatchBoinc) {
  std::mt19937 rng(7);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> blanks = {"", " ", "\n", "\n    ", "\t", "\r\n"};
  const std::vector<std::string> file_extras = {
      "<sticky/>", "<no_delete/>", "<sticky />", "<number>0</number>", "<executable/>", "<gzip>0</gzip>",
      "<foo>bar</foo>", "<foo a=\"b\">  x y  </foo>", "<!-- c -->", "<md5_cksum>abc</md5_cksum>", "<number/>",
      "<url>http://u/</url>", "<physical_name></physical_name>", "<nbytes>0</nbytes>", "<physical_name/>",
      "<url/>", "<md5_cksum/>", "<gzip>0x0</gzip>", "<x>&lt;y&gt;</x>", "<y><z>1</z><z>2</z></y>",
      "<a\tb=\"c\"\n/>", "<nbytes></nbytes>", "<gzipped_nbytes>5</gzipped_nbytes>", "<![CDATA[]]>"};
  const std::vector<std::string> ref_extras = {
      "<copy_file/>", "<optional/>", "<file_number>3</file_number>", "<file_name>n</file_name>",
      "<no_validate>1</no_validate>", "<file_name/>", "<!--x-->", "<open_name>o &lt; p</open_name>",
      "<open_name/>", "<open_name><![CDATA[ c&amp;d ]]></open_name>", "<file_number></file_number>",
      "<copy_file>1</copy_file>", "<open_name>  sp  ace  </open_name>", "<q r='s'>t</q>"};
  const std::vector<std::string> wu_extras = {
      "<rsc_fpops_est>1e10</rsc_fpops_est>", "<min_quorum>2</min_quorum>", "<priority>3</priority>",
      "<command_line>-x &quot;1&quot;</command_line>", "<target_nresults>5</target_nresults>",
      "<max_total_results>9</max_total_results>", "<size_class>1</size_class>", "<keywords>a b</keywords>",
      "<batch>12</batch>", "<delay_bound>0x100</delay_bound>", "<credit>1.5</credit>", "<zzz/>",
      "<rsc_disk_bound></rsc_disk_bound>", "<command_line/>", "<command_line>&#65;&#xa;b</command_line>",
      "<command_line><![CDATA[ <raw> &amp; ]]></command_line>", "<rsc_memory_bound>-1.5e3</rsc_memory_bound>",
      "<max_error_results>+7</max_error_results>", "<min_quorum/>", "<rsc_bandwidth_bound>0x1p4</rsc_bandwidth_bound>"};
  Twin twin(1024);
  for (int f = 0; f < 4; ++f) twin.stage("file" + std::to_string(f), std::string(f * 1000 + 1, 'a' + f));
  int accepted = 0;
  for (int round = 0; round < 2000; ++round) {
    const int nfiles = 1 + static_cast<int>(rng() % 4);
    std::string t = pick({"", "<input_template>", "<?xml version=\"1.0\"?>\n<input_template>"}) + pick(blanks);
    std::vector<InputFile> files;
    for (int f = 0; f < nfiles; ++f) {
      t += "<file_info>" + pick(blanks);
      for (int k = static_cast<int>(rng() % 4); k > 0; --k) t += pick(file_extras) + pick(blanks);
      t += "</file_info>" + pick(blanks);
      files.push_back(InputFile::staged("file" + std::to_string(f)));
    }
    t += "<workunit>" + pick(blanks);
    bool has_cmd = false;
    for (int f = 0; f < nfiles; ++f) {
      t += "<file_ref>" + pick(blanks);
      std::vector<std::string> parts = {"<open_name>in" + std::to_string(f) + "</open_name>"};
      if (rng() % 3 == 0) parts[0] = "<copy_file/>";
      for (int k = static_cast<int>(rng() % 3); k > 0; --k) parts.push_back(pick(ref_extras));
      std::shuffle(parts.begin(), parts.end(), rng);
      for (const auto& p : parts) t += p + pick(blanks);
      t += "</file_ref>" + pick(blanks);
      for (int k = static_cast<int>(rng() % 3); k > 0; --k) {
        std::string extra = pick(wu_extras);
        if (extra.find("command_line") != std::string::npos) {
          if (has_cmd) continue;
          has_cmd = true;
        }
        t += extra + pick(blanks);
      }
    }
    t += "</workunit>" + pick(blanks) + pick({"", "</input_template>"});
    std::optional<std::string> cmd;
    if (!has_cmd && rng() % 2) cmd = "--round " + std::to_string(round);
    SCOPED_TRACE(t);
    accepted += twin.expect_agreement(t, files, cmd);
    if (HasFailure()) break;
  }
  twin.expect_same_trees();
  // Most generated templates are valid; the rest must be refused by both.
  EXPECT_GT(accepted, 1000);
}

// ---------------------------------------------------------------- output templates

TEST(OutputTemplateTest, RealTemplateGivesTheRealRowsXmlDocIn) {
  ProjectConfig config;
  config.upload_url = kUploadUrl;
  config.dont_generate_upload_certificates = true;
  oracle::Config boinc;
  boinc.upload_url = kUploadUrl;
  const std::string tmpl = data("uppercase_out");
  struct Row {
    std::string file, result;
    std::int64_t random;
    int index;
  };
  // The random part of each output name, as the real transitioner drew it.
  const Row rows[] = {{"rows-quorum1-wu6617.txt", "libsched_probe_1795355880_0", 1536815212, 0},
                      {"rows-quorum2-wu6620.txt", "q2_1_0", 82790223, 0},
                      {"rows-quorum2-wu6620.txt", "q2_1_1", 1168984579, 1}};
  for (const auto& row : rows) {
    std::string dump = data(row.file);
    for (int skip = 0; skip < row.index; ++skip) dump = dump.substr(dump.find("xml_doc_in: ") + 12);
    const std::string golden = column(dump, "xml_doc_in");
    const std::string ours = make_result_xml_doc_in(tmpl, "templates/uppercase_out", row.result, row.random, config);
    EXPECT_EQ(ours, golden) << row.result;
    const oracle::ResultDoc theirs =
        oracle::process_result_template(tmpl, output_file_stem(row.result, row.random), boinc);
    ASSERT_EQ(theirs.rc, 0);
    EXPECT_EQ(ours, theirs.xml_doc_in);
  }
  EXPECT_EQ(output_file_stem("q2_1_0", 82790223), "q2_1_0_r82790223_");
}

TEST(OutputTemplateTest, VariantsMatchLibsched) {
  ProjectConfig config;
  config.upload_url = kUploadUrl;
  config.dont_generate_upload_certificates = true;
  oracle::Config boinc;
  boinc.upload_url = kUploadUrl;
  const std::vector<std::string> templates = {
      // Two outputs, one optional, gzip_when_done, no wrapper, odd spacing.
      "\n\n  <file_info>\n<name><OUTFILE_0/></name>\n<max_nbytes>1e6</max_nbytes>\n<url><UPLOAD_URL/></url>\n"
      "</file_info>\n<file_info>\n<name><OUTFILE_1/></name><gzip_when_done/><max_nbytes>50</max_nbytes>"
      "<url><UPLOAD_URL/></url></file_info>\n<result>\n<file_ref><file_name><OUTFILE_0/></file_name>"
      "<open_name>out.zip</open_name></file_ref>\n<file_ref><file_name><OUTFILE_1/></file_name>"
      "<open_name>log</open_name><optional/></file_ref>\n</result>\n\n",
      // A wrapper BOINC assumes opens the text — here a comment precedes it.
      "<!-- x --><output_template>\n<file_info>\n<name><OUTFILE_abc/></name></file_info></output_template>\n",
      // Wrapper without its end tag; macros repeated on one line.
      "<output_template><result><OUTFILE_0/><OUTFILE_0/><UPLOAD_URL/><UPLOAD_URL/></result>",
      // A blank before "/>" stays in the name, as BOINC leaves it.
      "<name><OUTFILE_0 /></name>",
      "",
      "   plain text  ",
  };
  for (const auto& tmpl : templates) {
    const std::string ours = make_result_xml_doc_in(tmpl, "t_out", "wu_7_1", 123456789, config);
    const oracle::ResultDoc theirs = oracle::process_result_template(tmpl, output_file_stem("wu_7_1", 123456789), boinc);
    ASSERT_EQ(theirs.rc, 0) << tmpl;
    EXPECT_EQ(ours, theirs.xml_doc_in) << tmpl;
  }
  for (const std::string bad : {"<name><OUTFILE_0></name>", "<OUTFILE_0", "<OUTFILE_0>x/>"}) {
    const oracle::ResultDoc theirs = oracle::process_result_template(bad, "r_r1_", boinc);
    EXPECT_NE(theirs.rc, 0) << bad;
    std::string msg = error_of([&] { make_result_xml_doc_in(bad, "templates/t_out", "r", 1, config); }, Errc::format);
    EXPECT_NE(msg.find("templates/t_out: line 1"), std::string::npos) << msg;
  }
}

TEST(OutputTemplateTest, RefusesToSkipUploadCertificates) {
  ProjectConfig config;
  config.config_path = "/p/config.xml";
  config.upload_url = kUploadUrl;
  config.dont_generate_upload_certificates = false;
  std::string msg = error_of(
      [&] { make_result_xml_doc_in(data("uppercase_out"), "templates/uppercase_out", "r_0", 5, config); },
      Errc::usage);
  EXPECT_NE(msg.find("dont_generate_upload_certificates"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/p/config.xml"), std::string::npos) << msg;
  // Nothing BOINC would sign: nothing to refuse.
  EXPECT_EQ(make_result_xml_doc_in("<file_info><name><OUTFILE_0/></name></file_info>", "t", "r_0", 5, config),
            "<file_info><name>r_0_r5_0</name></file_info>");
  EXPECT_FALSE(error_of([&] { make_result_xml_doc_in("x", "t", "bad<name", 5, config); }, Errc::usage).empty());
}

}  // namespace
}  // namespace mw::boinc
