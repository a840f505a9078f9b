#include "app_version.h"

#include <tinyxml2.h>

#include <cstdio>

#include "mw/error.h"

namespace mw::setup {

std::string version_dir_name(int version_num) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d.%02d", version_num / 100, version_num % 100);
  return buf;
}

void assign_physical_names(VersionSpec& spec, int version_num) {
  for (auto& f : spec.files)
    f.physical = spec.app + "_" + version_dir_name(version_num) + "_" + spec.platform + "_" +
                 (f.main_program ? std::string("mw-wrapper") : f.logical);
}

std::string app_version_xml_doc(const VersionSpec& spec, int version_num,
                                const std::string& download_url,
                                const std::map<std::string, std::string>& signatures) {
  std::string doc;
  for (const auto& f : spec.files) {
    doc += "<file_info>\n    <name>" + f.physical + "</name>\n";
    doc += "    <url>" + download_url + "/" + f.physical + "</url>\n";
    if (f.executable || f.main_program) doc += "    <executable/>\n";
    doc += "    <file_signature>\n" + signatures.at(f.physical) + "    </file_signature>\n";
    doc += "    <nbytes>" + std::to_string(f.nbytes) + "</nbytes>\n</file_info>\n";
  }
  doc += "<app_version>\n    <app_name>" + spec.app + "</app_name>\n";
  doc += "    <version_num>" + std::to_string(version_num) + "</version_num>\n";
  doc += "    <api_version>" + spec.api_version + "</api_version>\n";
  for (const auto& f : spec.files) {
    doc += "<file_ref>\n    <file_name>" + f.physical + "</file_name>\n";
    if (!f.logical.empty()) doc += "    <open_name>" + f.logical + "</open_name>\n";
    if (f.main_program) doc += "    <main_program/>\n";
    if (f.copy_file) doc += "    <copy_file/>\n";
    doc += "</file_ref>\n";
  }
  doc += "</app_version>\n";
  return doc;
}

std::string version_xml(const VersionSpec& spec) {
  std::string x = "<version>\n";
  for (const auto& f : spec.files) {
    x += "    <file>\n        <physical_name>" + f.physical + "</physical_name>\n";
    if (!f.logical.empty()) x += "        <logical_name>" + f.logical + "</logical_name>\n";
    if (f.main_program) x += "        <main_program/>\n";
    if (f.copy_file) x += "        <copy_file/>\n";
    x += "    </file>\n";
  }
  x += "    <api_version>" + spec.api_version + "</api_version>\n</version>\n";
  return x;
}

InstalledVersion parse_app_version_doc(const std::string& xml_doc, const std::string& source) {
  tinyxml2::XMLDocument doc;
  std::string wrapped = "<doc>" + xml_doc + "</doc>";
  if (doc.Parse(wrapped.data(), wrapped.size()) != tinyxml2::XML_SUCCESS)
    throw Error(Errc::format, source + ": xml_doc is not XML: " + doc.ErrorStr());
  InstalledVersion v;
  const auto* av = doc.RootElement()->FirstChildElement("app_version");
  if (av == nullptr) throw Error(Errc::format, source + ": xml_doc has no <app_version>");
  if (const auto* api = av->FirstChildElement("api_version"); api && api->GetText())
    v.api_version = api->GetText();
  for (const auto* ref = av->FirstChildElement("file_ref"); ref; ref = ref->NextSiblingElement("file_ref")) {
    InstalledVersion::File f;
    if (const auto* n = ref->FirstChildElement("file_name"); n && n->GetText()) f.physical = n->GetText();
    if (const auto* n = ref->FirstChildElement("open_name"); n && n->GetText()) f.logical = n->GetText();
    f.main_program = ref->FirstChildElement("main_program") != nullptr;
    f.copy_file = ref->FirstChildElement("copy_file") != nullptr;
    for (const auto* info = doc.RootElement()->FirstChildElement("file_info"); info;
         info = info->NextSiblingElement("file_info")) {
      const auto* name = info->FirstChildElement("name");
      const auto* sig = info->FirstChildElement("file_signature");
      if (name && name->GetText() && f.physical == name->GetText() && sig && sig->GetText())
        f.signature = sig->GetText();
    }
    v.files.push_back(f);
  }
  return v;
}

}  // namespace mw::setup
