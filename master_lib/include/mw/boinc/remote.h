// mw/boinc/remote.h — the BOINC interface for a master that is not on the
// server: BOINC's remote job-submission RPCs over HTTPS.
//
//   mw::boinc::Remote boinc;
//   boinc.project_url = "https://boinc.example.org/lab/";
//   boinc.auth_file = "/home/me/.mw/lab.auth";   // mode 0600
//   boinc.signing_key = "/home/me/.mw/mw_task_private.pem";
//   mw::Master master(boinc);          // the one line that changes
//
// Tasks are laid out as docs/boinc-conventions.md says for the local
// interface: a task bundle (signed with the master's task key) and, for a
// task whose program travels with it, that program as a second file named
// by its SHA-256 (`mwp_<sha256>`), so volunteer hosts and the server keep one
// copy. Every file is staged on the server under a content-hash name
// (`mwt_<sha256>` for bundles): job_file.php's query_files says which names
// the server lacks and only those are uploaded. Each submission chunk
// (up to tasks_per_submit tasks gathered from the master) becomes one BOINC
// batch, made by the submit_batch that makes its jobs (no create_batch).
// Task bundles are built and signed
// in memory (no file, no fsync: the ledger, not the bundle, is what a resumed
// master relies on). Each batch is followed with query_batch on its own
// schedule: first poll_initial_seconds after its submission (never at once,
// so submitting many chunks costs no polls), then backing off by half again
// each quiet poll up to poll_max_seconds, back to poll_initial_seconds after
// a poll that saw a job end; a job BOINC reports done is
// fetched once — from the batch-collect copy mw-assimilator keeps in
// PROJECT/results/<batch>/ (get_output3.php, the authenticator in the login
// cookie), which outlives BOINC's file_deleter; only without one from
// upload/ (get_output.php, the authenticator in its URL) — and handed to the
// Master as the local interface does; a job in error fails its task with
// status `rejected`. Cancelling a task aborts its job (abort_jobs). A batch
// is retired once its last job is handed over, so the server frees its
// outputs, and whatever is left at shutdown (retire_batch_at_end).
//
// Batches and job names: chunk k is the batch "<batch_name>_<k>" (k counts
// on from the ledger's batches, and skips names the server already has:
// BOINC finds a batch by name as the first row with it), and its job for
// task t is "<stem>_<t>", the stem being the batch name's [A-Za-z0-9_-]
// characters (plus 8 hex digits of its SHA-256 when others were replaced).
// Names, not BOINC's batch id, so that both are known — and recorded in the
// ledger — before the batch exists. Files are staged first, tied to no batch
// but kept for a lease of hours (job_file.php's delete_time), then
// submit_batch without a batch id makes the batch and its jobs, then the
// files are tied to the new batch. What BOINC checks before it inserts the
// batch row (app, rights, the PHP 8.2 template quirk, file counts against a
// project template APP_in) refuses with nothing made: no batch row, no file
// tied to one, and the staged files go to BOINC's job-file cleanup when the
// lease ends. create_work runs after that insert, so a chunk it refuses
// leaves the row (INIT, no jobs): Remote finds it by name and retires it at
// once (no RPC deletes a batch row; a retired batch has no jobs, is not
// listed by query_batches and holds no staged files).
//
// Templates: submit_batch names mwkit's templates as mw-project-setup
// installs them (input_template_filename mw_in.xml, or mw_in_program.xml for
// jobs that carry a program file; output_template_filename mw_out.xml) —
// without them BOINC's create_work would look for templates/APP_in and
// APP_out. BOINC checks every job of a batch against one input template, so
// a chunk that mixes tasks with and without a program file becomes two batches.
//
// Quorum and result limits: BOINC's submit_rpc_handler.php passes only rsc_*
// and delay_bound from a batch's <job_params> to create_work; min_quorum,
// target_nresults and max_{error,total,success}_results there would be
// ignored. There is no batch-level inline template either (a batch can only
// name a file in templates/). So every job carries its own <input_template>:
// mwkit's template for its file count (as templates/mw_in*.xml, the program
// file sticky and no_delete) plus a <workunit> block with `settings`' five
// quorum values. The server writes each distinct template text once to a
// temporary file and passes it to create_work for that job (--wu_template);
// the template's values override create_work's defaults. It is sent always,
// not only when the settings differ from "the defaults": create_work's
// defaults differ between BOINC versions (1/1/1/1/1 in one, 2/2/3/10/6 in
// another), so only an explicit template makes the quorum the one asked for.
// The cost is about 0.5 KB per job in submit_batch's request; the number of
// requests does not change. All jobs of a batch carry the same text (some
// create_work versions cache per-job templates by buffer address, so jobs of
// one create_work run should not differ).
//
// Resuming (the ledger): a master killed mid-run and started again on the
// same MasterOptions::work_dir must not submit its tasks twice. Remote
// records in STATE/boinc_remote.sqlite (STATE = state_dir, else the master's
// work_dir) each job it creates — its name (mwkit chooses it), batch, task id
// and the task's fingerprint (mw::Master's journal uses the same one) —
// before the submit_batch that creates it. A restarted master re-runs its
// unfinished tasks; for one whose id and fingerprint the ledger knows, Remote
// follows the existing job instead of submitting a new one. A job recorded
// but not known to be on the server (killed while waiting for submit_batch's
// reply) is looked up by its batch's name with query_batch (the batch id
// came in that reply): followed if the server has it, submitted anew if not. A downloaded output is kept in the ledger until the
// Master has taken it (and journaled it), so an output is downloaded once even
// when the master dies between the download and the journal. Without a
// state_dir and a work_dir there is no ledger: a restarted master submits its
// unfinished tasks again as new jobs.
//
// Server quirks handled: on BOINC with PHP 8.2, submit_batch answers
// "couldn't parse input template file" unless the batch names a
// workunit_template_file that does not exist; that reply is detected, a
// warning logged, and the submission retried once with the workaround (kept
// for the rest of the run). Requests always carry at least one child besides
// the authenticator (BOINC rejects an empty request element).
//
// The authenticator is read from auth_file (which must be mode 0600 or
// stricter: Errc::usage otherwise) or, when auth_file is empty, from the
// environment variable auth_env. It never appears in a log line, an error
// message or an exception.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "mw/boinc/workunit_settings.h"
#include "mw/interface.h"

