// mw-work-generator — submit mwkit tasks to a BOINC project in bulk, and
// follow or cancel the batches.
//
//   mw-work-generator submit --project DIR [--app mw] --batch NAME [settings] TASK...
//       TASK: a signed task bundle (.zip) or a JSON-lines sweep (.jsonl; see sweep.h)
//       prints the batch id
//   mw-work-generator status --project DIR --batch NAME|ID
//   mw-work-generator cancel --project DIR --batch NAME|ID
//   mw-work-generator retire --project DIR --batch NAME|ID
//   mw-work-generator submit|status|cancel|retire|fetch --remote URL --auth-file FILE …
//       the same over BOINC's remote job-submission RPCs (remote_commands.h)
//   mw-work-generator --daemon --app NAME --spool DIR [--min-unsent N] [--batch NAME] [settings]
//       keeps N unsent results, following BOINC's daemon conventions (spool_daemon.h)
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "mw/boinc/install_record.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/task_submitter.h"
#include "mw/error.h"
#include "mw/boinc/daemon.h"
#include "boinc/remote_rpc.h"
#include "remote_commands.h"
#include "spool_daemon.h"
#include "submission.h"
#include "sweep.h"
#include "tool_common.h"
#include "util/fs.h"

namespace {

using namespace mw;
using namespace mw::boinc;
using namespace mw::work_generator;

struct Common {
  std::string project, app = "mw", batch;
};

struct Project {
  ProjectConfig config;
  std::unique_ptr<Database> db;
};

Project open_project(const Common& c) {
  Project p;
  p.config = read_project_config(find_project_dir(c.project));
  p.db = std::make_unique<Database>(db_params_from(p.config));
  return p;
}

std::int64_t resolve_batch(WorkCreator& creator, const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return std::stoll(text);
  if (auto id = creator.find_batch(text)) return *id;
  throw Error(Errc::usage, "no batch named '" + text + "'");
}

struct SubmitOptions {
  Common common;
  std::vector<std::string> tasks;
  std::string key;
  std::uint64_t max_output_bytes = kDefaultMaxOutputBytes;
  WorkunitSettings settings;
};

int cmd_submit(const SubmitOptions& o) {
  Project p = open_project(o.common);
  TaskSubmitter submitter(p.config, *p.db, o.common.app,
                          load_key_if_needed(p.config, o.common.app, o.key, o.tasks), o.max_output_bytes,
                          trusted_keys(p.config, o.common.app));
  const WorkunitSettings settings =
      resolve_replication(o.settings, app_defaults(p.config, o.common.app).min_quorum);
  WorkCreator& creator = submitter.creator();
  auto [batch, created_batch] = open_batch(creator, o.common.batch);
  const std::string stem = name_stem(o.common.batch) + "_" + std::to_string(batch) + "_";
  const auto first = static_cast<std::size_t>(creator.batch_info(batch).njobs);
  std::size_t n = 0;
  try {
    n = submit_inputs(submitter, batch, stem, first, settings, o.tasks);
  } catch (...) {
    // Nothing of this submission stays: not even the batch it opened.
    if (created_batch) creator.discard_batch_if_empty(batch);
    throw;
  }
  std::cerr << "mw-work-generator: " << n << " workunit(s) created in batch " << batch << " ('"
            << o.common.batch << "')\n";
  std::cout << batch << "\n";
  return tools::kExitOk;
}


int cmd_status(const Common& c) {
  Project p = open_project(c);
  TaskSubmitter submitter(p.config, *p.db, c.app, nullptr);
  BatchInfo info = submitter.creator().batch_info(resolve_batch(submitter.creator(), c.batch));
  std::cout << "batch " << info.id << " '" << info.name << "': " << boinc::detail::batch_state_name(info.state) << "\n"
            << "jobs: " << info.njobs << " (finished " << info.nfinished << ", errors " << info.nerrors
            << ")\n"
            << "results: unsent " << info.nunsent_results << ", in progress "
            << info.nin_progress_results << "\n";
  return tools::kExitOk;
}

int cmd_close(const Common& c, bool retire) {
  Project p = open_project(c);
  TaskSubmitter submitter(p.config, *p.db, c.app, nullptr);
  const std::int64_t batch = resolve_batch(submitter.creator(), c.batch);
  std::size_t n = retire ? submitter.creator().retire_batch(batch) : submitter.creator().cancel_batch(batch);
  std::cout << (retire ? "retired" : "cancelled") << " batch " << batch << ": " << n
            << " workunit(s) cancelled\n";
  return tools::kExitOk;
}

// Per-workunit settings, as BOINC's create_work names them.
void add_settings_options(CLI::App* cmd, WorkunitSettings& w) {
  // Replication: the quorum alone is enough; the rest is derived (resolve_replication).
  cmd->add_option("--min-quorum", w.min_quorum,
                  "Agreeing results needed (default: mw-project-setup's record, else 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--target-nresults", w.target_nresults, "Results created at first (default: the quorum)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-error-results", w.max_error_results,
                  "Failed results before the workunit fails (default: target + 2)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-total-results", w.max_total_results,
                  "Results in all before the workunit fails (default: max errors + max successes)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-success-results", w.max_success_results,
                  "Successful results without agreement before it fails (default: max(2 x quorum, target))")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--delay-bound", w.delay_bound, "Seconds a host has to return a result")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--fpops-est", w.rsc_fpops_est, "Estimated floating-point operations of a task (rsc_fpops_est)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--fpops-bound", w.rsc_fpops_bound,
                  "Floating-point operations after which a host aborts the task (rsc_fpops_bound)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--memory-bound", w.rsc_memory_bound, "Bytes of memory a host must have (rsc_memory_bound)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--disk-bound", w.rsc_disk_bound, "Bytes of disk a host must have (rsc_disk_bound)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--priority", w.priority, "Workunit priority; higher is sent first")->capture_default_str();
}

