#include "setup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>

#include "app_version.h"
#include "boinc/daemon_state.h"
#include "boinc/md5.h"
#include "boinc/status_indexes.h"
#include "config_text.h"
#include "embedded_templates.h"
#include "mw/boinc/code_signing.h"
#include "mw/boinc/database.h"
#include "mw/boinc/install_record.h"
#include "mw/boinc/md5_info.h"
#include "mw/boinc/project_config.h"
#include "mw/error.h"
#include "mw/hash.h"
#include "mw/signing.h"
#include "runner/process.h"
#include "util/elf_inspect.h"
#include "util/fs.h"

namespace mw::setup {
namespace {

using boinc::Database;
using detail::join_path;

constexpr int kFirstVersionNum = 100;  // "1.00"
constexpr const char* kTaskPrivateFile = "mw_task_private.pem";
constexpr const char* kTaskPublicFile = "mw_task_public.pem";

// The time now in UTC, as strftime `format` writes it.
std::string utc_now(const char* format) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string now_stamp() { return utc_now("%Y%m%dT%H%M%SZ"); }  // backup names
std::string now_iso() { return utc_now("%Y-%m-%dT%H:%M:%SZ"); }  // the install record

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::vector<std::string> split_words(const std::string& cmd) {
  std::vector<std::string> words;
  std::istringstream in(cmd);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string program_of(const std::string& cmd) {
  auto words = split_words(cmd);
  return words.empty() ? "" : detail::base_name(words[0]);
}

using boinc::detail::is_app_daemon;

// A file's content, or nullopt when absent.
std::optional<std::string> read_if_exists(const std::string& path) {
  if (!detail::path_exists(path)) return std::nullopt;
  return detail::read_file(path);
}

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  return dir_of(std::string(buf, static_cast<std::size_t>(n)));
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr)
    throw Error(Errc::io, "cannot resolve " + path + ": " + detail::errno_text(errno));
  return buf;
}

// stopped: a daemon that should run and does not (check reports it; install
// restarts it).
enum class State { present, missing, outdated, stopped };

struct Item {
  State state;
  std::string what;    // one line: the piece
  std::string detail;  // optional: exact text added or replaced (indented when printed)
};

struct FileWrite {
  std::string path;
  std::string bytes;
  unsigned mode = 0644;
  bool backup = false;  // an existing file is copied to PATH.mw-backup-STAMP first
};

struct NewVersion {
  VersionSpec spec;
  int version_num = 0;
  std::string dir;  // apps/APP/VERSION/PLATFORM
};

// Everything install would do, computed without changing anything.
struct Plan {
  boinc::ProjectConfig config;
  std::string project_dir;
  std::string key_dir;
  std::vector<Item> items;
  std::vector<FileWrite> writes;
  std::optional<std::string> new_config_text;
  std::string old_config_text;
  bool insert_app = false;
  bool create_batch_file_assoc = false;
  bool add_status_indexes = false;
  std::int64_t app_id = 0;
  std::vector<std::string> missing_platforms;
  std::map<std::string, std::int64_t> platform_ids;
  std::vector<NewVersion> versions;
  std::vector<std::string> make_dirs;
  std::vector<std::int64_t> deprecate_version_ids;

  std::optional<boinc::InstallRecord> recorded;  // what an earlier install wrote
  boinc::InstallRecord record;                   // what this install records
  std::string deliver;                           // the delivery directory in effect
  std::string host;                              // this machine's short name (log_HOST/, pid_HOST/)
  // Changes that need an explicit flag (--replace-task-keys, --move-deliver),
  // and problems no flag fixes; install refuses while either is not empty.
  std::vector<std::string> needs_flag;
  std::vector<std::string> blockers;

