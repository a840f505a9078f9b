// examples/common/example_cli.h — the command line every example shares
// (issue 21, item 4): which back end (--interface, --workers, --project) and
// --progress. The list of interfaces and how each is made from the options
// live here only, so an example's help, its errors and what it accepts cannot
// disagree, and an example that cannot use an interface says why.
//
// Use, after mw::cli::set_up(app) and before mw::cli::parse:
//
//   examples::BackEndOptions back_end(app, {{"simulator", "the simulator does not run exec tasks"}});
//   examples::ProgressOption progress(app, "exec_wc");
//   ...
//   mw::MasterOptions options;
//   progress.apply(options, files.size());
//   mw::Master master(back_end.make_interface(), options);
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mw/interface.h"
#include "mw/master.h"

namespace examples {

// The interfaces this build has (the optional parts it was built with), in
// the order help lists them.
std::vector<std::string> built_interfaces();

// An interface an example cannot use, and why. `applies` decides after the
// command line is parsed (null_task refuses the simulator only with --exec);
// empty, it always does, and help leaves the interface out of the list.
struct Refusal {
  std::string interface;
  std::string reason;     // "the simulator does not run exec tasks"
  std::string condition;  // for help when `applies` is set: "with --exec"
  std::function<bool()> applies;
};

// --interface NAME, --workers N and --project DIR. A name this build lacks, a
// refused interface, --workers for a back end whose hosts are not chosen here
// (condor, boinc) and --project without --interface boinc are usage errors,
// reported by mw::cli::parse as one line and exit 64.
class BackEndOptions {
 public:
  // default_workers 0: one per core.
  explicit BackEndOptions(CLI::App& app, std::vector<Refusal> refusals = {}, unsigned default_workers = 0);
  BackEndOptions(const BackEndOptions&) = delete;  // the App's callbacks point at this
  BackEndOptions& operator=(const BackEndOptions&) = delete;

  const std::string& interface() const { return interface_; }
  // What the back end gets: --workers, else the default.
  unsigned workers() const;
  // Throws what the interface's own constructor throws (no project, no mpirun).
  std::unique_ptr<mw::Interface> make_interface() const;

 private:
  void check_after_parse() const;  // throws CLI::ValidationError
  std::vector<std::string> accepted() const;

  std::vector<Refusal> refusals_;
  unsigned default_workers_;
  std::string interface_ = "multicore";
  unsigned workers_ = 0;
  std::string project_dir_;
  CLI::Option* workers_option_ = nullptr;
  CLI::Option* project_option_ = nullptr;
};

// --progress: a bar on stderr when it is a terminal; otherwise a line at
// most every 2 s as tasks finish, and one when the last has finished, such as
// "monte_pi: 12/32 tasks done, 0 failed, 3.1 s" — a log file gets the same
// news a terminal does. Without --progress, batches of 1000 tasks or more
// still get the bar on a terminal (nothing otherwise).
class ProgressOption {
 public:
  ProgressOption(CLI::App& app, std::string program);
  // Sets the options for a run of `total` tasks.
  void apply(mw::MasterOptions& options, std::uint64_t total) const;
  // With --status-listen, says on stderr where the master's status page is.
  void announce(const mw::Master& master) const;

 private:
  std::string program_;
  bool requested_ = false;
  std::string status_listen_;
};

// A check for a count that must lie in [low, high], whose error names the
// value and the range: "--tasks: 0 is not in 1..10000000".
CLI::Validator count_between(std::uint64_t low, std::uint64_t high);

}  // namespace examples
