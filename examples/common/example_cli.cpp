// examples/common/example_cli.cpp — see example_cli.h.
#include "common/example_cli.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "mw/multicore.h"
#include "mw/simulator.h"
// The optional parts this build has (MWKIT_WITH_* come with their libraries).
#ifdef MWKIT_WITH_BOINC
#include "mw/boinc/local.h"
#endif
#ifdef MWKIT_WITH_CONDOR
#include "mw/condor.h"
#endif
#ifdef MWKIT_WITH_MPI
#include "mw/mpi.h"
#endif

namespace examples {
namespace {

// Every interface an example could name, built or not: a name from this
// list that the build lacks gets "not in this build" rather than "unknown".
const std::vector<std::string> kAllInterfaces = {"multicore", "simulator", "mpi", "condor", "boinc"};

// Back ends that place tasks on hosts they find themselves: a worker count
// means nothing to them.
bool chooses_its_own_hosts(const std::string& name) { return name == "condor" || name == "boinc"; }

// "a, b or c" for help; "a, b, c" for errors, where the reader looks for a name.
std::string join(const std::vector<std::string>& names, const std::string& last_separator) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += (i + 1 == names.size() ? last_separator : ", ");
    text += names[i];
  }
  return text;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

std::vector<std::string> built_interfaces() {
  std::vector<std::string> names = {"multicore", "simulator"};
#ifdef MWKIT_WITH_MPI
  names.push_back("mpi");
#endif
#ifdef MWKIT_WITH_CONDOR
  names.push_back("condor");
#endif
#ifdef MWKIT_WITH_BOINC
  names.push_back("boinc");
#endif
  return names;
}

CLI::Validator count_between(std::uint64_t low, std::uint64_t high) {
  const std::string range = std::to_string(low) + ".." + std::to_string(high);
  return CLI::Validator(
      [low, high, range](std::string& text) -> std::string {
        std::uint64_t value = 0;
        // A sign or anything else but digits is refused here, before CLI11's
        // conversion would wrap "-1" around to 2^64-1.
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
            !CLI::detail::lexical_cast(text, value))
          return "'" + text + "' is not a whole number in " + range;
        if (value < low || value > high) return text + " is not in " + range;
        return {};
      },
      range, "count_between");
}

// --- BackEndOptions ---------------------------------------------------------

BackEndOptions::BackEndOptions(CLI::App& app, std::vector<Refusal> refusals, unsigned default_workers)
    : refusals_(std::move(refusals)), default_workers_(default_workers) {
  std::string help = "Back end: " + join(accepted(), " or ");
  for (const Refusal& r : refusals_)
    if (contains(built_interfaces(), r.interface))
      help += "; not " + r.interface + (r.applies ? " " + r.condition : "") + " (" + r.reason + ")";
  app.add_option("--interface", interface_, help)->capture_default_str();
  workers_option_ = app.add_option("--workers", workers_,
                                   "Workers for multicore, mpi and simulator (condor and boinc find their own hosts)")
                        ->check(count_between(1, 4096))
                        ->default_str(default_workers_ ? std::to_string(default_workers_) : "one per core");
  project_option_ = app.add_option("--project", project_dir_,
                                   "The BOINC project directory, for --interface boinc "
                                   "(default: $BOINC_PROJECT_DIR, else the current directory)")
                        ->check(CLI::ExistingDirectory);
  // After the whole command line: whether an interface is refused can
  // depend on another option (null_task's --exec). Errors thrown here leave
  // CLI::App::parse, so mw::cli::parse reports them as usage errors.
  app.parse_complete_callback([this] { check_after_parse(); });
}

std::vector<std::string> BackEndOptions::accepted() const {
  std::vector<std::string> names;
  for (const std::string& name : built_interfaces()) {
    const bool always_refused = std::any_of(refusals_.begin(), refusals_.end(), [&](const Refusal& r) {
      return r.interface == name && !r.applies;
    });
    if (!always_refused) names.push_back(name);
  }
  return names;
}

void BackEndOptions::check_after_parse() const {
  // What this command line can use: null_task --exec does not offer the simulator.
  std::vector<std::string> takes;
  for (const std::string& name : built_interfaces()) {
    const bool refused = std::any_of(refusals_.begin(), refusals_.end(), [&](const Refusal& r) {
      return r.interface == name && (!r.applies || r.applies());
    });
    if (!refused) takes.push_back(name);
  }
  for (const Refusal& r : refusals_)
    if (r.interface == interface_ && (!r.applies || r.applies()))
      throw CLI::ValidationError("--interface " + interface_ + (r.applies ? " " + r.condition : "") + ": " +
                                 r.reason + "; this program can use " + join(takes, ", "));
  if (!contains(built_interfaces(), interface_)) {
    const std::string what = contains(kAllInterfaces, interface_) ? "' is not in this build of mwkit"
                                                                  : "' is not an interface";
    throw CLI::ValidationError("--interface", "'" + interface_ + what + "; this program takes " + join(takes, ", "));
  }
  if (workers_option_->count() > 0 && chooses_its_own_hosts(interface_))
    throw CLI::ValidationError("--workers is for multicore, mpi and simulator; --interface " + interface_ +
                               " runs tasks on the hosts it finds");
  if (project_option_->count() > 0 && interface_ != "boinc")
    throw CLI::ValidationError("--project is for --interface boinc, not " + interface_);
}