  bool changes() const {
    for (const auto& i : items)
      if (i.state != State::present) return true;
    return false;
  }
  bool db_changes() const {
    return insert_app || !missing_platforms.empty() || !versions.empty() ||
           !deprecate_version_ids.empty();
  }
  void add(State s, std::string what, std::string detail = "") {
    items.push_back({s, std::move(what), std::move(detail)});
  }
};

boinc::DbParams db_params(const boinc::ProjectConfig& c) {
  boinc::DbParams p;
  p.host = c.db_host.empty() ? "localhost" : c.db_host;
  p.port = static_cast<unsigned>(c.db_port);
  p.user = c.db_user;
  p.password = c.db_passwd;
  p.database = c.db_name;
  return p;
}

// Reads config.xml both ways: BOINC's values, and the text we edit.
void load_project(Plan& plan, const SetupOptions& o, ConfigText*& text_out,
                  std::unique_ptr<ConfigText>& holder) {
  if (o.project.empty()) throw Error(Errc::usage, "--project DIR is required");
  plan.project_dir = o.project;
  std::string config_path = join_path(o.project, "config.xml");
  plan.old_config_text = detail::read_file(config_path);
  holder = std::make_unique<ConfigText>(ConfigText::parse(plan.old_config_text, config_path));
  plan.config = boinc::read_project_config(o.project);
  text_out = holder.get();
  plan.key_dir = plan.config.key_dir.empty() ? join_path(o.project, "keys") : plan.config.key_dir;
  while (plan.key_dir.size() > 1 && plan.key_dir.back() == '/') plan.key_dir.pop_back();
}

std::unique_ptr<Database> connect(const Plan& plan) {
  auto db = std::make_unique<Database>(db_params(plan.config));
  db->query("SELECT id FROM app LIMIT 1");  // the schema is there, too
  return db;
}

std::string require_code_sign_public(const Plan& plan) {
  std::string path = join_path(plan.key_dir, boinc::kCodeSignPublicFile);
  if (!is_file(path))
    throw Error(Errc::usage, "missing key " + path +
                                 ": the project's code-signing public key (make_project creates it "
                                 "in keys/); mw-project-setup never makes or replaces it");
  boinc::CodeSignPublicKey::load(path);
  return path;
}

using Children = std::vector<std::pair<std::string, std::string>>;

void plan_daemons(Plan& plan, ConfigText& text, const SetupOptions& o, const std::string& deliver) {
  for (const char* stock : {"feeder", "transitioner", "file_deleter"}) {
    bool found = false;
    for (const auto& d : text.daemons()) found = found || program_of(d.cmd) == stock;
    if (found) {
      plan.add(State::present, std::string("daemon ") + stock);
    } else {
      Children c = {{"cmd", std::string(stock) + " -d 3"}};
      text.add_daemon(c);
      plan.add(State::missing, std::string("daemon ") + stock, "<cmd>" + c[0].second + "</cmd>");
    }
  }
  struct Ours {
    const char* program;
    const char* stem;
    std::string cmd;
  };
  const Ours ours[] = {{"mw-validator", "mw_validator_", "mw-validator --app " + o.app},
                       {"mw-assimilator", "mw_assimilator_",
                        "mw-assimilator --app " + o.app + " --deliver " + deliver}};
  for (const auto& d : ours) {
    Children want = {{"cmd", d.cmd},
                     {"output", d.stem + o.app + ".log"},
                     {"pid_file", d.stem + o.app + ".pid"}};
    auto list = text.daemons();
    std::optional<std::size_t> at;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (is_app_daemon(list[i].cmd, d.program, o.app)) at = i;
    std::string shown = "<cmd>" + want[0].second + "</cmd> <output>" + want[1].second +
                        "</output> <pid_file>" + want[2].second + "</pid_file>";
    std::string what = std::string("daemon ") + d.program + " --app " + o.app;
    if (!at) {
      text.add_daemon(want);
      plan.add(State::missing, what, shown);
    } else if (list[*at].cmd != want[0].second || list[*at].output != want[1].second ||
               list[*at].pid_file != want[2].second) {
      text.replace_daemon(*at, want);
      plan.add(State::outdated, what, "was <cmd>" + list[*at].cmd + "</cmd>; becomes " + shown);
    } else {
      plan.add(State::present, what);
    }
  }
}

void plan_replication(Plan& plan, ConfigText& text, const SetupOptions& o) {
  if (!o.replication) return;
  auto value = text.config_value("one_result_per_host_per_wu");
  bool on = value && std::strtol(value->c_str(), nullptr, 0) != 0;
  if (on) {
    plan.add(State::present, "config one_result_per_host_per_wu (replicas go to different hosts)");
    return;
  }
  text.set_config_value("one_result_per_host_per_wu", "1");
  plan.add(State::missing, "config one_result_per_host_per_wu = 1",
           "replication needs it: without it the scheduler may send two results of one workunit "
           "to the same host, which then validates its own answer");
}

void plan_templates(Plan& plan) {
  std::string dir = join_path(plan.project_dir, "templates");
  for (const auto& [name, text] : embedded_templates()) {
    std::string path = join_path(dir, name);
    auto have = read_if_exists(path);
    if (have && *have == text) {
      plan.add(State::present, "template templates/" + name);
      continue;
    }
    plan.add(have ? State::outdated : State::missing, "template templates/" + name);
    plan.writes.push_back({path, text, 0644, true});
  }
}

std::string user_friendly_name(const std::string& app) { return "mwkit tasks (" + app + ")"; }

// project.xml lists the apps bin/xadd knows; keep it in step with the app row.
void plan_project_xml(Plan& plan, const SetupOptions& o) {
  std::string path = join_path(plan.project_dir, "project.xml");
  if (!is_file(path)) return;  // not every project keeps one
  auto text = ConfigText::parse_project_xml(detail::read_file(path), path);
  if (text.has_app(o.app)) {
    plan.add(State::present, "project.xml <app> " + o.app);
    return;
  }
  text.add_app(o.app, user_friendly_name(o.app));
  struct stat st {};
  ::stat(path.c_str(), &st);
  plan.add(State::missing, "project.xml <app> " + o.app + " (for bin/xadd)");
  plan.writes.push_back({path, text.text(), static_cast<unsigned>(st.st_mode & 07777), true});
}

// The task-signing public keys the wrapper will trust, as (where from, PEM
// bytes), and the private key masters sign with (plan.record). Recorded keys
// stay unless --task-pub names others; dropping one needs --replace-task-keys,
// because every task signed with it would then be refused by volunteers.
std::vector<std::pair<std::string, std::string>> plan_task_keys(Plan& plan, const SetupOptions& o) {
  std::vector<std::pair<std::string, std::string>> keys;
  const std::string priv = join_path(plan.key_dir, kTaskPrivateFile);
  std::string signing = o.task_key;
  if (!o.task_pubs.empty()) {
    for (const auto& p : o.task_pubs) {
      PublicKey::load_pem(p);  // an Ed25519 PEM, or a clear error
      keys.emplace_back(p, detail::read_file(p));
    }
  } else if (plan.recorded) {
    const std::string from = boinc::install_record_path(plan.project_dir);
    for (const auto& pem : plan.recorded->trusted_task_keys) {
      PublicKey::from_pem(pem, from);
      keys.emplace_back(from, pem);
    }
    if (signing.empty()) signing = plan.recorded->task_signing_key;
    plan.add(State::present, "trusted task keys (" + std::to_string(keys.size()) + ", as recorded)");
  } else {
    std::string pub = join_path(plan.key_dir, kTaskPublicFile);
    if (is_file(pub)) {
      PublicKey::load_pem(pub);
      plan.add(State::present, "task-signing key " + pub);
      keys.emplace_back(pub, detail::read_file(pub));
      if (signing.empty() && is_file(priv)) signing = priv;
    } else {
      auto key = PrivateKey::generate();
      if (detail::path_exists(priv))
        throw Error(Errc::usage, priv + " exists but " + join_path(plan.key_dir, kTaskPublicFile) +
                                     " does not; restore the public key or pass --task-pub");
      plan.add(State::missing, "task-signing key pair " + priv + " (0600) + " + pub);
      plan.writes.push_back({priv, key.to_pem(), 0600, false});
      plan.writes.push_back({pub, key.public_key().to_pem(), 0644, false});
      keys.emplace_back(pub, key.public_key().to_pem());
      signing = priv;
    }
  }
  // Against the record: which keys come and go.
  if (plan.recorded && !o.task_pubs.empty()) {
    std::set<std::string> now, before;
    for (const auto& k : keys) now.insert(PublicKey::from_pem(k.second, k.first).key_id());
    for (const auto& pem : plan.recorded->trusted_task_keys) before.insert(PublicKey::from_pem(pem).key_id());
    std::string added, dropped;
    for (const auto& id : now)
      if (!before.count(id)) added += " " + id;
    for (const auto& id : before)
      if (!now.count(id)) dropped += " " + id;
    if (added.empty() && dropped.empty()) {
      plan.add(State::present, "trusted task keys (" + std::to_string(keys.size()) + ", as recorded)");
    } else {
      plan.add(State::outdated, "trusted task keys",
               (added.empty() ? "" : "trust" + added) + (added.empty() || dropped.empty() ? "" : "; ") +
                   (dropped.empty() ? "" : "stop trusting" + dropped));
      if (!dropped.empty() && !o.replace_task_keys)
        plan.needs_flag.push_back("--task-pub drops recorded task key(s)" + dropped +
                                  ": volunteers would refuse every task signed with them; to do it anyway "
                                  "add --replace-task-keys (to rotate keys, trust old and new together first)");
    }
  }
  if (!o.task_key.empty()) {
    auto pub = PrivateKey::load_pem(o.task_key).public_key();
    bool trusted = false;
    for (const auto& k : keys) trusted = trusted || PublicKey::from_pem(k.second, k.first).key_id() == pub.key_id();
    if (!trusted)
      throw Error(Errc::usage, "--task-key " + o.task_key +
                                   " does not match any trusted task key: volunteers would refuse what it signs");
  }
  plan.record.task_signing_key = signing;
  for (const auto& k : keys) plan.record.trusted_task_keys.push_back(k.second);
  return keys;
}

VersionFile version_file(const std::string& source, const std::string& logical, bool main_program,
                         bool copy_file) {
  if (!is_file(source)) throw Error(Errc::usage, "app-version file " + source + " does not exist");
  VersionFile f;
  f.source = source;
  f.logical = logical;
  f.main_program = main_program;
  f.copy_file = copy_file;
  auto digest = boinc::md5_file(source);
  f.md5 = digest.md5;
  f.nbytes = static_cast<std::uint64_t>(digest.nbytes);
  struct stat st {};
  ::stat(source.c_str(), &st);
  f.executable = main_program || (st.st_mode & S_IXUSR) != 0;
  return f;
}

std::vector<std::string> libs_in(const std::string& dir) {
  std::vector<std::string> libs;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind("lib", 0) == 0 && n.find(".so") != std::string::npos) libs.push_back(join_path(dir, n));
    }
    ::closedir(d);
  }
  std::sort(libs.begin(), libs.end());
  return libs;
}

