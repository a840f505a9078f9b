// What the wrapper keeps in the slot directory between runs, so that a
// restarted wrapper resumes the task from its checkpoint instead of from zero:
//
//   mw_work/            the unpacked task: its working directory
//   mw_work.verified    "mw-wrapper verified <SHA-256 of task.xml>\n"
//                       "boot <the kernel's boot id>\n": written (temp file,
//                       rename) only after every file was extracted and
//                       checked against that task.xml
//   mw_wrapper_state    "<elapsed seconds> <cpu seconds>" of earlier runs, as of
//                       the task's last checkpoint
//
// On restart the unpacked copy is reused when the marker names the task.xml
// of the bundle in hand (whose signature is checked again: it is cheap) and
// every declared file is still there, a regular file of the declared size.
// Neither the unpacked files nor the marker are fsync'd before the task
// starts (that would cost more than the unpacking): within one boot the page
// cache is the truth, so a marker from this boot is trusted as above; after a
// crash or reboot the files may not have reached the disk intact even if the
// marker did, so a marker from another boot (or without a boot id) gets every
// declared file checked against its SHA-256 again — no unzip, and the task's
// own checkpoint survives. Anything else — no marker, another task, a file
// gone or changed — unpacks afresh.
#pragma once

#include <string>
#include <vector>

#include "mw/bundle.h"

namespace mw::wrapper {

struct PriorRuns {
  double elapsed_seconds = 0;
  double cpu_seconds = 0;
};

// How prepare() made the unpacked copy ready.
enum class Preparation {
  unpacked,    // verified and unpacked afresh
  reused,      // the copy of an earlier run in this boot, as it was
  reverified,  // the copy of a run before a reboot, every file hashed again
};

class SlotState {
 public:
  explicit SlotState(std::string slot_dir);

  const std::string& work_dir() const { return work_dir_; }

  // Makes work_dir() hold the verified, unpacked task, reusing an intact copy
  // when it can. The signature must have been verified by the caller.
  // Throws mw::Error.
  Preparation prepare(const TaskBundle& bundle);

  PriorRuns prior_runs() const;
  // Records the totals as of a checkpoint (atomic replace).
  void record_checkpoint(const PriorRuns& totals) const;
  // Removes everything the wrapper left in the slot (after the result is written).
  void clear() const;

 private:
  struct Marker {
    std::string manifest_sha256;
    std::string boot_id;  // empty if the marker has none
  };
  Marker read_marker() const;
  void write_marker(const TaskBundle& bundle) const;
  bool sizes_match(const TaskBundle& bundle) const;
  bool hashes_match(const TaskBundle& bundle) const;
  std::string slot_dir_;
  std::string work_dir_;
  std::string marker_path_;
  std::string state_path_;
};

}  // namespace mw::wrapper
