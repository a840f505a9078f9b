// Issue 21, item 4: the examples show the back ends honestly. Each example
// has the command-line surface of the installed programs (--help with the
// defaults, --version, a wrong command line as one line and exit 64), names
// the interfaces it takes when given one it does not know, refuses the ones
// it cannot use with the reason, refuses nonsensical counts, and --progress
// leaves lines in a log file when stderr is not a terminal; --log-level and
// MW_LOG_LEVEL choose the diagnostics shown.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/example_cli.h"
#include "support/test_support.h"
#include "support/usage_error.h"

extern char** environ;

namespace mw {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::run_command;
using test::with;

struct Example {
  std::string name;
  std::vector<std::string> operands;          // what a run needs besides options (exec_wc's files)
  std::vector<std::string> defaults;          // help must show these
  std::vector<std::string> refused_args;      // an interface it cannot use (with what makes it so)
  std::string refused_reason;                 // what the error line must say
  std::vector<std::string> not_taken;         // interfaces it never takes: absent from the list
  std::vector<std::string> nonsense_args;     // a nonsensical value
  std::string nonsense_name;                  // what the error line must name
  std::vector<std::string> small_run;         // a short run, for --progress
  int small_run_tasks;
};

void PrintTo(const Example& e, std::ostream* os) { *os << e.name; }

std::string readme() { return std::string(MW_SOURCE_DIR) + "/README.md"; }

std::vector<Example> examples_under_test() {
  return {
      {"monte_pi",
       {},
       {"(default: 32)", "(default: 2000000)", "(default: multicore)", "(default: one per core)"},
       {"--interface", "multicore", "--project", "/"},
       "--project is for --interface boinc",
       {},
       {"--tasks", "0"},
       "--tasks",
       {"--tasks", "3", "--samples", "1000", "--workers", "1"},
       3},
      {"primes",
       {},
       {"(default: 100000)", "(default: 3)", "(default: multicore)"},
       {"--interface", "condor", "--workers", "2"},
       "--workers is for multicore, mpi and simulator",
       {},
       {"--tasks", "0"},
       "--tasks",
       {"--n", "200", "--tasks", "2", "--workers", "1"},
       2},
      {"null_task",
       {},
       {"(default: 100000)", "(default: 2)", "(default: multicore)"},
       {"--exec", "--interface", "simulator"},
       "the simulator does not run exec tasks",
       {},
       {"--tasks", "0"},
       "--tasks",
       {"--tasks", "5", "--workers", "1"},
       5},
      {"exec_wc",
       {readme()},
       {"(default: multicore)", "(default: one per core)"},
       {"--interface", "simulator", readme()},
       "the simulator does not run exec tasks",
       {"simulator"},
       {"--tasks", "0", readme()},  // exec_wc counts files, not tasks: --tasks is unknown
       "--tasks",
       {"--workers", "1", readme()},
       1},
  };
}

std::string example_path(const std::string& name) {
  // MW_TEST_EXAMPLES_DIR runs this test against another build's examples
  // (how it was seen to fail before issue 21's change).
  const char* dir = std::getenv("MW_TEST_EXAMPLES_DIR");
  return std::string(dir ? dir : MW_EXAMPLES_DIR) + "/" + name;
}

std::string text_of(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) text += a + " ";
  return text;
}

bool takes(const Example& e, const std::string& interface) {
  return std::find(e.not_taken.begin(), e.not_taken.end(), interface) == e.not_taken.end();
}