// `load` receives what the wrapper needs on a volunteer host (its floor and
// any reason it would not load there).
VersionSpec desired_version(const SetupOptions& o, const std::string& platform,
                            const std::vector<std::pair<std::string, std::string>>& task_keys, WrapperNeeds& load) {
  VersionSpec spec;
  spec.app = o.app;
  spec.platform = platform;
  spec.api_version = o.api_version;
  std::vector<std::string> libs;
  std::string wrapper;
  std::vector<std::string> search;
  const auto given = o.platform_wrappers.find(platform);
  const auto root = o.platform_roots.find(platform);
  if (!o.wrapper_dir.empty()) {
    wrapper = join_path(join_path(o.wrapper_dir, platform), "mw-wrapper");
    libs = libs_in(join_path(o.wrapper_dir, platform));
  } else if (given != o.platform_wrappers.end()) {
    wrapper = given->second;
    if (root != o.platform_roots.end()) {
      if (!is_dir(root->second))
        throw Error(Errc::usage, "--platform-root " + platform + "=" + root->second + ": no such directory");
      search = root_library_dirs(root->second, platform);
    } else if (platform == host_platform() && o.resolve_libs) {
      search = detail::system_library_dirs();
    }
  } else {
    if (platform != host_platform())
      throw Error(Errc::usage, "platform " + platform + " is not this host's (" + host_platform() +
                                   "): give its wrapper with --platform-wrapper " + platform +
                                   "=FILE (and --platform-root " + platform + "=DIR for its libraries), or with "
                                   "--wrapper-dir DIR (DIR/" + platform + "/mw-wrapper)");
    wrapper = o.wrapper.empty() ? program_near_setup("mw-wrapper") : o.wrapper;
    if (wrapper.empty())
      throw Error(Errc::usage, "cannot find mw-wrapper beside mw-project-setup or in its build tree: "
                               "give --wrapper PATH or --wrapper-dir DIR");
    libs = o.boinc_libs;
    // Only this machine's own platform can take its libraries from here.
    if (o.resolve_libs) search = detail::system_library_dirs();
  }
  if (!is_file(wrapper))
    throw Error(Errc::usage, "wrapper " + wrapper + " for platform " + platform +
                                 " does not exist (give --wrapper PATH or --wrapper-dir DIR)");
  spec.files.push_back(version_file(wrapper, "", true, false));
  for (std::size_t i = 0; i < task_keys.size(); ++i) {
    std::string logical = i == 0 ? "mw_task_public.pem" : "mw_task_public_" + std::to_string(i) + ".pem";
    VersionFile f;
    f.source = task_keys[i].first;
    f.content = task_keys[i].second;
    f.logical = logical;
    f.md5 = boinc::detail::md5_hex(task_keys[i].second);
    f.nbytes = task_keys[i].second.size();
    spec.files.push_back(f);
  }
  load = wrapper_needs(wrapper, platform, libs, search);
  for (const auto& [file, soname] : load.libraries) {
    // The logical name is the soname the loader asks for: the client copies
    // the file into the slot under it, and the slot is in LD_LIBRARY_PATH.
    spec.files.push_back(version_file(real_path(file), soname, false, true));
  }
  return spec;
}

// Same roles, open names, bytes and api_version as the installed version?
bool same_version(const VersionSpec& want, const InstalledVersion& have, const std::string& download_dir) {
  if (have.api_version != want.api_version || have.files.size() != want.files.size()) return false;
  for (std::size_t i = 0; i < want.files.size(); ++i) {
    const auto& w = want.files[i];
    const auto& h = have.files[i];
    if (w.main_program != h.main_program || w.logical != h.logical || w.copy_file != h.copy_file)
      return false;
    std::string path = join_path(download_dir, h.physical);
    if (!is_file(path) || boinc::md5_file(path).md5 != w.md5) return false;
  }
  return true;
}

std::string apps_dir(const Plan& plan) {
  return plan.config.app_dir.empty() ? join_path(plan.project_dir, "apps") : plan.config.app_dir;
}

// A version number whose directory and download names are all free.
bool version_slot_free(const Plan& plan, VersionSpec spec, int num) {
  std::string dir = join_path(join_path(join_path(apps_dir(plan), spec.app), version_dir_name(num)),
                              spec.platform);
  if (detail::path_exists(dir)) return false;
  assign_physical_names(spec, num);
  for (const auto& f : spec.files) {
    std::string path = join_path(plan.config.download_dir, f.physical);
    if (detail::path_exists(path) && boinc::md5_file(path).md5 != f.md5) return false;
  }
  return true;
}

std::vector<std::string> platforms_of(const SetupOptions& o) {
  return o.platforms.empty() ? std::vector<std::string>{host_platform()} : o.platforms;
}

boinc::AppVersionRecord version_record(const SetupOptions& o, const std::string& platform, int num) {
  boinc::AppVersionRecord r{platform, num, "", ""};
  if (auto w = o.platform_wrappers.find(platform); w != o.platform_wrappers.end()) r.wrapper = real_path(w->second);
  if (auto d = o.platform_roots.find(platform); d != o.platform_roots.end()) r.library_root = real_path(d->second);
  return r;
}