// `mw-work-generator --daemon …`: run under the project's bin/start.
int daemon_main(int argc, char** argv) {
  SpoolOptions o;
  CLI::App app{"Keeps a BOINC app fed from a spool directory", "mw-work-generator --daemon"};
  bool daemon_flag = true;
  app.add_flag("--daemon", daemon_flag, "Run as a daemon (this mode)");
  add_daemon_options(app, o.daemon);
  app.add_option("--spool", o.spool_dir, "Directory of task bundles (.zip) and sweeps (.jsonl)")->required();
  app.add_option("--min-unsent", o.min_unsent, "Keep at least this many unsent results")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--batch", o.batch, "Batch the workunits go into")->capture_default_str();
  app.add_option("--key", o.key, "Task-signing key for sweeps (default: KEY_DIR/mw_task_private.pem)");
  app.add_option("--max-output-bytes", o.max_output_bytes, "Upload limit of the result bundle")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_settings_options(&app, o.settings);
  int code = parse_daemon_command_line(app, argc, argv);
  if (code >= 0) return code;
  return run_spool_daemon(o);
}

// --remote URL --auth-file FILE [--ca-file PEM]: BOINC's web RPCs instead of the project directory.
void add_remote(CLI::App* cmd, RemoteCommon& r) {
  cmd->add_option("--remote", r.url, "Project URL: use BOINC's remote job-submission RPCs");
  cmd->add_option("--auth-file", r.auth_file,
                  "File (mode 0600) holding the submitter's authenticator (default: $MW_BOINC_AUTHENTICATOR)");
  cmd->add_option("--ca-file", r.ca_file, "PEM bundle of a private CA for HTTPS");
}

// Copies what the local and remote commands share.
RemoteCommon remote_of(RemoteCommon r, const Common& c) {
  r.app = c.app;
  r.batch = c.batch;
  return r;
}

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--project", c.project,
                  "Project directory (default: $BOINC_PROJECT_DIR, else . or .. as BOINC finds it)");
  cmd->add_option("--app", c.app, "BOINC app name")->capture_default_str();
  cmd->add_option("--batch", c.batch, "Batch name (or id, except for submit)")->required();
}

bool daemon_requested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--daemon" || std::string(argv[i]) == "-daemon") return true;
  return false;
}

int work_generator_main(int argc, char** argv) {
  if (daemon_requested(argc, argv)) return daemon_main(argc, argv);
  CLI::App app{"Submit mwkit tasks to a BOINC project in bulk", "mw-work-generator"};
  mw::cli::set_up(app);
  app.require_subcommand(1);
  // Shown in the top-level help, which otherwise would not mention it.
  app.add_flag("--daemon", "Keep an app fed from a spool directory (mw-work-generator --daemon --help)");

  SubmitOptions s;
  auto* submit = app.add_subcommand("submit", "Create workunits for task bundles or a JSON-lines sweep");
  add_common(submit, s.common);
  submit->add_option("tasks", s.tasks, "Task bundles (.zip) and sweeps (.jsonl)")->required();
  submit->add_option("--key", s.key, "Task-signing key for sweeps (default: KEY_DIR/mw_task_private.pem)");
  submit->add_option("--max-output-bytes", s.max_output_bytes, "Upload limit of the result bundle")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_settings_options(submit, s.settings);

  Common status_opts, cancel_opts, retire_opts;
  auto* status = app.add_subcommand("status", "Show a batch's progress");
  add_common(status, status_opts);
  auto* cancel = app.add_subcommand("cancel", "Cancel a batch as BOINC's cancel_jobs does");
  add_common(cancel, cancel_opts);
  auto* retire = app.add_subcommand("retire", "Cancel what is left of a batch and mark it retired");
  add_common(retire, retire_opts);

  RemoteCommon submit_remote, status_remote, cancel_remote, retire_remote, fetch_remote;
  add_remote(submit, submit_remote);
  add_remote(status, status_remote);
  add_remote(cancel, cancel_remote);
  add_remote(retire, retire_remote);
  Common fetch_opts;
  std::string fetch_out;
  bool fetch_keep = false;
  auto* fetch = app.add_subcommand("fetch", "Download finished jobs' result bundles (--remote only)");
  add_common(fetch, fetch_opts);
  add_remote(fetch, fetch_remote);
  fetch->add_option("--out", fetch_out, "Directory for <job>.result / <job>.error")->required();
  fetch->add_flag("--keep", fetch_keep, "Do not retire the batch once every job's file is fetched");

  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;
  if (*submit && !submit_remote.url.empty())
    return remote_submit(remote_of(submit_remote, s.common), resolve_replication(s.settings), s.tasks);
  if (*status && !status_remote.url.empty()) return remote_status(remote_of(status_remote, status_opts));
  if (*cancel && !cancel_remote.url.empty()) return remote_cancel(remote_of(cancel_remote, cancel_opts));
  if (*retire && !retire_remote.url.empty()) return remote_retire(remote_of(retire_remote, retire_opts));
  if (*fetch) {
    if (fetch_remote.url.empty()) throw tools::UsageError("fetch needs --remote URL");
    return remote_fetch(remote_of(fetch_remote, fetch_opts), fetch_out, fetch_keep);
  }
  if (*submit) return cmd_submit(s);
  if (*status) return cmd_status(status_opts);
  if (*cancel) return cmd_close(cancel_opts, false);
  return cmd_close(retire_opts, true);
}

}  // namespace

int main(int argc, char** argv) {
  return mw::tools::run_tool("mw-work-generator", [&] { return work_generator_main(argc, argv); });
}
