#include "mw/boinc/install_record.h"

#include <tinyxml2.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

constexpr std::uint64_t kMaxRecordBytes = 4u << 20;

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

class RecordReader {
 public:
  explicit RecordReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const tinyxml2::XMLElement* e, const std::string& what) const {
    throw Error(Errc::format, path_ + ": line " + std::to_string(e->GetLineNum()) + ": <" + e->Name() + ">: " +
                                  what + " (the record mw-project-setup install writes; run it again to rewrite it)");
  }
  std::string text(const tinyxml2::XMLElement* e) const {
    if (e->FirstChildElement()) fail(e, "must hold text, not elements");
    return trimmed(e->GetText());
  }
  int integer(const tinyxml2::XMLElement* e, int min) const {
    const std::string t = text(e);
    errno = 0;
    char* end = nullptr;
    long v = std::strtol(t.c_str(), &end, 10);
    if (t.empty() || errno != 0 || end != t.c_str() + t.size() || v < min || v > INT_MAX)
      fail(e, "'" + t + "' is not a whole number of at least " + std::to_string(min));
    return static_cast<int>(v);
  }

  InstallRecord app(const tinyxml2::XMLElement* app) const {
    InstallRecord r;
    for (auto* e = app->FirstChildElement(); e; e = e->NextSiblingElement()) {
      const std::string name = e->Name();
      if (name == "name") r.app = text(e);
      else if (name == "deliver_dir") r.deliver_dir = text(e);
      else if (name == "task_signing_key") r.task_signing_key = text(e);
      else if (name == "trusted_task_key") r.trusted_task_keys.push_back(text(e) + "\n");
      else if (name == "min_quorum") r.min_quorum = integer(e, 1);
      else if (name == "installed_at") r.installed_at = text(e);
      else if (name == "app_version") r.app_versions.push_back(version(e));
      // Unknown elements are skipped, so an older mwkit reads a newer record.
    }
    if (r.app.empty()) fail(app, "has no <name>");
    if (r.deliver_dir.empty()) fail(app, "has no <deliver_dir>");
    return r;
  }

 private:
  AppVersionRecord version(const tinyxml2::XMLElement* v) const {
    AppVersionRecord r;
    for (auto* e = v->FirstChildElement(); e; e = e->NextSiblingElement()) {
      const std::string name = e->Name();
      if (name == "platform") r.platform = text(e);
      else if (name == "version_num") r.version_num = integer(e, 1);
      else if (name == "wrapper") r.wrapper = text(e);
      else if (name == "library_root") r.library_root = text(e);
    }
    if (r.platform.empty() || r.version_num == 0) fail(v, "needs <platform> and <version_num>");
    return r;
  }

  std::string path_;
};

void write_element(tinyxml2::XMLPrinter& out, const char* name, const std::string& value) {
  out.OpenElement(name, true);
  out.PushText(value.c_str());
  out.CloseElement(true);
}

void write_app(tinyxml2::XMLPrinter& out, const InstallRecord& r) {
  out.OpenElement("app");
  write_element(out, "name", r.app);
  write_element(out, "deliver_dir", r.deliver_dir);
  if (!r.task_signing_key.empty()) write_element(out, "task_signing_key", r.task_signing_key);
  for (const auto& pem : r.trusted_task_keys) write_element(out, "trusted_task_key", "\n" + trimmed(pem.c_str()) + "\n");
  for (const auto& v : r.app_versions) {
    out.OpenElement("app_version");
    write_element(out, "platform", v.platform);
    write_element(out, "version_num", std::to_string(v.version_num));
    if (!v.wrapper.empty()) write_element(out, "wrapper", v.wrapper);
    if (!v.library_root.empty()) write_element(out, "library_root", v.library_root);
    out.CloseElement();
  }
  write_element(out, "min_quorum", std::to_string(r.min_quorum));
  if (!r.installed_at.empty()) write_element(out, "installed_at", r.installed_at);
  out.CloseElement();
}

std::string key_dir_of(const ProjectConfig& config) {
  std::string dir = config.key_dir.empty() ? detail::join_path(config.project_dir, "keys") : config.key_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

std::string install_record_path(const std::string& project_dir) {
  return detail::join_path(project_dir, kInstallRecordFile);
}

std::vector<InstallRecord> read_install_records(const std::string& project_dir) {
  const std::string path = install_record_path(project_dir);
  if (!detail::path_exists(path)) return {};
  const std::string bytes = detail::read_file(path, kMaxRecordBytes);
  tinyxml2::XMLDocument doc;
  if (doc.Parse(bytes.data(), bytes.size()) != tinyxml2::XML_SUCCESS)
    throw Error(Errc::format, path + ": line " + std::to_string(doc.ErrorLineNum()) +
                                  ": not well-formed XML: " + doc.ErrorStr());
  const auto* root = doc.RootElement();
  if (!root || std::string(root->Name()) != "mw_install")
    throw Error(Errc::format, path + ": the root element must be <mw_install>");
  RecordReader reader(path);
  std::vector<InstallRecord> records;
  for (auto* e = root->FirstChildElement("app"); e; e = e->NextSiblingElement("app")) {
    records.push_back(reader.app(e));
    for (std::size_t i = 0; i + 1 < records.size(); ++i)
      if (records[i].app == records.back().app) reader.fail(e, "app '" + records.back().app + "' is recorded twice");
  }
  return records;
}

std::optional<InstallRecord> read_install_record(const std::string& project_dir, const std::string& app) {
  for (auto& r : read_install_records(project_dir))
    if (r.app == app) return std::move(r);
  return std::nullopt;
}

void write_install_record(const std::string& project_dir, const InstallRecord& record) {
  if (record.app.empty() || record.deliver_dir.empty())
    throw Error(Errc::usage, "an install record needs the app and its delivery directory");
  auto records = read_install_records(project_dir);
  bool replaced = false;
  for (auto& r : records)
    if (r.app == record.app) {
      r = record;
      replaced = true;
    }
  if (!replaced) records.push_back(record);
  tinyxml2::XMLPrinter out;
  out.PushComment(" written by mw-project-setup install: what it installed, read by every mwkit program ");
  out.OpenElement("mw_install");
  for (const auto& r : records) write_app(out, r);
  out.CloseElement();
  detail::write_file_atomic(install_record_path(project_dir), std::string(out.CStr(), out.CStrSize() - 1), 0644);
}

AppDefaults app_defaults(const ProjectConfig& config, const std::string& app) {
  AppDefaults d;
  if (auto r = read_install_record(config.project_dir, app)) {
    d.recorded = true;
    d.deliver_dir = r->deliver_dir;
    d.task_signing_key = r->task_signing_key;
    d.trusted_task_keys = r->trusted_task_keys;
    d.min_quorum = r->min_quorum;
    return d;
  }
  const std::string keys = key_dir_of(config);
  d.deliver_dir = detail::join_path(config.project_dir, "mw_deliver");
  d.task_signing_key = detail::join_path(keys, "mw_task_private.pem");
  for (int i = 0;; ++i) {
    const std::string path =
        detail::join_path(keys, "mw_task_public" + (i ? "_" + std::to_string(i) : std::string()) + ".pem");
    if (!detail::path_exists(path)) break;
    d.trusted_task_keys.push_back(detail::read_file(path, 1 << 16));
  }
  return d;
}

}  // namespace mw::boinc