void plan_app_and_versions(Plan& plan, Database& db, const SetupOptions& o,
                           const std::vector<std::pair<std::string, std::string>>& task_keys) {
  auto apps = db.query("SELECT id FROM app WHERE name = ?", {o.app});
  if (apps.empty()) {
    plan.insert_app = true;
    plan.add(State::missing, "app " + o.app + " (app row)");
  } else {
    plan.app_id = apps[0].integer(0);
    plan.add(State::present, "app " + o.app + " (app row " + std::to_string(plan.app_id) + ")");
  }
  for (const auto& platform : platforms_of(o)) {
    auto rows = db.query("SELECT id FROM platform WHERE name = ?", {platform});
    if (rows.empty()) {
      plan.missing_platforms.push_back(platform);
      plan.add(State::missing, "platform " + platform + " (platform row)");
    } else {
      plan.platform_ids[platform] = rows[0].integer(0);
    }
    WrapperNeeds load;
    VersionSpec spec = desired_version(o, platform, task_keys, load);
    const std::string floor_text =
        load.glibc_floor.empty() ? std::string("any glibc") : "glibc >= " + load.glibc_floor + " (GLIBC_" +
                                                                 load.glibc_floor + " from " + load.glibc_floor_from + ")";
    if (load.problems.empty()) {
      plan.add(State::present, "app version for " + platform + " loads on a host with only " + floor_text + "; ships " +
                                   std::to_string(load.libraries.size()) + " libraries beyond glibc");
    } else {
      std::string why;
      for (const auto& p : load.problems) why += "\n    " + p;
      plan.blockers.push_back("the app version for " + platform +
                              " would not load on a volunteer host that has only the BOINC client and glibc:" + why +
                              "\n  ship each missing library with --boinc-lib FILE (or --wrapper-dir DIR/" + platform +
                              "/), or link it statically");
    }
    int max_num = kFirstVersionNum - 1;
    std::optional<InstalledVersion> current;
    int current_num = 0;
    if (!plan.insert_app && !rows.empty()) {
      auto versions = db.query(
          "SELECT id, version_num, xml_doc, deprecated, plan_class FROM app_version "
          "WHERE appid = ? AND platformid = ? ORDER BY version_num DESC",
          {plan.app_id, rows[0].integer(0)});
      for (const auto& v : versions) {
        max_num = std::max<int>(max_num, static_cast<int>(v.integer(1)));
        if (!current && v.integer(3) == 0 && v.text(4).empty() && !v.is_null(2)) {
          current = parse_app_version_doc(v.text(2), "app_version " + v.text(0));
          current_num = static_cast<int>(v.integer(1));
        }
      }
    }
    std::string what = "app version of " + o.app + " for " + platform;
    if (current && same_version(spec, *current, plan.config.download_dir)) {
      plan.add(State::present, what + " (" + version_dir_name(current_num) + ")");
      plan.record.app_versions.push_back(version_record(o, platform, current_num));
      continue;
    }
    int num = max_num + 1;
    while (!version_slot_free(plan, spec, num)) ++num;
    assign_physical_names(spec, num);
    std::string files;
    for (const auto& f : spec.files)
      files += (files.empty() ? "" : ", ") + f.physical +
               (f.logical.empty() ? " (main program)" : " as " + f.logical);
    plan.add(current ? State::outdated : State::missing,
             what + ": new version " + version_dir_name(num) + " (" + std::to_string(num) + ")",
             "api_version " + spec.api_version + "; files: " + files);
    std::string dir = join_path(join_path(join_path(apps_dir(plan), o.app), version_dir_name(num)), platform);
    plan.versions.push_back({std::move(spec), num, dir});
    plan.record.app_versions.push_back(version_record(o, platform, num));
  }
}

// What BOINC's remote job submission needs that make_project does not make
// (reference §11.4, §11.6): job_file.php stores staged files' batches in the
// table batch_file_assoc (only in db/schema_condor.sql), and get_output3.php
// serves outputs that mw-assimilator links into PROJECT/results/<batch>/.
void plan_remote_submission(Plan& plan, Database& db) {
  if (db.query("SHOW TABLES LIKE 'batch_file_assoc'").empty()) {
    plan.create_batch_file_assoc = true;
    plan.add(State::missing, "table batch_file_assoc (remote submission: BOINC's job_file.php needs it)");
  } else {
    plan.add(State::present, "table batch_file_assoc (remote submission)");
  }
  const std::string results = join_path(plan.project_dir, "results");
  if (is_dir(results)) {
    plan.add(State::present, "directory " + results + " (outputs get_output3.php serves)");
  } else {
    plan.add(State::missing, "directory " + results + " (outputs get_output3.php serves)");
    plan.make_dirs.push_back(results);
  }
}

// mw-status's and mw-work-generator status's counts read these instead of
// every workunit row (boinc/status_indexes.h, docs/project-status.md).
void plan_status_indexes(Plan& plan, Database& db) {
  const auto missing = boinc::detail::missing_status_indexes(db);
  for (const auto& index : boinc::detail::kStatusIndexes) {
    bool absent = false;
    for (const auto& m : missing) absent = absent || std::string(m.name) == index.name;
    const std::string what = std::string("index ") + index.name + " on " + index.table + " (" + index.columns +
                             ") (mw-status counts batches from it)";
    if (!absent) {
      plan.add(State::present, what);
      continue;
    }
    plan.add_status_indexes = true;
    plan.add(State::missing, what, boinc::detail::add_index_statement(index));
  }
}

// The options in effect: what was given, else what was recorded, else the defaults.
SetupOptions effective_options(Plan& plan, const SetupOptions& o) {
  SetupOptions e = o;
  const auto& r = plan.recorded;
  const std::string default_deliver = join_path(plan.project_dir, "mw_deliver");
  if (o.deliver.empty()) {
    e.deliver = r ? r->deliver_dir : default_deliver;
  } else if (r && o.deliver != r->deliver_dir) {
    plan.add(State::outdated, "delivery directory", "moves from " + r->deliver_dir + " to " + o.deliver);
    if (!o.move_deliver)
      plan.needs_flag.push_back("--deliver " + o.deliver + " moves the delivery directory from " + r->deliver_dir +
                                ": results already delivered stay there and running masters keep looking "
                                "there; to do it anyway add --move-deliver");
  }
  if (o.platforms.empty() && r)
    for (const auto& v : r->app_versions) e.platforms.push_back(v.platform);
  // Another architecture's wrapper and root, unless given again.
  if (r && o.wrapper_dir.empty())
    for (const auto& v : r->app_versions) {
      if (!v.wrapper.empty()) e.platform_wrappers.emplace(v.platform, v.wrapper);
      if (!v.library_root.empty()) e.platform_roots.emplace(v.platform, v.library_root);
    }
  // A platform given only its wrapper is installed besides the others.
  if (o.platforms.empty() && !o.platform_wrappers.empty()) {
    if (e.platforms.empty()) e.platforms.push_back(host_platform());
    for (const auto& [platform, file] : o.platform_wrappers)
      if (std::find(e.platforms.begin(), e.platforms.end(), platform) == e.platforms.end())
        e.platforms.push_back(platform);
  }
  if (o.min_quorum > 0) e.min_quorum = o.min_quorum;
  else if (o.replication) e.min_quorum = 2;
  else e.min_quorum = r ? r->min_quorum : 1;
  e.replication = e.min_quorum >= 2;
  if (r && e.min_quorum != r->min_quorum)
    plan.add(State::outdated, "default quorum",
             std::to_string(r->min_quorum) + " -> " + std::to_string(e.min_quorum));
  return e;
}

// The mwkit programs config.xml's daemon entries run, installed into
// PROJECT/bin: bin/start looks there first (reference §11.1), and a program
// found nowhere leaves its daemon silently not running.
std::vector<std::string> daemon_programs(const ConfigText& text, const std::string& app) {
  std::vector<std::string> programs = {"mw-validator", "mw-assimilator"};
  for (const auto& d : text.daemons())
    if (is_app_daemon(d.cmd, "mw-work-generator", app)) programs.push_back("mw-work-generator");
  return programs;
}

void plan_programs(Plan& plan, const ConfigText& text, const SetupOptions& o, bool check_only) {
  for (const auto& program : daemon_programs(text, o.app)) {
    const std::string target = join_path(join_path(plan.project_dir, "bin"), program);
    const std::string source = o.programs_dir.empty() ? program_near_setup(program) : join_path(o.programs_dir, program);
    const std::string what = "program bin/" + program;
    if (source.empty() || !is_file(source)) {
      if (check_only && is_file(target)) {
        plan.add(State::present, what + " (no build beside mw-project-setup to compare with)");
        continue;
      }
      throw Error(Errc::usage, "cannot find " + program + " to install as " + target +
                                   (o.programs_dir.empty() ? " (looked beside mw-project-setup and in its build tree)"
                                                           : " in --programs-dir " + o.programs_dir) +
                                   ": give --programs-dir DIR, the directory that holds it");
    }
    const std::string bytes = detail::read_file(source);
    auto have = read_if_exists(target);
    if (have && *have == bytes) {
      plan.add(State::present, what);
      continue;
    }
    plan.add(have ? State::outdated : State::missing, what, "from " + source);
    plan.writes.push_back({target, bytes, 0755, false});
  }
}

