// mw/runner.h — the one runner every back end uses to execute a task.
//
// verify signature and hashes → unpack into a fresh scratch directory →
// run the program (exec'd with argv, never a shell) under the manifest's
// limits → collect declared outputs → write result.xml and the result bundle
// → remove the scratch directory. Multicore workers, MPI ranks, the HTCondor
// job and the BOINC wrapper are thin shells around this.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mw/bundle.h"
#include "mw/signing.h"
#include "mw/task_format.h"

namespace mw {

struct RunnerOptions {
  // Where scratch directories are made; empty = $TMPDIR or /tmp.
  std::string scratch_root;
  UnpackLimits unpack;
  std::uint64_t stdout_cap = 1 << 20;     // bytes of stdout kept (the first ones)
  std::uint64_t stderr_cap = 1 << 20;     // bytes of stderr kept (the last ones)
  std::size_t stderr_tail_bytes = 4096;   // copied into result.xml
  bool keep_scratch = false;              // for debugging: leave the scratch dir behind
  // Limits applied when the manifest sets none (absent = unlimited).
  Limits default_limits;
};

// Runs the task in `bundle_path` (zip or directory) and writes the result
// bundle to `result_path`. Task-level failures — including a bundle that is
// rejected before it runs — are reported in the returned manifest (and the
// result bundle), never thrown. Throws Error only when the result itself
// cannot be written.
ResultManifest run_task_bundle(const std::string& bundle_path,
                               const std::vector<PublicKey>& trusted_keys,
                               const std::string& result_path,
                               const RunnerOptions& options = {});

}  // namespace mw
