// mw/condor.h — an interface whose workers are HTCondor jobs.
//
//   mw::Master master(mw::Condor{});   // condor_submit on this host's schedd
//
// Each task becomes one job of the vanilla universe whose executable is the
// task runner, `mw-run-task task.zip --pub task_sign_public.pem --out
// result.zip`: the task bundle (mw/remote_task.h, the one task format) and the
// interface's public key travel with transfer_input_files, result.zip comes
// back ON_EXIT and is decoded into the Outcome. Bundles are signed with a key
// the interface generates when it starts, so a worker runs only what this
// master wrote.
//
// Overhead. Tasks queued while a condor_submit runs are gathered, and up to
// tasks_per_submit of them go into one submit description: one cluster, one
// `queue` per task (per-proc initialdir, arguments, request_memory,
// request_disk). condor_submit and condor_rm are exec'd with argument vectors,
// never through a shell; the cluster id is read from condor_submit's
// "N job(s) submitted to cluster C." line.
//
// Completion. One watcher thread follows the job event log (one file for all
// clusters, in work_dir) and reports: 005 terminated (result.zip decoded; no
// result means the job's return value or signal and its stderr tail), 009
// aborted (a failed task naming the job, unless this interface cancelled it),
// 012 held (hold_policy: fail with the hold reason after condor_rm, or
// condor_release up to max_releases times), 004 evicted (counted; HTCondor
// runs the job again).
//
// An exec task's program is shipped (Exec::ship_program) or named by an
// absolute path on the execute node; a bare name ("wc") is looked up in the
// master's PATH and that path is used.
//
// Resource requests come from the task: request_memory (MiB) from
// limits.memory_bytes, else estimates.memory_bytes, else default_memory_mib;
// request_disk (KiB) from the bundle's size plus estimates.disk_bytes or
// limits.disk_bytes; request_cpus = 1.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mw/interface.h"

namespace mw {

struct Condor {
  std::string condor_submit = "condor_submit";  // path, or a name looked up in PATH
  std::string condor_rm = "condor_rm";
  std::string condor_release = "condor_release";
  // Where the submit descriptions, bundles, results and the event log go (one
  // subdirectory per task). Must be visible to the schedd (a local disk is
  // fine: files are transferred). Default: a fresh directory under $TMPDIR,
  // removed at shutdown unless keep_work_dir.
  std::string work_dir;
  bool keep_work_dir = false;
  // The job's executable: the task runner. Default: $MW_RUN_TASK, else
  // "mw-run-task" looked up in PATH (HTCondor needs a path; it transfers it).
  std::string run_task_program;
  // The program whose MW_TASK functions run (shipped inside each function
  // task's bundle); default: this program (/proc/self/exe).
  std::string worker_program;
  // Lines added to every submit description before the jobs, e.g.
  // "requirements = (OpSys == \"LINUX\")" or "+AccountingGroup = \"x\"".
  std::vector<std::string> submit_lines;
  enum class HoldPolicy { fail, release };
  HoldPolicy hold_policy = HoldPolicy::fail;
  unsigned max_releases = 2;           // per job, with HoldPolicy::release
  unsigned max_in_flight = 1000;       // tasks queued in HTCondor at once
  unsigned tasks_per_submit = 200;     // jobs per condor_submit (one cluster)
  unsigned default_memory_mib = 256;   // request_memory when the task says nothing
  double poll_seconds = 0.05;          // how often the watcher reads the event log

  std::unique_ptr<Interface> make_interface() const;
};

}  // namespace mw