using boinc::detail::last_lines;
using boinc::detail::short_hostname;
using DaemonRun = boinc::detail::DaemonState;

DaemonRun daemon_run(const Plan& plan, const boinc::DaemonConfig& d) {
  return boinc::detail::daemon_state(plan.project_dir, plan.config, d, plan.host);
}

// The daemons mwkit needs, as config.xml (after install's edits) lists them.
std::vector<boinc::DaemonConfig> needed_daemons(const boinc::ProjectConfig& config, const std::string& app,
                                                bool ours_only) {
  std::vector<boinc::DaemonConfig> out;
  for (const auto& d : config.daemons) {
    const std::string p = d.program();
    bool ours = is_app_daemon(d.cmd, "mw-validator", app) || is_app_daemon(d.cmd, "mw-assimilator", app) ||
                is_app_daemon(d.cmd, "mw-work-generator", app);
    bool stock = p == "feeder" || p == "transitioner" || p == "file_deleter";
    if (ours || (stock && !ours_only)) out.push_back(d);
  }
  return out;
}

// install: a daemon of ours that is not running makes install (re)start them.
void plan_running(Plan& plan, const std::string& app) {
  if (plan.config.host != plan.host)
    plan.blockers.push_back(plan.config.config_path + ": <host> is '" + plan.config.host + "' but this machine's "
                            "short hostname is '" + plan.host + "': bin/start would start none of the daemons here "
                            "(set <host>" + plan.host + "</host>, or run mw-project-setup on '" + plan.config.host + "')");
  for (const auto& d : needed_daemons(plan.config, app, true)) {
    auto run = daemon_run(plan, d);
    if (!run.running) plan.add(State::stopped, "daemon running: " + d.cmd, run.why);
  }
}

// The record this install leaves, compared with the one on disk.
void plan_record(Plan& plan, const SetupOptions& e) {
  plan.record.app = e.app;
  plan.record.deliver_dir = plan.deliver;
  plan.record.min_quorum = e.min_quorum;
  const std::string path = boinc::install_record_path(plan.project_dir);
  if (plan.recorded) {
    const auto& same = *plan.recorded;
    auto key_ids = [](const std::vector<std::string>& pems) {
      std::vector<std::string> ids;
      for (const auto& p : pems) ids.push_back(PublicKey::from_pem(p).key_id());
      return ids;
    };
    bool equal = same.deliver_dir == plan.record.deliver_dir &&
                 same.task_signing_key == plan.record.task_signing_key &&
                 key_ids(same.trusted_task_keys) == key_ids(plan.record.trusted_task_keys) &&
                 same.min_quorum == plan.record.min_quorum && same.app_versions.size() == plan.record.app_versions.size();
    for (std::size_t i = 0; equal && i < same.app_versions.size(); ++i)
      equal = same.app_versions[i].platform == plan.record.app_versions[i].platform &&
              same.app_versions[i].version_num == plan.record.app_versions[i].version_num &&
              same.app_versions[i].wrapper == plan.record.app_versions[i].wrapper &&
              same.app_versions[i].library_root == plan.record.app_versions[i].library_root;
    if (equal) {
      plan.add(State::present, "install record " + path);
      return;
    }
  }
  plan.add(plan.recorded ? State::outdated : State::missing, "install record " + path,
           "deliver " + plan.record.deliver_dir + "; " + std::to_string(plan.record.trusted_task_keys.size()) +
               " trusted task key(s); signing key " +
               (plan.record.task_signing_key.empty() ? std::string("(none on this server)") : plan.record.task_signing_key) +
               "; quorum " + std::to_string(plan.record.min_quorum));
}

// Builds the whole plan: reads everything, changes nothing. `check_only`:
// programs that cannot be compared are reported rather than refused.
Plan make_plan(const SetupOptions& given, std::unique_ptr<Database>& db, bool check_only = false) {
  Plan plan;
  ConfigText* text = nullptr;
  std::unique_ptr<ConfigText> holder;
  SetupOptions o = given;
  load_project(plan, o, text, holder);
  plan.host = short_hostname();
  if (!o.app_given) {
    auto all = boinc::read_install_records(plan.project_dir);
    if (all.size() == 1) o.app = all[0].app;  // the only installed app needs no --app
  }
  plan.recorded = boinc::read_install_record(plan.project_dir, o.app);
  require_code_sign_public(plan);
  db = connect(plan);
  if (o.app.empty() || o.app.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
                           std::string::npos)
    throw Error(Errc::usage, "--app '" + o.app + "': use letters, digits, '_', '-' or '.'");
  const SetupOptions e = effective_options(plan, o);
  plan.deliver = e.deliver;
  if (plan.deliver.find_first_of(" \t\n\"'\\<>&") != std::string::npos)
    throw Error(Errc::usage, "--deliver " + plan.deliver +
                                 ": bin/start splits daemon command lines at blanks; use a path "
                                 "without blanks, quotes or markup characters");
  plan_daemons(plan, *text, e, plan.deliver);
  plan_replication(plan, *text, e);
  if (text->text() != plan.old_config_text) plan.new_config_text = text->text();
  plan_programs(plan, *text, e, check_only);
  plan_templates(plan);
  plan_project_xml(plan, e);
  auto task_keys = plan_task_keys(plan, e);
  plan_app_and_versions(plan, *db, e, task_keys);
  if (is_dir(plan.deliver)) {
    plan.add(State::present, "delivery directory " + plan.deliver);
  } else {
    plan.add(State::missing, "delivery directory " + plan.deliver);
    plan.make_dirs.push_back(plan.deliver);
  }
  plan_remote_submission(plan, *db);
  plan_status_indexes(plan, *db);
  plan_record(plan, e);
  plan_running(plan, e.app);
  return plan;
}

