#include "mw/boinc/project_config.h"

#include <sys/stat.h>
#include <tinyxml2.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

constexpr std::uint64_t kMaxConfigBytes = 16u << 20;

bool is_c_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string trimmed(const char* text) {
  if (!text) return "";
  std::string s(text);
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_c_space(s[b])) ++b;
  while (e > b && is_c_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Reads one config file; every error names the file, the line and the element.
class ConfigReader {
 public:
  explicit ConfigReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const tinyxml2::XMLElement* e, const std::string& what) const {
    std::string where = path_;
    if (e) where += ": line " + std::to_string(e->GetLineNum()) + ": <" + e->Name() + ">";
    throw Error(Errc::format, where + ": " + what);
  }

  std::string text(const tinyxml2::XMLElement* e) const {
    if (e->FirstChildElement()) fail(e, "must hold text, not elements");
    return trimmed(e->GetText());
  }

  // BOINC reads integers with strtol(base 0) and ignores the element when the
  // text is not entirely a number; silently ignoring a fanout would put files
  // where no BOINC program looks, so we refuse instead.
  long integer(const tinyxml2::XMLElement* e, long min, long max) const {
    const std::string t = text(e);
    if (t.empty()) return 0;  // BOINC reads <x></x> as 0
    errno = 0;
    char* end = nullptr;
    long v = std::strtol(t.c_str(), &end, 0);
    if (errno != 0 || end != t.c_str() + t.size())
      fail(e, "'" + t + "' is not an integer");
    if (v < min || v > max)
      fail(e, "'" + t + "' is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return v;
  }

  // BOINC flags: <x/> is true, <x>N</x> is N != 0. BOINC's parser fails on
  // the whole file at <x></x>, so that is an error here too.
  bool flag(const tinyxml2::XMLElement* e) const {
    if (e->ClosingType() == tinyxml2::XMLElement::CLOSED) return true;
    if (text(e).empty())
      fail(e, "is empty, which BOINC's parser cannot read; write <" + std::string(e->Name()) + ">0</" +
                  e->Name() + "> or <" + e->Name() + ">1</" + e->Name() + ">");
    return integer(e, LONG_MIN, LONG_MAX) != 0;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void split_db_host(const ConfigReader& r, const tinyxml2::XMLElement* e, ProjectConfig& c) {
  std::string raw = r.text(e);
  char hostname[256] = {};
  if (gethostname(hostname, sizeof(hostname) - 1) == 0 && raw == hostname) raw = "localhost";
  c.db_port = 0;
  const std::size_t colon = raw.find(':');
  if (colon == std::string::npos) {
    c.db_host = raw;
    return;
  }
  c.db_host = raw.substr(0, colon);
  const std::string port = raw.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  long v = port.empty() ? -1 : std::strtol(port.c_str(), &end, 10);
  if (port.empty() || errno != 0 || end != port.c_str() + port.size() || v < 0 || v > 65535 ||
      !std::isdigit(static_cast<unsigned char>(port[0])))
    r.fail(e, "port '" + port + "' in '" + raw + "' is not a number from 0 to 65535");
  c.db_port = static_cast<int>(v);
}

void read_config_section(const ConfigReader& r, const tinyxml2::XMLElement* config, ProjectConfig& c) {
  for (auto* e = config->FirstChildElement(); e; e = e->NextSiblingElement()) {
    const std::string name = e->Name();
    if (name == "long_name") c.long_name = r.text(e);
    else if (name == "db_name") c.db_name = r.text(e);
    else if (name == "db_host") split_db_host(r, e, c);
    else if (name == "db_user") c.db_user = r.text(e);
    else if (name == "db_passwd") c.db_passwd = r.text(e);
    else if (name == "project_dir") c.project_dir = r.text(e);
    else if (name == "host") c.host = r.text(e);
    else if (name == "master_url") c.master_url = r.text(e);
    else if (name == "download_url") c.download_url = r.text(e);
    else if (name == "download_dir") c.download_dir = r.text(e);
    else if (name == "upload_url") c.upload_url = r.text(e);
    else if (name == "upload_dir") c.upload_dir = r.text(e);
    else if (name == "key_dir") c.key_dir = r.text(e);
    else if (name == "app_dir") c.app_dir = r.text(e);
    else if (name == "uldl_dir_fanout") c.uldl_dir_fanout = static_cast<int>(r.integer(e, 0, INT_MAX));
    else if (name == "cache_md5_info") c.cache_md5_info = r.flag(e);
    else if (name == "dont_generate_upload_certificates") c.dont_generate_upload_certificates = r.flag(e);
    else if (name == "ignore_upload_certificates") c.ignore_upload_certificates = r.flag(e);
    else if (name == "one_result_per_host_per_wu") c.one_result_per_host_per_wu = r.flag(e);
    else if (name == "one_result_per_user_per_wu") c.one_result_per_user_per_wu = r.flag(e);
    else if (name == "daily_result_quota") c.daily_result_quota = static_cast<int>(r.integer(e, INT_MIN, INT_MAX));
    else if (name == "credit_by_app") c.credit_by_app = r.flag(e);
  }
  struct Required {
    const char* name;
    const std::string& value;
  };
  const Required required[] = {{"db_name", c.db_name},
                               {"download_dir", c.download_dir},
                               {"upload_dir", c.upload_dir},
                               {"download_url", c.download_url},
                               {"upload_url", c.upload_url}};
  for (const auto& item : required) {
    if (item.value.empty())
      r.fail(config, std::string("lacks <") + item.name + "> (or it is empty); every BOINC project sets it");
  }
}

void read_daemons(const ConfigReader& r, const tinyxml2::XMLElement* daemons, ProjectConfig& c) {
  for (auto* d = daemons->FirstChildElement("daemon"); d; d = d->NextSiblingElement("daemon")) {
    DaemonConfig daemon;
    for (auto* e = d->FirstChildElement(); e; e = e->NextSiblingElement()) {
      const std::string name = e->Name();
      if (name == "cmd") daemon.cmd = r.text(e);
      else if (name == "host") daemon.host = r.text(e);
      else if (name == "disabled") daemon.disabled = r.flag(e);
      else if (name == "output") daemon.output = r.text(e);
      else if (name == "pid_file") daemon.pid_file = r.text(e);
      else if (name == "lock_file") daemon.lock_file = r.text(e);
      else if (name == "use_shell") daemon.use_shell = r.flag(e);
    }
    if (daemon.cmd.empty()) r.fail(d, "lacks <cmd>");
    c.daemons.push_back(std::move(daemon));
  }
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Empty when `dir` is a project directory, else what it lacks.
std::string project_dir_problem(const std::string& dir) {
  std::string missing;
  if (!is_regular_file(dir + "/config.xml")) missing = "config.xml";
  if (!is_directory(dir + "/cgi-bin")) missing += missing.empty() ? "cgi-bin/" : " and cgi-bin/";
  return missing.empty() ? "" : "it has no " + missing;
}

}  // namespace

std::string DaemonConfig::program() const {
  std::size_t b = 0;
  while (b < cmd.size() && is_c_space(cmd[b])) ++b;
  std::size_t e = b;
  while (e < cmd.size() && !is_c_space(cmd[e])) ++e;
  std::string first = cmd.substr(b, e - b);
  const std::size_t slash = first.rfind('/');
  return slash == std::string::npos ? first : first.substr(slash + 1);
}

std::string DaemonConfig::output_or_default() const {
  return output.empty() ? program() + ".log" : output;
}

std::string DaemonConfig::pid_file_or_default() const {
  return pid_file.empty() ? program() + ".pid" : pid_file;
}

std::string DaemonConfig::lock_file_or_default() const {
  if (!lock_file.empty()) return lock_file;
  return (output.empty() ? program() : output) + ".lock";
}

ProjectConfig read_project_config(const std::string& project_dir) {
  ProjectConfig c;
  c.config_path = project_dir + "/config.xml";
  const ConfigReader r(c.config_path);
  const std::string bytes = mw::detail::read_file(c.config_path, kMaxConfigBytes);

  tinyxml2::XMLDocument doc;
  if (doc.Parse(bytes.data(), bytes.size()) != tinyxml2::XML_SUCCESS) {
    throw Error(Errc::format, c.config_path + ": line " + std::to_string(doc.ErrorLineNum()) +
                                  ": not well-formed XML: " + doc.ErrorStr());
  }
  const tinyxml2::XMLElement* root = doc.RootElement();
  if (!root || std::strcmp(root->Name(), "boinc") != 0)
    r.fail(root, "the document element must be <boinc>");
  // BOINC's parser expects <config> as the first element inside <boinc>.
  const tinyxml2::XMLElement* config = root->FirstChildElement();
  if (!config || std::strcmp(config->Name(), "config") != 0)
    r.fail(config ? config : root, "<boinc> must begin with <config> (BOINC reads it first)");

  c.project_dir.clear();
  read_config_section(r, config, c);
  if (c.project_dir.empty()) c.project_dir = project_dir;
  for (auto* d = root->FirstChildElement("daemons"); d; d = d->NextSiblingElement("daemons"))
    read_daemons(r, d, c);
  return c;
}

std::string find_project_dir(const std::string& hint) {
  if (!hint.empty()) {
    const std::string problem = project_dir_problem(hint);
    if (!problem.empty())
      throw Error(Errc::usage, "'" + hint + "' is not a BOINC project directory: " + problem);
    return hint;
  }
  if (const char* env = std::getenv("BOINC_PROJECT_DIR")) {
    const std::string dir = env;
    const std::string problem = project_dir_problem(dir);
    if (!problem.empty())
      throw Error(Errc::usage, "BOINC_PROJECT_DIR='" + dir + "' is not a BOINC project directory: " + problem);
    return dir;
  }
  if (project_dir_problem(".").empty()) return ".";
  if (project_dir_problem("..").empty()) return "..";
  throw Error(Errc::usage,
              "not in a BOINC project directory or a subdirectory of one: neither . nor .. holds "
              "config.xml and cgi-bin/ (set BOINC_PROJECT_DIR or pass the project directory)");
}

}  // namespace mw::boinc
