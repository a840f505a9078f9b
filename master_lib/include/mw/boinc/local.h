// mw/boinc/local.h — the BOINC interface for a master running on the project's server.
//
//   mw::boinc::Local boinc;
//   boinc.project_dir = "/home/boincadm/projects/lab";
//   boinc.settings.min_quorum = boinc.settings.target_nresults = 2;
//   mw::Master master(boinc);          // the one line that changes
//
// Tasks are submitted natively (mw/boinc/task_submitter.h): a batch row per
// Local, workunits inserted in bulk as the master hands tasks over. Results come
// back through mw-assimilator's delivery directory —
// DELIVER/<batch id>/<wu_name>.result (a result bundle) or .error (BOINC's
// reason) — seen with inotify, or by polling where inotify is unavailable.
// Function tasks ship this program (or `worker_program`) as a sticky file that
// volunteer hosts download once. Tasks are signed with the project's task key.
//
// Differences from multicore, by nature of BOINC: each_worker is not available
// (hosts are not known in advance: Errc::usage); a cancelled task's workunit is
// cancelled as BOINC's cancel_jobs does; a master restarted from its journal
// opens a new batch (the old one's workunits finish or are retired unused).
// A workunit BOINC gives up on (.error) becomes a failed task with status
// `rejected` and BOINC's reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mw/boinc/workunit_settings.h"
#include "mw/interface.h"

namespace mw::boinc {

struct Local {
  std::string project_dir;          // empty: found as BOINC finds it
  std::string app = "mw";
  // Where mw-assimilator delivers (its --deliver); default: what
  // mw-project-setup recorded (mw/boinc/install_record.h), else PROJECT/mw_deliver.
  std::string deliver_dir;
  std::string batch_name;           // default "mw_<host>_<pid>_<time>"
  // target_nresults, min_quorum, max_*_results, delay_bound, rsc_* bounds,
  // priority (PyMW's set_boinc_args and more). Replication settings left at 0
  // come from the record's quorum and resolve_replication (work_creator.h). A task's own estimates
  // (fpops, memory) override rsc_fpops_est / rsc_memory_bound for it, keeping
  // the ratio between rsc_fpops_bound and rsc_fpops_est.
  WorkunitSettings settings;
  std::uint64_t max_output_bytes = 64ull << 20;  // upload limit of a result bundle
  std::string signing_key;          // default: the record's, else KEY_DIR/mw_task_private.pem
  std::string worker_program;       // runs function tasks; default this program
  bool retire_batch_at_end = true;  // retire (cancel what is left) when the master stops
  double poll_seconds = 1.0;        // directory scan period without inotify
  bool use_inotify = true;
  std::size_t max_in_flight = 100000;   // tasks handed to BOINC and not yet back
  std::size_t tasks_per_submit = 1000;  // workunits per database transaction

  // Checks the options and opens the project (config.xml, database, templates,
  // key): Errc::usage / io / database naming what is wrong.
  std::unique_ptr<Interface> make_interface() const;
};

}  // namespace mw::boinc
