// work_generator/remote_commands.h — `mw-work-generator … --remote URL`: the
// same commands over BOINC's remote job-submission RPCs, for a submitter with
// no shell on the server (mw/boinc/remote.h has the conventions).
//
//   submit --remote URL --auth-file FILE [--app mw] --batch NAME [settings] BUNDLE.zip…
//       one BOINC batch; prints its id. Bundles are signed (mw-sign) and carry their program.
//       A refused submission leaves no live batch and no file only it used (remote_rpc.h).
//   status --remote URL --auth-file FILE --batch NAME|ID
//       the batch's state by name and its jobs: unsent, in progress, done, errors
//   cancel --remote URL --auth-file FILE --batch NAME|ID      (abort_batch)
//   retire --remote URL --auth-file FILE --batch NAME|ID      (retire_batch: the server drops its outputs)
//   fetch  --remote URL --auth-file FILE --batch NAME|ID --out DIR [--keep]
//       writes DIR/<job>.result for each finished job not fetched yet (temp file, fsync,
//       rename) and DIR/<job>.error for a job BOINC gave up on (query_completed_job's error
//       mask, exit status and stderr inside) or whose output could not be fetched (the
//       server's reason inside; such a job is tried again by the next fetch). Goes
//       on past failures, ends with a summary line, exits 1 when the batch has a .error.
//       Once every job of a finished batch has its file, retires the batch (not with --keep).
// Without --auth-file the authenticator is read from $MW_BOINC_AUTHENTICATOR.
#pragma once

#include <string>
#include <vector>

#include "mw/boinc/work_creator.h"

namespace mw::work_generator {

struct RemoteCommon {
  std::string url, auth_file, app = "mw", batch;
  std::string ca_file;
};

int remote_submit(const RemoteCommon& c, const boinc::WorkunitSettings& settings,
                  const std::vector<std::string>& bundles);
int remote_status(const RemoteCommon& c);
int remote_cancel(const RemoteCommon& c);
int remote_retire(const RemoteCommon& c);
int remote_fetch(const RemoteCommon& c, const std::string& out_dir, bool keep);

}  // namespace mw::work_generator