// physical name → signature text, for every file of every new version.
std::map<std::string, std::string> collect_signatures(const Plan& plan, const SetupOptions& o) {
  std::map<std::string, std::string> sigs;
  if (plan.versions.empty()) return sigs;
  std::string pub_path = require_code_sign_public(plan);
  auto pub = boinc::CodeSignPublicKey::load(pub_path);
  std::optional<boinc::CodeSignPrivateKey> priv;
  std::string wanted;
  if (o.signatures.empty()) {
    std::string priv_path = join_path(plan.key_dir, boinc::kCodeSignPrivateFile);
    if (!is_file(priv_path))
      throw Error(Errc::usage, "missing key " + priv_path +
                                   ": to sign the app-version files, either put the project's "
                                   "code-signing private key there or sign offline and pass "
                                   "--signatures DIR (run with --dry-run to see the file names)");
    priv = boinc::CodeSignPrivateKey::load(priv_path);
  }
  for (const auto& v : plan.versions) {
    for (const auto& f : v.spec.files) {
      std::string sig;
      if (priv) {
        sig = priv->sign_md5(f.md5);
      } else {
        std::string path = join_path(o.signatures, f.physical + ".sig");
        if (!is_file(path)) {
          std::string source = f.source;
          if (f.content && (!is_file(source) || detail::read_file(source) != *f.content)) {
            // A recorded key has no file of its own: put its bytes beside the signatures to sign.
            source = join_path(o.signatures, f.physical);
            if (!o.dry_run) detail::write_file_atomic(source, *f.content, 0644);
          }
          wanted += "\n  " + source + " -> " + path;
          continue;
        }
        sig = detail::read_file(path, 64 * 1024);
        if (!pub.verify_md5(f.md5, sig))
          throw Error(Errc::signature, path + " is not a signature of " + f.source + " (MD5 " + f.md5 +
                                           ") under " + pub_path + "; nothing was changed");
      }
      if (!pub.verify_md5(f.md5, sig))
        throw Error(Errc::signature, "the code-signing private key does not match " + pub_path +
                                         "; nothing was changed");
      sigs[f.physical] = sig;
    }
  }
  if (!wanted.empty())
    throw Error(Errc::usage, "missing signatures in " + o.signatures +
                                 " (sign each file with the code-signing key, BOINC format):" + wanted +
                                 "\nnothing was changed");
  return sigs;
}

void make_dirs(const std::string& path, unsigned mode = 0755) {
  if (path.empty() || is_dir(path)) return;
  make_dirs(dir_of(path), mode);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    throw Error(Errc::io, "cannot create directory " + path + ": " + detail::errno_text(errno));
}

// Fails (nothing changed yet) when `dir`, or its nearest existing ancestor, refuses a new file.
void probe_writable(std::string dir) {
  while (!is_dir(dir) && dir != "/" && dir != ".") dir = dir_of(dir);
  std::string probe = join_path(dir, ".mw-project-setup-probe-" + std::to_string(::getpid()));
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    throw Error(Errc::io, "cannot write in " + dir + ": " + detail::errno_text(errno) +
                              "; nothing was changed");
  ::close(fd);
  ::unlink(probe.c_str());
}

std::string backup(const std::string& path, const std::string& stamp) {
  std::string target = path + ".mw-backup-" + stamp;
  for (int n = 1; detail::path_exists(target); ++n)
    target = path + ".mw-backup-" + stamp + "." + std::to_string(n);
  struct stat st {};
  ::stat(path.c_str(), &st);
  detail::write_file_atomic(target, detail::read_file(path), st.st_mode & 07777);
  return target;
}

void write_preserving_mode(const std::string& path, const std::string& bytes) {
  struct stat st {};
  unsigned mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  detail::write_file_atomic(path, bytes, mode);
}

void touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0664);
  if (fd < 0) throw Error(Errc::io, "cannot create " + path + ": " + detail::errno_text(errno));
  ::close(fd);
}