unsigned BackEndOptions::workers() const {
  if (workers_option_->count() > 0) return workers_;
  return default_workers_ ? default_workers_ : cores();
}

std::unique_ptr<mw::Interface> BackEndOptions::make_interface() const {
  const unsigned n = workers();
  if (interface_ == "multicore") return mw::Multicore{n}.make_interface();
  if (interface_ == "simulator") {
    // N identical workers; a task's CPU estimate is its simulated cost.
    mw::Simulator sim;
    for (unsigned i = 0; i < n; ++i) sim.workers.push_back({"sim-" + std::to_string(i + 1), 1.0, {}, 0.0});
    return sim.make_interface();
  }
#ifdef MWKIT_WITH_MPI
  if (interface_ == "mpi") {
    // N worker ranks under mpirun, oversubscribed so the examples run on
    // machines with fewer cores than ranks.
    mw::Mpi mpi{n};
    mpi.oversubscribe = true;
#ifdef MW_MPI_WORKER_PATH  // the rank program in the build tree
    if (mpi.mpi_worker.empty() && !std::getenv("MW_MPI_WORKER")) mpi.mpi_worker = MW_MPI_WORKER_PATH;
#endif
    return mpi.make_interface();
  }
#endif
#ifdef MWKIT_WITH_CONDOR
  if (interface_ == "condor") {
    // Each task a job of this host's HTCondor pool. $MW_CONDOR_SUBMIT,
    // $MW_CONDOR_RM and $MW_CONDOR_RELEASE name other programs: the tests
    // point them at the test double (tests/condor).
    mw::Condor condor;
    if (const char* p = std::getenv("MW_CONDOR_SUBMIT")) condor.condor_submit = p;
    if (const char* p = std::getenv("MW_CONDOR_RM")) condor.condor_rm = p;
    if (const char* p = std::getenv("MW_CONDOR_RELEASE")) condor.condor_release = p;
#ifdef MW_RUN_TASK_PATH  // the job executable (the task runner) in the build tree
    if (!std::getenv("MW_RUN_TASK")) condor.run_task_program = MW_RUN_TASK_PATH;
#endif
    return condor.make_interface();
  }
#endif
#ifdef MWKIT_WITH_BOINC
  if (interface_ == "boinc") {
    // A project with mwkit installed by mw-project-setup; without --project,
    // found as BOINC finds it ($BOINC_PROJECT_DIR, or the current directory).
    mw::boinc::Local boinc;
    boinc.project_dir = project_dir_;
    return boinc.make_interface();
  }
#endif
  // check_after_parse refused anything else; reaching here is a bug.
  throw std::logic_error("interface '" + interface_ + "' passed the checks but has no constructor");
}

// --- ProgressOption ---------------------------------------------------------

namespace {

// The lines for a stderr that is not a terminal. Called by the master after
// every finished task, before its result can be delivered, so the line for
// the last one is out before the program prints its answer.
class ProgressLines {
 public:
  ProgressLines(std::string program, std::uint64_t total) : program_(std::move(program)), total_(total) {}

  void report(const mw::Progress& p) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    const bool last = p.finished >= total_;
    if (!last && printed_ && now - last_line_ < kPeriod) return;
    printed_ = true;
    last_line_ = now;
    std::ostringstream line;
    line.setf(std::ios::fixed);
    line.precision(1);
    line << program_ << ": " << p.finished << "/" << total_ << " tasks done, " << p.failed << " failed, "
         << p.elapsed_seconds << " s\n";
    // One write, so a line is not split by other output on stderr.
    std::cerr << line.str() << std::flush;
  }

 private:
  static constexpr std::chrono::seconds kPeriod{2};
  std::string program_;
  std::uint64_t total_;
  std::mutex mu_;
  bool printed_ = false;
  std::chrono::steady_clock::time_point last_line_{};
};

}  // namespace

ProgressOption::ProgressOption(CLI::App& app, std::string program) : program_(std::move(program)) {
  app.add_flag("--progress", requested_,
               "Show progress on stderr: a bar on a terminal, else a line every 2 s and at the end");
  app.add_option("--status-listen", status_listen_,
                 "Serve a live status page, /status.json and /metrics on this loopback HOST:PORT "
                 "(docs/status.md)");
}

void ProgressOption::announce(const mw::Master& master) const {
  if (status_listen_.empty()) return;
  std::cerr << program_ << ": status page at http://" << master.status_address() << "/\n" << std::flush;
}

void ProgressOption::apply(mw::MasterOptions& options, std::uint64_t total) const {
  // The master draws its bar only when stderr is a terminal.
  options.status_listen = status_listen_;
  options.progress_bar = requested_ || total >= 1000;
  if (!requested_ || isatty(STDERR_FILENO)) return;
  auto lines = std::make_shared<ProgressLines>(program_, total);
  options.on_progress = [lines](const mw::Progress& p) { lines->report(p); };
}

}  // namespace examples
