// spool_daemon.h — `mw-work-generator --daemon`: keeps at least N unsent
// results of an app by submitting task files from a spool directory.
//
// SPOOL/*.zip (task bundles) and SPOOL/*.jsonl (sweeps) wait, oldest name
// first; each file is one submission (one transaction). A submitted file moves
// to SPOOL/done/, a refused one to SPOOL/failed/ with FILE.error saying why.
// Workunit names come from the file's name, so a file resubmitted after a
// crash between the commit and the move is recognised (its names are taken)
// and moved to done/ instead of being submitted twice.
#pragma once

#include <string>

#include "mw/boinc/daemon.h"
#include "mw/boinc/work_creator.h"

namespace mw::work_generator {

struct SpoolOptions {
  boinc::DaemonOptions daemon;   // --app, -d, --one-pass, --sleep, --mod (unused), --project
  std::string spool_dir;
  int min_unsent = 100;          // unsent results (counting new workunits' target_nresults)
  std::string batch = "mw_spool";
  std::string key;               // task-signing key for sweeps
  std::uint64_t max_output_bytes = 64ull << 20;
  boinc::WorkunitSettings settings;
};

// Runs the daemon until stopped; returns its exit code (mw/boinc/daemon.h).
int run_spool_daemon(SpoolOptions options);

}  // namespace mw::work_generator