// Runs argv (no shell) with stdout and stderr going to files, as a program
// started from a script or cron writes its log; returns the exit status.
int run_to_files(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class ExampleCli : public ::testing::TestWithParam<Example> {
 protected:
  // The shared shape of a usage error, and the line names the program.
  static void expect_one_line_usage_error(const test::CommandResult& r, const std::string& name,
                                          const std::string& argv_text) {
    test::expect_one_line_usage_error(r, argv_text);
    EXPECT_THAT(r.err, HasSubstr(name + ": ")) << argv_text;
  }
};

TEST_P(ExampleCli, HelpExitsZeroAndShowsTheDefaults) {
  const Example& e = GetParam();
  auto r = run_command({example_path(e.name), "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("--interface"));
  EXPECT_THAT(r.out, HasSubstr("--progress"));
  EXPECT_THAT(r.out, HasSubstr("--project"));
  for (const auto& d : e.defaults) EXPECT_THAT(r.out, HasSubstr(d)) << r.out;
  // Help names every interface the example takes.
  for (const auto& name : examples::built_interfaces()) {
    if (takes(e, name)) {
      EXPECT_THAT(r.out, HasSubstr(name)) << r.out;
    }
  }
}

TEST_P(ExampleCli, VersionPrintsTheProgramAndMwkitsVersion) {
  const Example& e = GetParam();
  auto r = run_command({example_path(e.name), "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, e.name + " (mwkit) " + MW_EXPECTED_VERSION + "\n");
}

TEST_P(ExampleCli, AnUnknownOptionIsOneLineAndExit64) {
  const Example& e = GetParam();
  const auto argv = with({example_path(e.name), "--no-such-option"}, e.operands);
  auto r = run_command(argv);
  expect_one_line_usage_error(r, e.name, text_of(argv));
  EXPECT_THAT(r.err, HasSubstr("--no-such-option"));
}

TEST_P(ExampleCli, AnUnknownInterfaceIsOneLineNamingTheOnesTaken) {
  const Example& e = GetParam();
  const auto argv = with({example_path(e.name), "--interface", "bogus"}, e.operands);
  auto r = run_command(argv);
  expect_one_line_usage_error(r, e.name, text_of(argv));
  EXPECT_THAT(r.err, HasSubstr("'bogus'"));
  for (const auto& name : examples::built_interfaces()) {
    if (takes(e, name)) {
      EXPECT_THAT(r.err, HasSubstr(name)) << "the line names what it takes";
    } else {
      EXPECT_THAT(r.err, Not(HasSubstr(name))) << "the line offers " << name << ", which it refuses";
    }
  }
}

TEST_P(ExampleCli, AnInterfaceItCannotUseIsRefusedWithTheReason) {
  const Example& e = GetParam();
  const auto argv = with({example_path(e.name)}, e.refused_args);
  auto r = run_command(argv);
  expect_one_line_usage_error(r, e.name, text_of(argv));
  EXPECT_THAT(r.err, HasSubstr(e.refused_reason));
}

TEST_P(ExampleCli, ANonsensicalCountIsAUsageError) {
  const Example& e = GetParam();
  const auto argv = with({example_path(e.name)}, e.nonsense_args);
  auto r = run_command(argv);
  expect_one_line_usage_error(r, e.name, text_of(argv));
  EXPECT_THAT(r.err, HasSubstr(e.nonsense_name));
}

TEST_P(ExampleCli, ProgressToAFileLeavesProgressLines) {
  const Example& e = GetParam();
  test::ScratchDir dir;
  const auto argv = with(with({example_path(e.name)}, {"--progress"}), e.small_run);
  const int status = run_to_files(argv, dir / "out", dir / "err");
  const std::string err = file_text(dir / "err");
  EXPECT_EQ(status, 0) << text_of(argv) << "\n" << err;
  // The line for the last task comes whatever the timing.
  const std::string n = std::to_string(e.small_run_tasks);
  EXPECT_THAT(err, HasSubstr(e.name + ": " + n + "/" + n + " tasks done, 0 failed, ")) << err;
}

TEST_P(ExampleCli, ABadLogLevelIsOneLineNamingTheLevels) {
  const Example& e = GetParam();
  const auto argv = with({example_path(e.name), "--log-level", "bogus"}, e.operands);
  auto r = run_command(argv);
  expect_one_line_usage_error(r, e.name, text_of(argv));
  EXPECT_THAT(r.err, HasSubstr("--log-level: 'bogus'"));
  EXPECT_THAT(r.err, HasSubstr("error, warning, info, debug, trace"));
}

// The master says which interface it started on at debug level: shown with
// --log-level debug or MW_LOG_LEVEL=debug, not at the default, and the
// command line wins over the environment.
TEST_P(ExampleCli, DebugLinesFollowLogLevelAndMwLogLevel) {
  const Example& e = GetParam();
  const std::string debug_line = "[debug] mw master: started on the multicore interface";
  const auto run = [&](std::vector<std::string> prefix, std::vector<std::string> options) {
    auto argv = with(with(with(std::move(prefix), {example_path(e.name)}), options), e.small_run);
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << text_of(argv) << "\n" << r.err;
    return r.err;
  };
  EXPECT_THAT(run({}, {}), Not(HasSubstr(debug_line)));
  EXPECT_THAT(run({}, {"--log-level", "debug"}), HasSubstr(debug_line));
  EXPECT_THAT(run({"/usr/bin/env", "MW_LOG_LEVEL=debug"}, {}), HasSubstr(debug_line));
  EXPECT_THAT(run({"/usr/bin/env", "MW_LOG_LEVEL=debug"}, {"--log-level", "info"}), Not(HasSubstr(debug_line)));
  const std::string bad = run({"/usr/bin/env", "MW_LOG_LEVEL=loud"}, {});
  EXPECT_THAT(bad, HasSubstr("[warning] MW_LOG_LEVEL='loud' is not one of error, warning, info, debug, trace"));
  EXPECT_THAT(bad, Not(HasSubstr(debug_line)));
}

// --project reaches mw::boinc::Local: a directory that is no BOINC project
// is named by the interface's own check (a runtime error, not a usage error).
TEST_P(ExampleCli, TheBoincInterfaceOpensTheProjectGiven) {
  const Example& e = GetParam();
  const auto built = examples::built_interfaces();
  if (std::find(built.begin(), built.end(), "boinc") == built.end()) GTEST_SKIP() << "this build has no BOINC interface";
  test::ScratchDir not_a_project;
  const auto argv =
      with({example_path(e.name), "--interface", "boinc", "--project", not_a_project.path()}, e.operands);
  auto r = run_command(argv);
  EXPECT_NE(r.exit_code, 0) << text_of(argv);
  EXPECT_NE(r.exit_code, test::kExitUsage) << text_of(argv) << ": " << r.err;
  EXPECT_EQ(test::lines(r.err), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr(e.name + ": '" + not_a_project.path() + "' is not a BOINC project directory"));
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleCli, ::testing::ValuesIn(examples_under_test()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace mw
