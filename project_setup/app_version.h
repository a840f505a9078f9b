// app_version.h — an mwkit app version as BOINC's update_versions lays it out.
//
// update_versions (reference §6.2) turns apps/APP/VERSION/PLATFORM/ into an
// app_version row whose xml_doc lists each file (<file_info> with URL,
// signature and size) and the <app_version> that refers to them. mwkit writes
// the same directory (so BOINC's own tool could re-read it) and the same row.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mw::setup {

struct VersionFile {
  std::string source;   // where the bytes come from
  std::optional<std::string> content;  // the bytes themselves, when they are not read from `source`
  std::string logical;  // open name on the host; empty for the main program
  bool main_program = false;
  bool copy_file = false;  // the client copies it into the slot (shared libraries)
  bool executable = false;
  std::string md5;       // 32 hex digits
  std::uint64_t nbytes = 0;
  std::string physical;  // name in download/ (unique per app, version and platform)
};

struct VersionSpec {
  std::string app;
  std::string platform;
  std::string api_version;
  std::vector<VersionFile> files;  // main program first
};

// 100 → "1.00", 5 → "0.05" (update_versions reads "1.00" back as 100).
std::string version_dir_name(int version_num);

// Fills in each file's physical name: APP_VERSION_PLATFORM_<logical or program name>.
void assign_physical_names(VersionSpec& spec, int version_num);

// The app_version.xml_doc update_versions would write; `signatures` maps
// physical name → .sig text.
std::string app_version_xml_doc(const VersionSpec& spec, int version_num,
                                 const std::string& download_url,
                                 const std::map<std::string, std::string>& signatures);

// The apps/…/version.xml describing the same files.
std::string version_xml(const VersionSpec& spec);

// What an existing row's xml_doc ships: per <file_ref>, the physical name, the
// open name and whether it is the main program; plus its api_version.
struct InstalledVersion {
  struct File {
    std::string physical, logical;
    bool main_program = false;
    bool copy_file = false;
    std::string signature;  // its <file_info>'s <file_signature> text; empty when absent
  };
  std::vector<File> files;
  std::string api_version;
};
// Error(Errc::format) naming `source` when the document is not XML.
InstalledVersion parse_app_version_doc(const std::string& xml_doc, const std::string& source);

}  // namespace mw::setup
