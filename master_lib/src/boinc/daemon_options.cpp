// The common command line of mwkit's daemons (CLI11), with BOINC's single-dash spellings.
#include <CLI/CLI.hpp>

#include <cctype>
#include <iostream>
#include <utility>

#include "mw/boinc/daemon.h"
#include "mw/log.h"
#include "util/command_line.h"

namespace mw::boinc {
namespace {

// BOINC's -d N, or a name of mw/log.h mapped to it. Sets the library's level
// too, so messages from mw::log follow the same switch.
CLI::Validator daemon_level_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        static const std::pair<const char*, mw::LogLevel> kNumbers[] = {
            {"1", mw::LogLevel::error}, {"2", mw::LogLevel::info}, {"3", mw::LogLevel::debug},
            {"4", mw::LogLevel::trace}};
        for (const auto& [number, level] : kNumbers)
          if (text == number) {
            mw::set_log_level(level);
            return {};
          }
        const auto named = mw::log_level_from_string(text);
        if (!named)
          return "'" + text + "' is not a log level; use 1 to 4 or one of " + mw::log_level_names();
        mw::set_log_level(*named);
        switch (*named) {
          case mw::LogLevel::error: text = "1"; break;
          case mw::LogLevel::warning:
          case mw::LogLevel::info: text = "2"; break;
          case mw::LogLevel::debug: text = "3"; break;
          case mw::LogLevel::trace: text = "4"; break;
        }
        return {};
      },
      "LEVEL", "daemon_log_level");
}

}  // namespace

void add_daemon_options(CLI::App& app, DaemonOptions& o) {
  mw::cli::set_up(app);
  // --log-level: the name mwkit's other programs use for the same thing,
  // which takes their level names as well as BOINC's numbers.
  app.add_option("-d,--log-level,--debug_level,--debug-level", o.debug_level,
                 "Log level: 1 critical (or error), 2 normal (or warning, info), 3 debug, "
                 "4 debug with detail (or trace)")
      ->transform(daemon_level_validator())
      ->capture_default_str();
  app.add_option("--app", o.app, "Name of the BOINC app whose workunits this daemon handles")
      ->required();
  app.add_option("--mod", [&o](const CLI::results_t& r) {
        try {
          o.mod_n = std::stoi(r.at(0));
          o.mod_i = std::stoi(r.at(1));
        } catch (const std::exception&) {
          return false;
        }
        return o.mod_n > 0 && o.mod_i >= 0 && o.mod_i < o.mod_n;
      }, "N I: handle only workunits with id % N == I (to run N instances)")
      ->expected(2)
      ->type_name("N I");
  app.add_flag("--one-pass,--one_pass", o.one_pass, "Do one pass over the work, then exit");
  app.add_option("--sleep,--sleep_interval,--sleep-interval", o.sleep_seconds,
                 "Seconds to sleep after a pass that found nothing to do")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--project", o.project,
                 "Project directory (default: $BOINC_PROJECT_DIR, else . or .. as BOINC finds it)");
  app.add_option("--threads", o.threads,
                 "Workunits handled at once, each on its own database connection (their commits "
                 "share the server's log flushes)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--db-retry,--db_retry", o.db_retry_seconds,
                 "Seconds to wait for a lost database before exiting with status 3")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

std::vector<std::string> normalize_daemon_args(int argc, const char* const* argv) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a[0] == '-' && a[1] != '-' && std::isalpha(static_cast<unsigned char>(a[1])))
      a = "-" + a;
    out.push_back(a);
  }
  return out;
}

int parse_daemon_command_line(CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::string> args = normalize_daemon_args(argc, argv);
  static_assert(kExitDaemonUsage == mw::cli::kExitUsage, "one exit status for a wrong command line");
  return mw::cli::parse(app, std::vector<std::string>(args.rbegin(), args.rend()));
}

}  // namespace mw::boinc
