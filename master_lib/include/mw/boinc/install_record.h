// mw/boinc/install_record.h — what mw-project-setup installed into a project.
//
// `mw-project-setup install` writes its decisions into PROJECT/mw_install.xml,
// one <app> element per installed app: where mw-assimilator delivers, which
// task-signing keys volunteers trust, which key masters sign with, the app
// version per platform, the default quorum. Every other mwkit program reads
// its defaults from here (app_defaults), so an option given to install is
// never given again, and no two tools can disagree about, say, the delivery
// directory. The file is XML like the rest of a BOINC project's settings:
//
//   <mw_install>
//     <app>
//       <name>mw</name>
//       <deliver_dir>/home/boincadm/projects/lab/mw_deliver</deliver_dir>
//       <task_signing_key>/home/boincadm/projects/lab/keys/mw_task_private.pem</task_signing_key>
//       <trusted_task_key>-----BEGIN PUBLIC KEY-----…</trusted_task_key>   (one or more)
//       <app_version><platform>x86_64-pc-linux-gnu</platform><version_num>100</version_num></app_version>
//       <app_version><platform>aarch64-unknown-linux-gnu</platform><version_num>100</version_num>
//         <wrapper>/srv/mw/aarch64/mw-wrapper</wrapper><library_root>/srv/mw/arm64-sysroot</library_root></app_version>
//       <min_quorum>2</min_quorum>
//       <installed_at>2026-12-01T17:50:00Z</installed_at>
//     </app>
//   </mw_install>
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mw/boinc/project_config.h"

namespace mw::boinc {

inline constexpr const char* kInstallRecordFile = "mw_install.xml";

struct AppVersionRecord {
  std::string platform;
  int version_num = 0;  // BOINC's: 100 is "1.00"
  // For another architecture's app version (--platform-wrapper, --platform-root):
  // its mw-wrapper and the root its libraries came from. Empty otherwise.
  std::string wrapper;
  std::string library_root;
};

struct InstallRecord {
  std::string app;
  std::string deliver_dir;                     // absolute
  std::string task_signing_key;                // private key masters sign with; empty: not on this server
  std::vector<std::string> trusted_task_keys;  // PEM text, in the order the app version ships them
  std::vector<AppVersionRecord> app_versions;  // the live version per platform
  int min_quorum = 1;                          // the project's default quorum for this app
  std::string installed_at;                    // UTC, ISO 8601
};

// PROJECT/mw_install.xml.
std::string install_record_path(const std::string& project_dir);

// Every app's record; empty when the file does not exist. Throws
// Error(Errc::format) naming the file, line and element when it is not a
// record, Error(Errc::io) when it cannot be read.
std::vector<InstallRecord> read_install_records(const std::string& project_dir);

// The record of `app`, or nullopt when it was never installed.
std::optional<InstallRecord> read_install_record(const std::string& project_dir, const std::string& app);

// Replaces `record.app`'s entry (other apps' entries are kept), written to a
// temporary file, fsynced and renamed over the old one.
void write_install_record(const std::string& project_dir, const InstallRecord& record);

// What a program uses for an option it was not given: the record's value when
// the app was installed, else mwkit's built-in default (PROJECT/mw_deliver,
// KEY_DIR/mw_task_private.pem, quorum 1, the keys KEY_DIR/mw_task_public*.pem).
struct AppDefaults {
  bool recorded = false;  // the values come from the install record
  std::string deliver_dir;
  std::string task_signing_key;
  std::vector<std::string> trusted_task_keys;  // PEM text
  int min_quorum = 1;
};
AppDefaults app_defaults(const ProjectConfig& config, const std::string& app);

}  // namespace mw::boinc
