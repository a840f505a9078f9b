// setup.h — install mwkit into a BOINC project, check it, remove it.
//
// One plan drives all three commands: compare what the project has with what
// mwkit needs (daemons in config.xml, templates, task keys, the app and its
// signed app versions) and list each piece as present, missing or outdated.
// `check` prints the plan; `install` applies it (nothing when everything is
// present); `--dry-run` prints it as the exact changes install would make.
// Everything that can fail is checked before the first change, so a refused
// install leaves the project as it was.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace mw::setup {

// BOINC API version of Debian's libboinc_api.so.7 (bookworm 7.20.5), written
// explicitly because the marker update_versions greps for is not in our binary.
inline constexpr const char* kDefaultApiVersion = "7.20.5";

struct SetupOptions {
  std::string project;              // the project directory (holds config.xml)
  std::string app = "mw";
  std::string deliver;              // assimilator's delivery directory; default PROJECT/mw_deliver
  std::string wrapper;              // mw-wrapper for this host's platform
  std::string wrapper_dir;          // DIR/<platform>/mw-wrapper (+ DIR/<platform>/lib*.so*)
  std::vector<std::string> platforms;
  std::string signatures;           // DIR/<physical name>.sig made offline
  std::vector<std::string> task_pubs;
  std::vector<std::string> boinc_libs;  // shared libraries shipped with the host platform's wrapper
  std::string api_version = kDefaultApiVersion;
  bool replication = false;
  bool dry_run = false;
};

// Exit codes: 0 done (install/uninstall) or all present (check); 1 check found
// missing or outdated pieces. Errors throw mw::Error.
int install(const SetupOptions& options, std::ostream& out);
int check(const SetupOptions& options, std::ostream& out);
int uninstall(const SetupOptions& options, std::ostream& out);

// This host's BOINC platform name (x86_64-pc-linux-gnu on 64-bit Intel Linux).
std::string host_platform();

// The shared libraries Debian's libboinc-app7 / libboinc7 install, which a
// volunteer host lacks (reference §8.2), resolved to real files.
std::vector<std::string> default_boinc_libs();

}  // namespace mw::setup