namespace mw::boinc {

struct Remote {
  std::string project_url;                       // the project's URL (…/ ; '/' added if missing)
  std::string auth_file;                         // file holding the authenticator (0600)
  std::string auth_env = "MW_BOINC_AUTHENTICATOR";  // used when auth_file is empty
  std::string app = "mw";
  std::string batch_name;                        // default "mw_<host>_<pid>_<time>"; chunk k adds "_k"
  WorkunitSettings settings;                     // quorum, bounds, priority, delay_bound
  std::string signing_key;                       // the master's task key (required)
  std::string worker_program;                    // runs function tasks; default this program
  // Where the ledger lives (boinc_remote.sqlite; created, mode 0700). Empty:
  // the master's work_dir, when MasterOptions::work_dir is set.
  std::string state_dir;

  // HTTP.
  // HTTPS certificates are verified (chain and host name) unless verify_tls
  // is false; a failed check is final, not retried, and the error names the
  // URL and the problem. ca_file: a PEM bundle of a private CA, for a project
  // whose certificate no system CA signed (then only that bundle is trusted).
  std::string ca_file;                           // private CA bundle (PEM); empty: system CAs
  bool verify_tls = true;
  double connect_timeout_seconds = 15;
  double total_timeout_seconds = 300;
  int http_attempts = 5;                         // per request, on network errors and 5xx
  double backoff_initial_seconds = 0.5;          // doubled each retry (with jitter), capped at 30 s

  // Batching and polling.
  std::size_t tasks_per_submit = 1000;           // tasks per BOINC batch
  double gather_seconds = 0.2;                   // wait this long for a chunk to fill
  std::size_t max_in_flight = 100000;
  double poll_initial_seconds = 2;
  double poll_max_seconds = 60;
  bool retire_batch_at_end = true;              // retire each batch after its last fetch, and at shutdown

  // Warnings (the template quirk, failed retirements); default: standard error.
  std::function<void(const std::string&)> log;

  // Checks the options, reads the authenticator and the key: Errc::usage / io
  // naming what is wrong. Contacts the server only when tasks arrive.
  std::unique_ptr<Interface> make_interface() const;
};

// The authenticator from `auth_file` (mode 0600 or stricter, surrounding
// whitespace dropped) or, when it is empty, from the environment variable
// `env_var`. Errc::usage naming the file or variable (never the value).
std::string read_authenticator(const std::string& auth_file, const std::string& env_var);

}  // namespace mw::boinc
