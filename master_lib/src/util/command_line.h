// util/command_line.h — what every installed mwkit program's command line
// shares (issue 21): help that shows each option's default, --version, and a
// wrong command line reported as one line on stderr with exit status 64.
//
// Header-only, because the programs that use it link different things: the
// tools, the daemons (through libmw_boinc's daemon options), mw-wrapper and
// mw-mpi-worker. Each includes CLI11 itself and links libmw (for mw/log.h).
#pragma once

#include <CLI/CLI.hpp>

#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "mw/log.h"
#include "mw_version.h"
#include "util/termination.h"

namespace mw::cli {

// sysexits.h's EX_USAGE. CLI11's own codes (105, 106, 109, ...) depend on the
// kind of mistake, which no caller — a script, BOINC's bin/start — can act on;
// one documented number for "the command line is wrong" it can.
inline constexpr int kExitUsage = 64;

// Shows a default as "(default: X)" after the option's description. CLI11
// writes "TYPE=X" next to the option name, which reads like an example.
class Formatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override {
    std::string text = CLI::Formatter::make_option_opts(opt);
    if (!opt->get_default_str().empty()) {
      const std::string shown = "=" + opt->get_default_str();
      const auto at = text.find(shown);
      if (at != std::string::npos) text.erase(at, shown.size());
    }
    return text;
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string text = opt->get_description();
    if (!opt->get_default_str().empty()) text += " (default: " + opt->get_default_str() + ")";
    return text;
  }
};

// "mw-task (mwkit) 0.1.0": the program (the app's name up to a space, so
// "mw-work-generator --daemon" is mw-work-generator) and mwkit's version.
inline std::string version_text(const CLI::App& app) {
  const std::string& name = app.get_name();
  return name.substr(0, name.find(' ')) + " (mwkit) " + MWKIT_VERSION;
}

// Call right after making the App, before adding options and subcommands:
// subcommands copy the formatter when they are made.
inline void set_up(CLI::App& app) {
  app.formatter(std::make_shared<Formatter>());
  app.set_version_flag("--version", version_text(app), "Print the program's name and mwkit's version, then exit");
}

// "mw-task new": the program and the subcommands the parser had entered.
inline std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    path += " " + at->get_name();
  }
  return path;
}

// The one line for a parse error. An argument the parser did not know is
// named first: it usually explains the rest (a mistyped "--outt x" is also a
// missing --out), and CLI11 checks required options before leftovers.
inline std::string error_line(const CLI::App& app, const CLI::ParseError& e) {
  std::string message = e.what();
  const std::vector<std::string> extras = app.get_allow_extras() ? std::vector<std::string>{}
                                                                   : app.remaining(true);
  if (!extras.empty()) {
    const std::string& first = extras.front();
    // Only the first: what follows an unknown option is usually its value.
    message = (first.size() > 1 && first[0] == '-' ? "unknown option '" : "unexpected argument '") +
              first + "'";
  }
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  const std::string path = command_path(app);
  return path + ": " + message + " (see " + path + " --help)";
}

// Accepts a name from mw/log.h; anything else is a usage error that lists
// the names.
inline CLI::Validator log_level_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (mw::log_level_from_string(text)) return {};
        return "'" + text + "' is not a log level; use one of " + mw::log_level_names();
      },
      "", "log_level");
}

// --log-level LEVEL on `app` and each of its subcommands (so it may follow
// the subcommand's name), unless one already has it (the daemons: BOINC's
// numbers, and these names too). Its default is the level in effect, i.e.
// $MW_LOG_LEVEL or info.
inline void add_log_level_option(CLI::App& app) {
  if (app.get_option_no_throw("--log-level") == nullptr) {
    app.add_option_function<std::string>(
           "--log-level", [](const std::string& text) { mw::set_log_level(*mw::log_level_from_string(text)); },
           std::string("Diagnostics to show: ") + mw::log_level_names() +
               " (each includes those before it); MW_LOG_LEVEL sets the default")
        ->check(log_level_validator())
        ->type_name("LEVEL")
        ->default_str(mw::to_string(mw::log_level()));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) add_log_level_option(*sub);
}

// Adds --log-level (add_log_level_option), then parses `reversed_args`
// (argv[1..] in reverse, as CLI11's parse(vector) takes them). Returns -1 when the program should go on; else the exit status
// after printing: help or version on stdout (0), or one error line on stderr
// (kExitUsage).
inline int parse(CLI::App& app, std::vector<std::string> reversed_args) {
  add_log_level_option(app);
  try {
    app.parse(reversed_args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::cerr << error_line(app, e) << std::endl;
    return kExitUsage;
  }
  return -1;
}

inline int parse(CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::string> reversed;
  for (int i = argc - 1; i >= 1; --i) reversed.emplace_back(argv[i]);
  return parse(app, std::move(reversed));
}

// Runs a program's body so that nothing leaves main as an exception: one line
// "PROGRAM: message" on stderr and `failure_status` instead. A program stopped
// by SIGINT, SIGTERM or SIGHUP (util/termination.h) dies of that signal, however
// its body ended.
inline int run_main(const char* program, int failure_status, const std::function<int()>& body) {
  int status = failure_status;
  try {
    status = body();
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << std::endl;
  } catch (...) {
    std::cerr << program << ": stopped by an exception that is not a std::exception" << std::endl;
  }
  mw::detail::await_death_if_terminating();
  return status;
}

}  // namespace mw::cli
