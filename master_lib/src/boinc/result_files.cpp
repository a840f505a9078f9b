#include "mw/boinc/result_files.h"

#include <tinyxml2.h>

#include <cctype>

#include "mw/boinc/database.h"
#include "mw/boinc/hierarchy.h"
#include "mw/error.h"

namespace mw::boinc {
namespace {

const tinyxml2::XMLElement* find_first(const tinyxml2::XMLElement* e, const char* name) {
  for (; e; e = e->NextSiblingElement()) {
    if (std::string(e->Name()) == name) return e;
    if (auto* inner = find_first(e->FirstChildElement(), name)) return inner;
  }
  return nullptr;
}

bool safe_name(const std::string& n) {
  if (n.empty() || n.size() > 191 || n[0] == '.') return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

std::string first_output_file_name(const std::string& xml_doc_in, const std::string& result_name) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(xml_doc_in.data(), xml_doc_in.size()) != tinyxml2::XML_SUCCESS)
    throw Error(Errc::format, "result '" + result_name + "': xml_doc_in is not XML: " +
                                  std::string(doc.ErrorStr()));
  const tinyxml2::XMLElement* ref = find_first(doc.FirstChildElement(), "file_ref");
  const tinyxml2::XMLElement* name = ref ? ref->FirstChildElement("file_name") : nullptr;
  if (!name || !name->GetText())
    throw Error(Errc::format, "result '" + result_name + "': xml_doc_in has no <file_ref><file_name>");
  std::string text = name->GetText();
  auto b = text.find_first_not_of(" \t\r\n");
  auto e = text.find_last_not_of(" \t\r\n");
  text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
  if (!safe_name(text))
    throw Error(Errc::format, "result '" + result_name + "': output file name '" + text +
                                  "' is not a safe file name");
  return text;
}

std::string result_bundle_path(const ProjectConfig& config, const std::string& xml_doc_in,
                               const std::string& result_name) {
  return dir_hier_path(first_output_file_name(xml_doc_in, result_name), config.upload_dir,
                       config.uldl_dir_fanout);
}

std::int64_t app_id_by_name(Database& db, const std::string& app_name) {
  auto rows = db.query("SELECT id FROM app WHERE name = ?", {app_name});
  if (rows.empty())
    throw Error(Errc::usage, "no app named '" + app_name + "' in database '" + db.params().database + "'");
  return rows[0].integer(0);
}

}  // namespace mw::boinc
