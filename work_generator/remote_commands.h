// work_generator/remote_commands.h — `mw-work-generator … --remote URL`: the
// same commands over BOINC's remote job-submission RPCs, for a submitter with
// no shell on the server (mw/boinc/remote.h has the conventions).
//
//   submit --remote URL --auth-file FILE [--app mw] --batch NAME [settings] BUNDLE.zip…
//       one BOINC batch; prints its id. Bundles are signed (mw-sign) and carry their program.
//   status --remote URL --auth-file FILE --batch ID
//   cancel --remote URL --auth-file FILE --batch ID      (abort_batch)
//   fetch  --remote URL --auth-file FILE --batch ID --out DIR
//       writes DIR/<job>.result for each finished job not fetched yet (temp file, fsync,
//       rename), DIR/<job>.error for jobs BOINC gave up on.
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
int remote_fetch(const RemoteCommon& c, const std::string& out_dir);

}  // namespace mw::work_generator
