// Watches a running task for the BOINC client: once a second it reports the
// fraction done and CPU time, notices the task's checkpoints, and turns the
// client's requests (and the wrapper's own signals) into runner actions.
//
// The task's side of the contract (docs/wrapper.md), both files in its
// working directory and named in its environment:
//   MW_PROGRESS_FILE=mw.progress      a number from 0 to 1, rewritten as it goes
//   MW_CHECKPOINT_FILE=mw.checkpoint  replaced (write a temp file, rename) at
//                                     each checkpoint; read back on start
// Names starting "mw." are reserved by the task format, so they never clash
// with a task's own files or outputs.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "boinc_session.h"
#include "mw/runner.h"
#include "slot_state.h"

namespace mw::wrapper {

inline constexpr const char* kProgressFile = "mw.progress";
inline constexpr const char* kCheckpointFile = "mw.checkpoint";

// Why the wrapper stopped the task (none: it ended by itself).
enum class StopReason { none, quit, abort };

// Requests that arrive as signals (standalone runs and tests; see docs/wrapper.md).
struct SignalRequests {
  bool suspended = false;
  bool quit = false;
  bool abort = false;
};

class TaskMonitor {
 public:
  TaskMonitor(const BoincSession& session, const SlotState& slot, const TaskManifest& task,
              PriorRuns prior, std::function<SignalRequests()> signals);

  RunControl control();
  StopReason stop_reason() const { return stop_; }

 private:
  RunAction poll(const RunProgress& progress);
  double fraction_done(double elapsed_total, double cpu_total) const;
  bool checkpoint_changed();

  const BoincSession& session_;
  const SlotState& slot_;
  PriorRuns prior_;
  double estimate_seconds_ = 0;  // 0: unknown
  bool estimate_is_cpu_ = false;
  std::function<SignalRequests()> signals_;
  StopReason stop_ = StopReason::none;
  struct timespec checkpoint_mtime_ {};
  off_t checkpoint_size_ = -1;
  double checkpoint_cpu_ = 0;
};

}  // namespace mw::wrapper
