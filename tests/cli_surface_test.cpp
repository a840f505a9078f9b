// Issue 21, item 3: every installed mwkit program has the same command-line
// surface. --help shows the defaults and exits 0, --version prints the
// program's name and mwkit's version and exits 0, and a command line that is
// wrong — an unknown option, a missing required argument — exits 64
// (EX_USAGE) with exactly one line on stderr, never an uncaught exception.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "support/usage_error.h"

namespace mw {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::expect_one_line_usage_error;
using test::run_command;
using test::with;

struct Program {
  std::string name;
  std::string path;
  // The help that lists the options with defaults (a subcommand's, for
  // programs whose options belong to subcommands).
  std::vector<std::string> help_args;
  // Defaults that help must show; empty for a program none of whose options
  // has one (mw-sign's and mw-mpi-worker's options are all required or flags).
  std::vector<std::string> defaults;
  // A command line that leaves out a required argument, and the name the
  // error must give. Empty: the program has none (mw-wrapper: the BOINC
  // client starts it, and it tolerates the client's own options).
  std::vector<std::string> missing_required;
  std::string required_name;
  // Where an unknown option is tried: the program itself and each subcommand.
  std::vector<std::vector<std::string>> option_places;
};

// gtest shows a parameter by its name, not as bytes.
void PrintTo(const Program& p, std::ostream* os) { *os << p.name; }

std::vector<Program> programs() {
  const std::string tools = MW_TOOLS_DIR;
  return {
      {"mw-task", tools + "/mw-task", {"new", "--help"}, {"(default: 64 MiB)"}, {"new"}, "--out",
       {{}, {"new"}, {"show"}, {"extract"}}},
      {"mw-sign", tools + "/mw-sign", {"--help"}, {}, {"sign"}, "bundle",
       {{}, {"keygen"}, {"sign"}, {"verify"}}},
      {"mw-run-task", tools + "/mw-run-task", {"--help"}, {"(default: 86400)"}, {}, "bundle", {{}}},
      {"mw-work-generator", MW_WORK_GENERATOR, {"submit", "--help"}, {"(default: mw)"}, {"status"},
       "--batch", {{}, {"submit"}, {"status"}, {"--daemon"}}},
      {"mw-validator", MW_VALIDATOR, {"--help"}, {"(default: 60)"}, {}, "--app", {{}}},
      {"mw-assimilator", MW_ASSIMILATOR, {"--help"}, {"(default: 5)"}, {}, "--app", {{}}},
      {"mw-project-setup", MW_PROJECT_SETUP, {"install", "--help"}, {"(default: 30)"}, {"check"},
       "--project", {{}, {"install"}, {"check"}, {"uninstall"}}},
      {"mw-status", MW_STATUS, {"--help"}, {"(default: table)"}, {"--format"}, "--format", {{}}},
      {"mw-wrapper", MW_WRAPPER, {"--help"}, {"(default: .)"}, {}, "", {}},
      {"mw-mpi-worker", MW_MPI_WORKER, {"--help"}, {}, {}, "--socket", {{}}},
  };
}

class CliSurface : public ::testing::TestWithParam<Program> {
 protected:
  // Run where nothing matters: a program that took --version for something
  // else (mw-wrapper in standalone mode) would write its files into the cwd.
  test::ScratchDir dir;
  std::string old_cwd;
  void SetUp() override {
    char buf[4096];
    ASSERT_NE(getcwd(buf, sizeof buf), nullptr);
    old_cwd = buf;
    ASSERT_EQ(chdir(dir.path().c_str()), 0);
  }
  void TearDown() override { ASSERT_EQ(chdir(old_cwd.c_str()), 0); }
};

TEST_P(CliSurface, HelpExitsZeroAndShowsTheDefaults) {
  const Program& p = GetParam();
  auto r = run_command(with({p.path}, p.help_args));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("--help"));
  for (const auto& d : p.defaults) EXPECT_THAT(r.out, HasSubstr(d)) << r.out;
}

TEST_P(CliSurface, VersionPrintsTheProgramAndMwkitsVersion) {
  const Program& p = GetParam();
  auto r = run_command({p.path, "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, p.name + " (mwkit) " + MW_EXPECTED_VERSION + "\n");
}

TEST_P(CliSurface, AnUnknownOptionIsOneLineNamingItAndExit64) {
  const Program& p = GetParam();
  if (p.option_places.empty()) GTEST_SKIP() << p.name << " tolerates options it does not know (BOINC's)";
  for (const auto& place : p.option_places) {
    auto argv = with(with({p.path}, place), {"--no-such-option"});
    std::string text;
    for (const auto& a : argv) text += a + " ";
    auto r = run_command(argv);
    expect_one_line_usage_error(r, text);
    EXPECT_THAT(r.err, HasSubstr("--no-such-option")) << text;
    EXPECT_THAT(r.err, HasSubstr(p.name)) << "the line names the program: " << r.err;
  }
}

TEST_P(CliSurface, AMissingRequiredArgumentIsOneLineAndExit64) {
  const Program& p = GetParam();
  if (p.required_name.empty()) GTEST_SKIP() << p.name << " has no required argument";
  auto r = run_command(with({p.path}, p.missing_required));
  expect_one_line_usage_error(r, p.name);
  EXPECT_THAT(r.err, HasSubstr(p.required_name));
}

// Every program takes --log-level (the daemons: BOINC's -d numbers and the
// names); a level it does not know is a usage error naming the option and the
// accepted levels, wherever the option may stand.
TEST_P(CliSurface, ABadLogLevelIsOneLineNamingTheLevelsAndExit64) {
  const Program& p = GetParam();
  std::vector<std::vector<std::string>> places = p.option_places;
  if (places.empty()) places = {{}};
  for (const auto& place : places) {
    auto argv = with(with({p.path}, place), {"--log-level", "bogus"});
    std::string text;
    for (const auto& a : argv) text += a + " ";
    auto r = run_command(argv);
    expect_one_line_usage_error(r, text);
    EXPECT_THAT(r.err, HasSubstr("--log-level")) << text;
    EXPECT_THAT(r.err, HasSubstr("'bogus'")) << text;
    EXPECT_THAT(r.err, HasSubstr("error, warning, info, debug, trace")) << text;
  }
}

TEST_P(CliSurface, HelpShowsTheLogLevelAndItsDefault) {
  const Program& p = GetParam();
  auto r = run_command(with({p.path}, p.help_args));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("--log-level")) << r.out;
  const bool daemon = p.name == "mw-validator" || p.name == "mw-assimilator";
  EXPECT_THAT(r.out, HasSubstr(daemon ? "(default: 2)" : "(default: info)")) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Programs, CliSurface, ::testing::ValuesIn(programs()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace mw
