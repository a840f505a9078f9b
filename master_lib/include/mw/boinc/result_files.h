// mw/boinc/result_files.h — where a BOINC result's output file is, and what a workunit's error mask means.
//
// docs/boinc-conventions.md: the result bundle is the first <file_ref> of
// result.xml_doc_in; its <file_name> is the physical name the upload handler
// stored in the upload hierarchy. Names come from the database, but are
// still checked before they become paths.
#pragma once

#include <cstdint>
#include <string>

#include "mw/boinc/error_mask.h"
#include "mw/boinc/project_config.h"

namespace mw::boinc {

// The <file_name> of the first <file_ref> in `xml_doc_in`. Throws
// Error(Errc::format) naming `result_name` when there is none, the XML is
// malformed, or the name is not a safe file name ([A-Za-z0-9._-], 1–191
// characters, not starting with '.').
std::string first_output_file_name(const std::string& xml_doc_in, const std::string& result_name);

// dir_hier_path of that name under the project's upload directory.
std::string result_bundle_path(const ProjectConfig& config, const std::string& xml_doc_in,
                               const std::string& result_name);

// The app's id in the app table; Errc::usage naming the app when there is none.
class Database;
std::int64_t app_id_by_name(Database& db, const std::string& app_name);

}  // namespace mw::boinc
