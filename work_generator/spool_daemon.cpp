#include "spool_daemon.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "mw/boinc/install_record.h"
#include "mw/boinc/task_submitter.h"
#include "mw/error.h"
#include "submission.h"
#include "util/fs.h"

namespace mw::work_generator {
namespace {

using namespace mw::boinc;

std::vector<std::string> waiting_files(const std::string& dir) {
  std::vector<std::string> files;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw Error(Errc::io, "cannot read the spool directory '" + dir + "': " +
                                    mw::detail::errno_text(errno));
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name.front() == '.') continue;
    if (!ends_with(name, ".zip") && !is_sweep(name)) continue;
    struct stat st {};
    if (::stat((dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(name);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

void move_into(const std::string& from, const std::string& dir, const std::string& name) {
  ::mkdir(dir.c_str(), 0775);
  if (::rename(from.c_str(), (dir + "/" + name).c_str()) != 0)
    throw Error(Errc::io, "cannot move '" + from + "' into '" + dir + "': " + mw::detail::errno_text(errno));
  mw::detail::fsync_directory(dir);
}

// Results the scheduler could send now, plus those the transitioner will
// create for workunits it has not seen yet.
std::int64_t unsent_results(Database& db, std::int64_t app_id) {
  auto rows = db.query(
      "SELECT (SELECT COUNT(*) FROM result WHERE appid = ? AND server_state = 2) + "
      "(SELECT COALESCE(SUM(w.target_nresults), 0) FROM workunit w WHERE w.appid = ? AND "
      "w.error_mask = 0 AND w.canonical_resultid = 0 AND w.assimilate_state = 0 AND "
      "NOT EXISTS (SELECT 1 FROM result r WHERE r.workunitid = w.id))",
      {app_id, app_id});
  return rows.at(0).integer(0);
}

class SpoolDaemon {
 public:
  SpoolDaemon(SpoolOptions options, DaemonLog& log, const StopControl& stop)
      : o_(std::move(options)), log_(log), stop_(stop) {}

  void configure(const ProjectConfig& config) {
    config_ = config;
    struct stat st {};
    if (::stat(o_.spool_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw Error(Errc::usage, "--spool " + o_.spool_dir + " is not a directory");
    o_.settings = resolve_replication(o_.settings, app_defaults(config, o_.daemon.app).min_quorum);
    check_workunit_settings(o_.settings, "(--daemon settings)");
  }

  bool pass(Database& db) {
    auto files = waiting_files(o_.spool_dir);
    if (files.empty()) return false;
    TaskSubmitter submitter(config_, db, o_.daemon.app, load_key_if_needed(config_, o_.daemon.app, o_.key, files),
                            o_.max_output_bytes, trusted_keys(config_, o_.daemon.app));
    std::int64_t unsent = unsent_results(db, submitter.creator().app_id());
    if (unsent >= o_.min_unsent) {
      log_.debug(std::to_string(unsent) + " unsent results, at least " + std::to_string(o_.min_unsent) +
                 " wanted: nothing to do");
      return false;
    }
    const std::int64_t batch = open_batch(submitter.creator(), o_.batch).first;
    bool did = false;
    for (const std::string& file : files) {
      if (unsent >= o_.min_unsent || stop_.stop_requested()) break;
      const std::string path = o_.spool_dir + "/" + file;
      const std::string stem = name_stem(o_.batch) + "_" + std::to_string(batch) + "_" +
                               name_stem(file.substr(0, file.rfind('.'))) + "_";
      try {
        std::size_t n = submit_inputs(submitter, batch, stem, 0, o_.settings, {path});
        unsent += static_cast<std::int64_t>(n) * o_.settings.target_nresults;
        log_.normal("submitted " + file + ": " + std::to_string(n) + " workunit(s) in batch " +
                    std::to_string(batch));
        move_into(path, o_.spool_dir + "/done", file);
      } catch (const Error& e) {
        if (e.code() == Errc::database) throw;  // the daemon loop reconnects or exits
        if (already_submitted(db, stem)) {
          log_.normal(file + " was submitted before (its workunits exist): moved to done/");
          move_into(path, o_.spool_dir + "/done", file);
        } else {
          log_.critical("refused " + file + ": " + e.what());
          mw::detail::write_file_atomic(o_.spool_dir + "/failed/" + file + ".error",
                                        std::string(e.what()) + "\n");
          move_into(path, o_.spool_dir + "/failed", file);
        }
      }
      did = true;
    }
    return did;
  }

 private:
  bool already_submitted(Database& db, const std::string& stem) {
    return !db.query("SELECT id FROM workunit WHERE name = ?", {stem + "0"}).empty();
  }

  SpoolOptions o_;
  DaemonLog& log_;
  const StopControl& stop_;
  ProjectConfig config_;
};

}  // namespace

int run_spool_daemon(SpoolOptions options) {
  DaemonLog log(options.daemon.debug_level);
  // The stop trigger lives in the project, which run_daemon finds; a control
  // for it is made once the project is known.
  std::unique_ptr<StopControl> stop;
  std::unique_ptr<SpoolDaemon> daemon;
  return run_daemon(
      options.daemon, log,
      "mw-work-generator --daemon starting: app " + options.daemon.app + ", spool " + options.spool_dir +
          ", at least " + std::to_string(options.min_unsent) + " unsent results",
      [&](const ProjectConfig& config) {
        ::mkdir((options.spool_dir + "/failed").c_str(), 0775);
        stop = std::make_unique<StopControl>(config.project_dir);
        daemon = std::make_unique<SpoolDaemon>(options, log, *stop);
        daemon->configure(config);
      },
      [&](Database& db) { return daemon->pass(db); });
}

}  // namespace mw::work_generator