// Waits until every daemon of ours holds its lock, and still holds it a
// moment later (a daemon that starts and then fails on its configuration or
// database exits within that moment). Stock daemons that are not running are
// reported, not waited for: they are the project's, and bin/status shows them.
void verify_daemons(Plan& plan, const std::string& app, double timeout, std::ostream& out) {
  plan.config = boinc::read_project_config(plan.project_dir);  // with install's edits
  std::vector<boinc::DaemonConfig> ours;
  for (const auto& d : needed_daemons(plan.config, app, false)) {
    if (d.program().rfind("mw-", 0) == 0) {
      ours.push_back(d);
      continue;
    }
    auto run = daemon_run(plan, d);
    if (run.running) out << "running " << d.cmd << " (pid " << run.pid << ")\n";
    else out << "! " << d.cmd << " is not running: " << run.why << "\n";
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  std::vector<DaemonRun> first(ours.size());
  for (bool all = false; !all;) {
    all = true;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      if (!first[i].running) first[i] = daemon_run(plan, ours[i]);
      all = all && first[i].running;
    }
    if (all || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::string failed;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    DaemonRun now = daemon_run(plan, ours[i]);
    if (first[i].running && now.running && now.pid == first[i].pid) {
      out << "running " << ours[i].cmd << " (pid " << now.pid << ")\n";
      continue;
    }
    const std::string log =
        join_path(join_path(plan.project_dir, "log_" + plan.host), ours[i].output_or_default());
    failed += "\n  " + ours[i].cmd + " is not running after bin/start (waited up to " +
              std::to_string(static_cast<int>(timeout)) + " s): " + now.why + "\n  the end of " + log + ":" +
              last_lines(log, 10);
  }
  if (!failed.empty())
    throw Error(Errc::system, "mwkit's daemons did not start:" + failed +
                                  "\nthe changes above are installed; fix the cause and run install again "
                                  "(it restarts the daemons and waits for them)");
}

// bin/stop then bin/start, exec'd with argv in the project directory. bin/start
// exits 0 even when a daemon's program cannot run (reference §11.1), so
// whether they run is seen afterwards, from their lock files.
void recycle_daemons(Plan& plan, const std::string& app, double timeout, std::ostream& out) {
  for (const char* step : {"stop", "start"}) {
    std::string program = join_path(join_path(plan.project_dir, "bin"), step);
    if (::access(program.c_str(), X_OK) != 0) {
      out << "! " << program << " is missing or not executable: restart the daemons yourself "
          << "(bin/stop, then bin/start)\n";
      return;
    }
    detail::ProcessSpec spec;
    spec.argv = {program};
    spec.cwd = plan.project_dir;
    // bin/start's whole point is the daemons it leaves running: not a task tree to end.
    spec.contain_tree = false;
    auto r = detail::run_process(spec);
    if (r.ending != detail::ProcessEnding::exited || r.exit_code != 0)
      throw Error(Errc::system, program + " failed (" +
                                    (r.ending == detail::ProcessEnding::exited
                                         ? "exit " + std::to_string(r.exit_code)
                                         : r.exec_error.empty() ? std::string("killed") : r.exec_error) +
                                    "): " + r.stderr_data +
                                    "; the changes above are installed — run bin/stop and bin/start yourself");
    out << "ran " << program << "\n";
  }
  if (!app.empty()) verify_daemons(plan, app, timeout, out);
}

const char* state_word(State s) {
  switch (s) {
    case State::present: return "present   ";
    case State::missing: return "missing   ";
    case State::outdated: return "outdated  ";
    case State::stopped: return "stopped   ";
  }
  return "";
}

void print_items(const Plan& plan, std::ostream& out, bool check_mode, bool dry_run) {
  for (const auto& i : plan.items) {
    if (check_mode) {
      out << state_word(i.state) << i.what << "\n";
      if (i.state != State::present && !i.detail.empty()) out << "          " << i.detail << "\n";
      continue;
    }
    if (i.state == State::present) continue;
    out << (dry_run ? "would " : "")
        << (i.state == State::missing ? "add    " : i.state == State::stopped ? "start  " : "update ") << i.what
        << "\n";
    if (!i.detail.empty()) out << "         " << i.detail << "\n";
  }
}

void apply_versions_to_db(Plan& plan, Database& db, const SetupOptions& o,
                          const std::map<std::string, std::string>& sigs) {
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  db.transaction([&] {
    if (plan.insert_app) {
      db.execute("INSERT INTO app (create_time, name, user_friendly_name) VALUES (?, ?, ?)",
                 {now, o.app, user_friendly_name(o.app)});
      plan.app_id = static_cast<std::int64_t>(db.last_insert_id());
    }
    for (const auto& p : plan.missing_platforms) {
      db.execute("INSERT INTO platform (create_time, name, user_friendly_name) VALUES (?, ?, ?)",
                 {now, p, p});
      plan.platform_ids[p] = static_cast<std::int64_t>(db.last_insert_id());
    }
    for (const auto& v : plan.versions) {
      db.execute(
          "INSERT INTO app_version (create_time, appid, version_num, platformid, xml_doc, plan_class) "
          "VALUES (?, ?, ?, ?, ?, '')",
          {now, plan.app_id, static_cast<std::int64_t>(v.version_num), plan.platform_ids.at(v.spec.platform),
           app_version_xml_doc(v.spec, v.version_num, plan.config.download_url, sigs)});
    }
    for (auto id : plan.deprecate_version_ids)
      db.execute("UPDATE app_version SET deprecated = 1 WHERE id = ?", {id});
  });
}

void install_version_files(const Plan& plan, const NewVersion& v,
                           const std::map<std::string, std::string>& sigs) {
  make_dirs(v.dir);
  for (const auto& f : v.spec.files) {
    std::string bytes = f.content ? *f.content : detail::read_file(f.source);
    unsigned mode = f.executable ? 0755 : 0644;
    detail::write_file_atomic(join_path(v.dir, f.physical), bytes, mode);
    detail::write_file_atomic(join_path(v.dir, f.physical + ".sig"), sigs.at(f.physical), 0644);
    std::string dl = join_path(plan.config.download_dir, f.physical);
    if (!detail::path_exists(dl)) detail::write_file_atomic(dl, bytes, mode);
  }
  detail::write_file_atomic(join_path(v.dir, "version.xml"), version_xml(v.spec), 0644);
}

// Applies a plan: files, then the database, then config.xml, then the daemons.
void apply(Plan& plan, Database& db, const SetupOptions& o,
           const std::map<std::string, std::string>& sigs, std::ostream& out) {
  const std::string stamp = now_stamp();
  // Every directory we will write in, before the first change.
  probe_writable(plan.project_dir);
  for (const auto& w : plan.writes) probe_writable(dir_of(w.path));
  for (const auto& d : plan.make_dirs) probe_writable(d);
  if (!plan.versions.empty()) {
    probe_writable(apps_dir(plan));
    probe_writable(plan.config.download_dir);
  }
  for (const auto& w : plan.writes) {
    make_dirs(dir_of(w.path));
    if (w.backup && detail::path_exists(w.path)) out << "backed up " << w.path << " to " << backup(w.path, stamp) << "\n";
    detail::write_file_atomic(w.path, w.bytes, w.mode);
  }
  for (const auto& d : plan.make_dirs) make_dirs(d);
  for (const auto& v : plan.versions) install_version_files(plan, v, sigs);
  if (plan.db_changes()) apply_versions_to_db(plan, db, o, sigs);
  if (plan.create_batch_file_assoc)  // DDL commits by itself in MariaDB: outside the transaction
    db.execute("CREATE TABLE IF NOT EXISTS batch_file_assoc (job_file_id INTEGER NOT NULL, "
               "batch_id INTEGER NOT NULL, UNIQUE (job_file_id, batch_id)) ENGINE=InnoDB");
  if (plan.add_status_indexes) {
    // Online: the project's daemons keep reading and writing while InnoDB builds them.
    boinc::detail::add_status_indexes(db);
    out << "added mwkit's indexes on workunit and result\n";
  }
  if (plan.new_config_text) {
    std::string config_path = join_path(plan.project_dir, "config.xml");
    out << "backed up " << config_path << " to " << backup(config_path, stamp) << "\n";
    write_preserving_mode(config_path, *plan.new_config_text);
  }
  if (!plan.record.app.empty()) {
    plan.record.installed_at = now_iso();
    boinc::write_install_record(plan.project_dir, plan.record);
  }
  if (plan.db_changes()) {
    touch(join_path(plan.project_dir, "reread_db"));
    out << "touched reread_db (the feeder reloads apps and versions)\n";
  }
  recycle_daemons(plan, plan.record.app, o.start_timeout, out);
}

}  // namespace

int install(const SetupOptions& o, std::ostream& out) {
  std::unique_ptr<Database> db;
  Plan plan = make_plan(o, db);
  const std::string& app = plan.record.app;
  std::map<std::string, std::string> sigs;
  std::string problem;
  for (const auto& b : plan.blockers) problem += "\n  " + b;
  for (const auto& n : plan.needs_flag) problem += "\n  " + n;
  if (problem.empty()) {
    try {
      sigs = collect_signatures(plan, o);
    } catch (const Error& e) {
      if (!o.dry_run) throw;
      problem = e.what();  // a dry run still shows the plan, then says why install would stop
    }
  }
  if (!plan.changes() && problem.empty()) {
    out << "mwkit is installed in " << plan.project_dir << " (app " << app << ") and its daemons are running; "
        << "nothing to change\n";
    return 0;
  }
  print_items(plan, out, false, o.dry_run);
  if (!problem.empty()) {
    if (o.dry_run) {
      out << "install would stop before changing anything: " << problem << "\n";
      return 1;
    }
    throw Error(Errc::usage, "install refused:" + problem + "\nnothing was changed");
  }
  if (o.dry_run) {
    out << "dry run: nothing was changed\n";
    return 0;
  }
  apply(plan, *db, o, sigs, out);
  out << "mwkit installed in " << plan.project_dir << " (app " << app << "); its daemons are running\n";
  return 0;
}

namespace {

// Every file of the app's live versions: in download/ with the bytes its
// signature covers, and the signature made by the project's code-signing key.
void check_signatures(Plan& plan, Database& db, const std::string& app) {
  const std::string pub_path = join_path(plan.key_dir, boinc::kCodeSignPublicFile);
  auto pub = boinc::CodeSignPublicKey::load(pub_path);
  for (const auto& v : db.query(
           "SELECT av.id, av.version_num, p.name, av.xml_doc FROM app_version av JOIN app a ON a.id = av.appid "
           "JOIN platform p ON p.id = av.platformid WHERE a.name = ? AND av.deprecated = 0 ORDER BY av.id",
           {app})) {
    const std::string what = "signatures of app version " + version_dir_name(static_cast<int>(v.integer(1))) +
                             " for " + v.text(2);
    auto doc = parse_app_version_doc(v.text(3), "app_version " + v.text(0));
    std::string bad;
    for (const auto& f : doc.files) {
      const std::string path = join_path(plan.config.download_dir, f.physical);
      if (!is_file(path)) bad += "; " + path + " is missing";
      else if (f.signature.empty()) bad += "; " + f.physical + " has no signature";
      else if (!pub.verify_file(path, f.signature.substr(f.signature.find_first_not_of("\n"))))
        bad += "; " + f.physical + " does not verify with " + pub_path;
    }
    if (bad.empty()) plan.add(State::present, what + " (" + std::to_string(doc.files.size()) + " files verify)");
    else plan.add(State::outdated, what, bad.substr(2) + " — volunteers' clients will refuse it");
  }
}

}  // namespace

