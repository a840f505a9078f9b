// setup.h — install mwkit into a BOINC project, check it, remove it.
//
// One plan drives all three commands: compare what the project has with what
// mwkit needs (daemons in config.xml and their programs in PROJECT/bin,
// templates, task keys, the app and its signed app versions, the install
// record) and list each piece as present, missing or outdated. `check` prints
// the plan plus whether each daemon runs; `install` applies it (nothing when
// everything is present and running); `--dry-run` prints it as the exact
// changes install would make. Everything that can fail is checked before the
// first change, so a refused install leaves the project as it was.
//
// install writes its decisions into PROJECT/mw_install.xml
// (mw/boinc/install_record.h); what is not given on a later command line is
// taken from there, so `check --project P` alone compares the project with
// what was installed, and a later install never silently replaces trusted task
// keys or moves the delivery directory (each needs its own flag).
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mw::setup {

// BOINC API version of Debian's libboinc_api.so.7 (bookworm 7.20.5), written
// explicitly because the marker update_versions greps for is not in our binary.
inline constexpr const char* kDefaultApiVersion = "7.20.5";

struct SetupOptions {
  std::string project;              // the project directory (holds config.xml)
  std::string app = "mw";
  bool app_given = false;           // else check/uninstall use the only recorded app, if there is one
  std::string deliver;              // assimilator's delivery directory; default: recorded, else PROJECT/mw_deliver
  std::string programs_dir;         // mw-validator, mw-assimilator, … to install; default: found (programs_near_setup)
  std::string wrapper;              // mw-wrapper for this host's platform
  std::string wrapper_dir;          // DIR/<platform>/mw-wrapper (+ DIR/<platform>/lib*.so*)
  std::vector<std::string> platforms;
  // Another architecture's app version (docs/wrapper.md, "aarch64"): its
  // mw-wrapper (the cross build's), and the root (an arm64 Debian root, the
  // one it was linked against) whose library directories hold what that
  // wrapper needs beyond glibc. Keyed by BOINC platform name; recorded.
  std::map<std::string, std::string> platform_wrappers;
  std::map<std::string, std::string> platform_roots;
  std::string signatures;           // DIR/<physical name>.sig made offline
  std::vector<std::string> task_pubs;
  std::string task_key;             // the private key masters sign with, recorded (with --task-pub)
  std::vector<std::string> boinc_libs;  // shared libraries shipped with the host platform's wrapper
  // Also ship every other library the host platform's wrapper needs beyond
  // glibc (DT_NEEDED, walked transitively), found in this machine's library
  // directories. Off (--no-boinc-libs): only `boinc_libs` go, and a wrapper
  // that needs more is refused. A --wrapper-dir platform is never searched.
  bool resolve_libs = true;
  std::string api_version = kDefaultApiVersion;
  bool replication = false;         // quorum 2 unless min_quorum says otherwise
  int min_quorum = 0;               // 0: recorded, else 2 with replication, else 1
  bool replace_task_keys = false;   // allow dropping a recorded trusted key
  bool move_deliver = false;        // allow another delivery directory than the recorded one
  double start_timeout = 30;        // seconds each daemon has to hold its lock after bin/start
  bool dry_run = false;
};

// Exit codes: 0 done (install/uninstall) or all present and running (check);
// 1 check found missing, outdated or stopped pieces. Errors throw mw::Error —
// among them an install whose daemons did not start (with their log's tail).
int install(const SetupOptions& options, std::ostream& out);
int check(const SetupOptions& options, std::ostream& out);
int uninstall(const SetupOptions& options, std::ostream& out);

// This host's BOINC platform name (x86_64-pc-linux-gnu on 64-bit Intel Linux).
std::string host_platform();

// Where this mw-project-setup finds `program` (mw-validator, mw-wrapper, …):
// beside itself (an installed prefix's bin/), else in its build tree
// (BUILD/validator/mw-validator for BUILD/project_setup/mw-project-setup).
// Empty when neither has it.
std::string program_near_setup(const std::string& program);

// What an app version's main program needs on a volunteer host that has
// only glibc (reference §11.9): the libraries to ship with it (`shipped`
// first, then those found in `search_dirs`), the ones found nowhere, and the
// oldest glibc it loads with. `platform`'s architecture is checked too.
struct WrapperNeeds {
  std::vector<std::pair<std::string, std::string>> libraries;  // (file, name on the host = soname)
  std::vector<std::string> problems;  // each names the file or library; empty: it loads
  std::string glibc_floor;            // e.g. "2.34"
  std::string glibc_floor_from;       // the file that needs it
};
// Where a Debian root (an arm64 root for aarch64-unknown-linux-gnu) keeps
// `platform`'s libraries, multiarch directory first: `search_dirs` for
// wrapper_needs when the wrapper is another architecture's.
std::vector<std::string> root_library_dirs(const std::string& root, const std::string& platform);

WrapperNeeds wrapper_needs(const std::string& wrapper, const std::string& platform,
                           const std::vector<std::string>& shipped, const std::vector<std::string>& search_dirs);

}  // namespace mw::setup
