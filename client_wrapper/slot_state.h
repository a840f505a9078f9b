// What the wrapper keeps in the slot directory between runs, so that a
// restarted wrapper resumes the task from its checkpoint instead of from zero:
//
//   mw_work/            the unpacked task: its working directory
//   mw_work.verified    "mw-wrapper verified <SHA-256 of task.xml>": written
//                       (temp file, fsync, rename) only after every file was
//                       extracted and checked against that task.xml
//   mw_wrapper_state    "<elapsed seconds> <cpu seconds>" of earlier runs, as of
//                       the task's last checkpoint
//
// On restart the unpacked copy is reused when the marker names the task.xml
// of the bundle in hand (whose signature is checked again: it is cheap) and
// every declared file is still there, a regular file of the declared size.
// Anything else — no marker, another task, a file gone — unpacks afresh.
#pragma once

#include <string>
#include <vector>

#include "mw/bundle.h"

namespace mw::wrapper {

struct PriorRuns {
  double elapsed_seconds = 0;
  double cpu_seconds = 0;
};

class SlotState {
 public:
  explicit SlotState(std::string slot_dir);

  const std::string& work_dir() const { return work_dir_; }

  // Makes work_dir() hold the verified, unpacked task: reuses an intact copy
  // (returns true) or unpacks `bundle` into a fresh directory (returns false).
  // The signature must have been verified by the caller. Throws mw::Error.
  bool prepare(const TaskBundle& bundle);

  PriorRuns prior_runs() const;
  // Records the totals as of a checkpoint (atomic replace).
  void record_checkpoint(const PriorRuns& totals) const;
  // Removes everything the wrapper left in the slot (after the result is written).
  void clear() const;

 private:
  bool intact_copy_of(const TaskBundle& bundle) const;
  std::string slot_dir_;
  std::string work_dir_;
  std::string marker_path_;
  std::string state_path_;
};

}  // namespace mw::wrapper