int check(const SetupOptions& o, std::ostream& out) {
  std::unique_ptr<Database> db;
  Plan plan = make_plan(o, db, true);
  const std::string& app = plan.record.app;
  check_signatures(plan, *db, app);
  // BOINC's own daemons are reported too: without them no work flows.
  for (const auto& d : needed_daemons(plan.config, app, false)) {
    auto run = daemon_run(plan, d);
    bool listed = false;
    for (const auto& i : plan.items) listed = listed || i.what == "daemon running: " + d.cmd;
    if (listed) continue;
    if (run.running) plan.add(State::present, "daemon running: " + d.cmd + " (pid " + std::to_string(run.pid) + ")");
    else plan.add(State::stopped, "daemon running: " + d.cmd, run.why);
  }
  if (!plan.recorded)
    out << "no install record " << boinc::install_record_path(plan.project_dir) << " for app " << app
        << ": comparing with mw-project-setup's defaults\n";
  print_items(plan, out, true, false);
  for (const auto& b : plan.blockers) out << "problem   " << b << "\n";
  for (const auto& n : plan.needs_flag) out << "differs   " << n << "\n";
  bool missing = false, stopped = false;
  for (const auto& i : plan.items) {
    missing = missing || i.state == State::missing || i.state == State::outdated;
    stopped = stopped || i.state == State::stopped;
  }
  const bool ok = !missing && !stopped && plan.blockers.empty() && plan.needs_flag.empty();
  if (ok) {
    out << "mwkit is installed (app " << app << ") and its daemons are running\n";
    return 0;
  }
  if (!plan.blockers.empty())
    out << "mwkit cannot run here until the problem above is fixed\n";
  else if (missing)
    out << "mwkit is not fully installed: `mw-project-setup install --project " << plan.project_dir
        << "` adds what is missing and keeps the recorded task keys and delivery directory\n";
  else
    out << "daemons are not running (reasons above): `mw-project-setup install --project " << plan.project_dir
        << "` restarts them and waits for them\n";
  return 1;
}

int uninstall(const SetupOptions& given, std::ostream& out) {
  Plan plan;
  ConfigText* text = nullptr;
  std::unique_ptr<ConfigText> holder;
  SetupOptions o = given;
  load_project(plan, o, text, holder);
  plan.host = short_hostname();
  if (!o.app_given) {
    auto all = boinc::read_install_records(plan.project_dir);
    if (all.size() == 1) o.app = all[0].app;
  }
  auto db = connect(plan);
  for (const char* program : {"mw-validator", "mw-assimilator", "mw-work-generator"}) {
    auto list = text->daemons();
    for (std::size_t i = list.size(); i-- > 0;) {
      if (!is_app_daemon(list[i].cmd, program, o.app)) continue;
      plan.add(State::missing, std::string("daemon ") + list[i].cmd, "");
      text->remove_daemon(i);
    }
  }
  if (text->text() != plan.old_config_text) plan.new_config_text = text->text();
  auto apps = db->query("SELECT id FROM app WHERE name = ?", {o.app});
  if (!apps.empty()) {
    for (const auto& v : db->query(
             "SELECT av.id, av.version_num, p.name FROM app_version av JOIN platform p ON p.id = av.platformid "
             "WHERE av.appid = ? AND av.deprecated = 0 ORDER BY av.id",
             {apps[0].integer(0)})) {
      plan.deprecate_version_ids.push_back(v.integer(0));
      plan.add(State::missing, "app version " + version_dir_name(static_cast<int>(v.integer(1))) + " for " +
                                   v.text(2) + " (deprecated, not deleted)");
    }
  }
  if (!plan.changes()) {
    out << "mwkit (app " << o.app << ") is not installed in " << plan.project_dir << "; nothing to remove\n";
    return 0;
  }
  for (const auto& i : plan.items)
    out << (o.dry_run ? "would " : "") << "remove " << i.what << "\n";
  if (o.dry_run) {
    out << "dry run: nothing was changed\n";
    return 0;
  }
  apply(plan, *db, o, {}, out);
  out << "mwkit removed from " << plan.project_dir << " (app " << o.app
      << "); workunits, results, outputs, templates, the app row and the install record are kept\n";
  return 0;
}

std::string program_near_setup(const std::string& program) {
  const std::string here = self_dir();
  std::string beside = join_path(here, program);
  if (is_file(beside)) return beside;
  // A build tree keeps each program in its own directory.
  static const std::map<std::string, std::string> build_dirs = {{"mw-validator", "validator"},
                                                               {"mw-assimilator", "assimilator"},
                                                               {"mw-work-generator", "work_generator"},
                                                               {"mw-wrapper", "client_wrapper"}};
  auto it = build_dirs.find(program);
  if (it == build_dirs.end()) return "";
  std::string in_build = join_path(join_path(dir_of(here), it->second), program);
  return is_file(in_build) ? in_build : "";
}

std::string host_platform() {
  struct utsname u {};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "x86_64-pc-linux-gnu";
  if (m == "i686" || m == "i386") return "i686-pc-linux-gnu";
  return m + "-unknown-linux-gnu";
}

std::vector<std::string> root_library_dirs(const std::string& root, const std::string& platform) {
  const std::string triplet = detail::machine_name(detail::platform_machine(platform)) + "-linux-gnu";
  std::vector<std::string> dirs;
  for (const auto& d : {"/usr/lib/" + triplet, "/lib/" + triplet, std::string("/usr/lib"), std::string("/lib")})
    if (is_dir(root + d)) dirs.push_back(root + d);
  return dirs;
}

WrapperNeeds wrapper_needs(const std::string& wrapper, const std::string& platform,
                           const std::vector<std::string>& shipped, const std::vector<std::string>& search_dirs) {
  WrapperNeeds n;
  auto closure = detail::library_closure(wrapper, shipped, search_dirs);
  const auto& main = closure.files.at(0);
  const std::uint16_t want = detail::platform_machine(platform);
  if (want != 0 && main.machine != want)
    n.problems.push_back(wrapper + " is built for " + detail::machine_name(main.machine) + ", not for " + platform);
  for (const auto& w : closure.wrong_machine) n.problems.push_back(w);
  for (const auto& m : closure.missing)
    n.problems.push_back(m + ": not shipped, not part of glibc" +
                         (search_dirs.empty() ? std::string() : ", not found in " + search_dirs.front() + " nor the other library directories searched"));
  // Every given file goes, in the order given, under the name the loader asks for.
  for (const auto& s : shipped) {
    std::string name = detail::base_name(s);
    for (const auto& l : closure.libraries)
      if (l.path == s) name = l.soname;
    n.libraries.emplace_back(s, name);
  }
  for (const auto& l : closure.libraries)
    if (std::find(shipped.begin(), shipped.end(), l.path) == shipped.end()) n.libraries.emplace_back(l.path, l.soname);
  n.glibc_floor = closure.glibc_floor;
  n.glibc_floor_from = closure.glibc_floor_from;
  return n;
}

}  // namespace mw::setup
