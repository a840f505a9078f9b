// The comparison shared by mw-validator and local double runs, and the small
// pure pieces of the daemon conventions (log lines, options, error masks).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <utility>

#include "mw/boinc/daemon.h"
#include "mw/boinc/result_files.h"
#include "mw/bundle.h"
#include "mw/hash.h"
#include "mw/log.h"
#include "mw/result_compare.h"
#include "support/test_support.h"

namespace mw {
namespace {

using ::testing::HasSubstr;
using test::error_of;
using test::ScratchDir;
namespace fs = std::filesystem;

std::string bundle(const ScratchDir& dir, const std::string& name,
                   const std::map<std::string, std::string>& outputs,
                   ResultStatus status = ResultStatus::success) {
  std::string files = dir / (name + ".files");
  fs::create_directories(files);
  ResultManifest m;
  m.task_name = "t";
  m.status = status;
  m.exit_code = status == ResultStatus::success ? 0 : 2;
  if (status != ResultStatus::success) m.reason = "failed";
  for (auto& [n, text] : outputs) {
    test::write_text(files + "/" + n, text);
    m.outputs.push_back({n, text.size(), sha256_hex(text)});
  }
  std::string path = dir / (name + ".zip");
  write_result_bundle(path, m, files);
  return path;
}

TEST(NumericTexts, ToleranceTokensAndNaN) {
  EXPECT_TRUE(numeric_texts_agree("1.0 2.0 x", "1.0000001  2.0\nx", 1e-6, 0));
  EXPECT_FALSE(numeric_texts_agree("1.0 2.0", "1.1 2.0", 1e-6, 0));
  EXPECT_TRUE(numeric_texts_agree("1.0", "1.05", 0, 0.1));
  EXPECT_FALSE(numeric_texts_agree("1.0 a", "1.0 b", 1, 1));
  EXPECT_FALSE(numeric_texts_agree("1 2", "1 2 3", 1, 1));
  EXPECT_TRUE(numeric_texts_agree("nan", "nan", 0, 0));
  std::string why;
  EXPECT_FALSE(numeric_texts_agree("0 5", "0 6", 1e-9, 0, &why));
  EXPECT_THAT(why, HasSubstr("token 2"));
}

TEST(ResultsAgree, BitwiseIgnoresStderrAndChecksStatus) {
  ScratchDir dir;
  CompareOptions o;
  auto a = load_checked_result(bundle(dir, "a", {{"out", "1"}, {"mw.stderr", "took 3 s"}}), o);
  auto b = load_checked_result(bundle(dir, "b", {{"out", "1"}, {"mw.stderr", "took 4 s"}}), o);
  auto c = load_checked_result(bundle(dir, "c", {{"out", "2"}}), o);
  auto d = load_checked_result(bundle(dir, "d", {{"out", "1"}}, ResultStatus::nonzero_exit), o);
  auto e = load_checked_result(bundle(dir, "e", {{"out", "1"}, {"extra", ""}}), o);
  EXPECT_TRUE(results_agree(a, b, o));
  std::string why;
  EXPECT_FALSE(results_agree(a, c, o, &why));
  EXPECT_THAT(why, HasSubstr("'out' differs"));
  EXPECT_FALSE(results_agree(a, d, o, &why));
  EXPECT_THAT(why, HasSubstr("status"));
  EXPECT_FALSE(results_agree(a, e, o));
  EXPECT_FALSE(results_agree(e, a, o));
}

TEST(ResultsAgree, NumericOutputsUseTheTolerance) {
  ScratchDir dir;
  CompareOptions o;
  o.numeric_outputs = {"out"};
  o.rel_tolerance = 1e-3;
  auto a = load_checked_result(bundle(dir, "a", {{"out", "3.14159"}}), o);
  auto b = load_checked_result(bundle(dir, "b", {{"out", "3.1416"}}), o);
  auto c = load_checked_result(bundle(dir, "c", {{"out", "3.2"}}), o);
  EXPECT_TRUE(results_agree(a, b, o));
  EXPECT_FALSE(results_agree(a, c, o));
  o.numeric_outputs.clear();
  EXPECT_FALSE(results_agree(a, b, o));
}

TEST(ResultsAgree, ExternalProgramGetsTwoDirectoriesAndItsExitCodeDecides) {
  ScratchDir dir;
  CompareOptions o;
  auto a = load_checked_result(bundle(dir, "a", {{"out", "1"}}), o);
  auto b = load_checked_result(bundle(dir, "b", {{"out", "2"}}), o);
  auto script = [&](const std::string& name, const std::string& body) {
    std::string path = dir / name;
    test::write_text(path, "#!/bin/sh\n" + body);
    fs::permissions(path, fs::perms::owner_all);
    return path;
  };
  o.compare_command = script("cmp.sh", "cmp -s \"$1/out\" \"$2/out\"\n");
  EXPECT_TRUE(results_agree(a, a, o));
  EXPECT_FALSE(results_agree(a, b, o));
  o.compare_command = script("three.sh", "echo broken >&2; exit 3\n");
  EXPECT_THAT(error_of([&] { results_agree(a, b, o); }, Errc::system), HasSubstr("status 3"));
  o.compare_command = script("slow.sh", "exec sleep 20\n");
  o.compare_timeout_seconds = 0.5;
  EXPECT_THAT(error_of([&] { results_agree(a, b, o); }, Errc::system), HasSubstr("did not finish"));
  o.compare_command = dir / "absent";
  EXPECT_THAT(error_of([&] { results_agree(a, b, o); }, Errc::system), HasSubstr("could not be started"));
}

TEST(LoadCheckedResult, RefusesWhatItCannotTrust) {
  ScratchDir dir;
  CompareOptions o;
  ResultCheckLimits small;
  small.max_bundle_bytes = 100;
  std::string good = bundle(dir, "g", {{"out", std::string(1000, 'x')}});
  EXPECT_THAT(error_of([&] { load_checked_result(good, o, small); }, Errc::unsafe_bundle), HasSubstr("limit"));
  EXPECT_THAT(error_of([&] { load_checked_result(dir / "none.zip", o); }, Errc::io), HasSubstr("none.zip"));
  fs::create_symlink(good, dir / "link.zip");
  error_of([&] { load_checked_result(dir / "link.zip", o); }, Errc::unsafe_bundle);
  test::write_text(dir / "garbage.zip", "not a zip");
  EXPECT_THROW(load_checked_result(dir / "garbage.zip", o), Error);
}

TEST(DaemonConventions, LogLinesLookLikeBoincs) {
  EXPECT_EQ(boinc::DaemonLog::format_line(1700000000.12345, "[CRITICAL] ", "db gone"),
            "2023-11-14 22:13:20.1234 UTC [CRITICAL] db gone");
  EXPECT_EQ(boinc::DaemonLog::format_line(0, "", "x"), "1970-01-01 00:00:00.0000 UTC x");
}

// A result name or an error from a volunteer's upload cannot forge a second
// log line, clear the screen or reorder the line; readable UTF-8 stays.
TEST(DaemonConventions, LogLinesEscapeWhatComesFromData) {
  const std::string forged = "wu_1\n2023-11-14 22:13:20.0000 UTC [CRITICAL] forged\x1b[2J\r";
  const std::string line = boinc::DaemonLog::format_line(0, "", "invalid: " + forged);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_NE(line.find("wu_1\\x0a2023"), std::string::npos) << line;
  EXPECT_EQ(boinc::DaemonLog::format_line(0, "", "\u202e evil \xff ok \u00e9"),
            "1970-01-01 00:00:00.0000 UTC \\u{202e} evil \\xff ok \u00e9");
}

TEST(DaemonConventions, SingleDashLongOptionsBecomeDoubleDash) {
  const char* argv[] = {"prog", "-d", "3", "-one_pass", "--app", "mw", "-mod", "2", "1", "-5", "--sleep"};
  EXPECT_EQ(boinc::normalize_daemon_args(11, argv),
            (std::vector<std::string>{"-d", "3", "--one_pass", "--app", "mw", "--mod", "2", "1", "-5", "--sleep"}));
  boinc::DaemonOptions o;
  EXPECT_EQ(o.mod_clause(), "1=1");
  o.mod_n = 3;
  o.mod_i = 2;
  EXPECT_EQ(o.mod_clause("w.id"), "w.id % 3 = 2");
}

// -d takes BOINC's numbers and the level names of mwkit's other programs,
// and sets the library's level (mw/log.h) to match.
TEST(DaemonConventions, LogLevelTakesNumbersAndNames) {
  const auto parse = [](const char* level) {
    CLI::App app{"daemon"};
    boinc::DaemonOptions o;
    boinc::add_daemon_options(app, o);
    const char* argv[] = {"daemon", "--app", "mw", "-d", level};
    EXPECT_EQ(boinc::parse_daemon_command_line(app, 5, argv), -1) << level;
    return std::make_pair(o.debug_level, log_level());
  };
  EXPECT_EQ(parse("1"), std::make_pair(1, LogLevel::error));
  EXPECT_EQ(parse("3"), std::make_pair(3, LogLevel::debug));
  EXPECT_EQ(parse("warning"), std::make_pair(2, LogLevel::warning));
  EXPECT_EQ(parse("info"), std::make_pair(2, LogLevel::info));
  EXPECT_EQ(parse("DEBUG"), std::make_pair(3, LogLevel::debug));
  EXPECT_EQ(parse("trace"), std::make_pair(4, LogLevel::trace));
  EXPECT_EQ(parse("error"), std::make_pair(1, LogLevel::error));
  set_log_level(LogLevel::info);
}

TEST(DaemonConventions, ErrorMasksAndOutputNames) {
  EXPECT_EQ(boinc::describe_error_mask(2 | 16), "too many errors, cancelled");
  EXPECT_EQ(boinc::describe_error_mask(32 | 128), "no canonical result, unknown bits 128");
  EXPECT_EQ(boinc::describe_error_mask(0), "none");
  std::string doc = "<file_info>\n<name>wu_0_r5_0</name>\n</file_info>\n<result>\n<file_ref>\n"
                    "<file_name>wu_0_r5_0</file_name>\n<open_name>result.zip</open_name>\n</file_ref>\n"
                    "<file_ref>\n<file_name>second</file_name>\n</file_ref>\n</result>\n";
  EXPECT_EQ(boinc::first_output_file_name(doc, "wu_0"), "wu_0_r5_0");
  EXPECT_THAT(error_of([&] { boinc::first_output_file_name("<result><file_ref><file_name>../x</file_name></file_ref></result>", "r9"); },
                       Errc::format),
              HasSubstr("r9"));
  error_of([&] { boinc::first_output_file_name("<result></result>", "r"); }, Errc::format);
  error_of([&] { boinc::first_output_file_name("<result", "r"); }, Errc::format);
}

}  // namespace
}  // namespace mw
