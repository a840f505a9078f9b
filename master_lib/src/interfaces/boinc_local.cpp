// mw::boinc::Local — see mw/boinc/local.h.
//
// Two threads besides the Master's: the submitter owns the database connection
// (the client library is not thread-safe) and turns queued tasks into
// workunits in bulk, and carries out cancellations; the watcher waits on the
// delivery directory (inotify, else a timed scan) and reports finished tasks.
#include "mw/boinc/local.h"
#include "mw/log.h"

#include <dirent.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "mw/boinc/delivery_hosts.h"
#include "mw/boinc/install_record.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/task_submitter.h"
#include "mw/error.h"
#include "interfaces/boinc_common.h"
#include "interfaces/host_tally.h"
#include "mw/remote_task.h"
#include "util/elf_inspect.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

std::string read_first_line(const std::string& path) {
  std::string text;
  try {
    text = mw::detail::read_file(path, 1 << 16);
  } catch (const Error& e) {
    return e.what();
  }
  const auto nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

void make_dirs(const std::string& path) {
  std::string partial;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0775) != 0 && errno != EEXIST)
      throw Error(Errc::io, "cannot create '" + partial + "': " + mw::detail::errno_text(errno));
  }
}

class LocalInterface final : public detail::QueuedBoincInterface {
 public:
  explicit LocalInterface(const Local& options)
      : QueuedBoincInterface({"boinc", options.app, options.max_in_flight, options.tasks_per_submit, 0,
                              "BOINC submission failed: "}),
        options_(options) {
    config_ = read_project_config(find_project_dir(options_.project_dir));
    db_ = std::make_unique<Database>(db_params_from(config_));
    // What mw-project-setup recorded fills in what the master did not say.
    const AppDefaults defaults = app_defaults(config_, options_.app);
    const std::string key_path = options_.signing_key.empty() ? defaults.task_signing_key : options_.signing_key;
    if (key_path.empty())
      throw Error(Errc::usage, "no task-signing key: mw-project-setup installed app '" + options_.app +
                                   "' with public keys only (--task-pub), so set Local::signing_key to the "
                                   "matching private key");
    if (!mw::detail::path_exists(key_path))
      throw Error(Errc::usage, "task-signing key '" + key_path + "' does not exist (" +
                                   (options_.signing_key.empty()
                                        ? std::string(defaults.recorded ? "named by " + install_record_path(config_.project_dir)
                                                                        : "mw-project-setup install makes it")
                                        : std::string("Local::signing_key")) +
                                   "; or set Local::signing_key)");
    auto key = std::make_shared<const PrivateKey>(PrivateKey::load_pem(key_path));
    submitter_ = std::make_unique<TaskSubmitter>(config_, *db_, options_.app, key,
                                                 options_.max_output_bytes);
    settings_ = resolve_replication(options_.settings, defaults.min_quorum);
    check_workunit_settings(settings_, "(Local settings)");
    worker_program_ =
        options_.worker_program.empty() ? mw::detail::self_program_path() : options_.worker_program;
    const std::string batch_name = detail::batch_name_or_default(options_.batch_name);
    batch_id_ = submitter_->creator().create_batch(batch_name);
    stem_ = detail::workunit_stem(batch_name) + "_" + std::to_string(batch_id_) + "_";
    const std::string deliver = options_.deliver_dir.empty() ? defaults.deliver_dir : options_.deliver_dir;
    batch_dir_ = deliver + "/" + std::to_string(batch_id_);
    make_dirs(batch_dir_);
    delivered_hosts_ = std::make_unique<DeliveredHostsReader>(batch_dir_ + "/" + kDeliveryHostsFile);
  }

  ~LocalInterface() override { shutdown(); }

  std::string name() const override { return "boinc"; }

 private:
  std::string wu_name(std::uint64_t task_id) const { return stem_ + std::to_string(task_id); }

  void after_stop() override {
    if (!options_.retire_batch_at_end) return;
    try {
      submitter_->creator().retire_batch(batch_id_);
    } catch (const Error&) {
      // The master is going away; BOINC will finish or time out the rest.
    }
  }

  void add_details(std::map<std::string, std::string>& details) const override {
    details["project"] = config_.project_dir;
    details["batch_id"] = std::to_string(batch_id_);
    details["delivery_dir"] = batch_dir_;
    details["watch"] = watching_with_inotify_ ? "inotify" : "polling";
  }

  void add_hosts(InterfaceStatus& status) const override { hosts_.fill(status); }

  // BOINC's host id is the key; the volunteer's host name, else "host N", is shown.
  static mw::detail::HostRef host_ref(const DeliveredHost& h) {
    mw::detail::HostRef ref;
    ref.id = std::to_string(h.hostid);
    ref.name = h.domain_name.empty() ? "host " + ref.id : h.domain_name;
    ref.details = h.os_name;
    if (!h.p_model.empty()) ref.details += (ref.details.empty() ? "" : ", ") + h.p_model;
    return ref;
  }

  // Counts the delivery of `wu` for the hosts mw-assimilator recorded (none
  // from an older one) and returns whom to name as the outcome's worker.
  std::string count_hosts(const std::string& wu, bool is_result, bool failed) {
    const std::vector<DeliveredHost> hosts = delivered_hosts_->take(wu);
    std::string worker = "boinc";
    const double now = mw::detail::unix_now();
    std::lock_guard<std::mutex> lock(mutex_);
    for (const DeliveredHost& h : hosts) {
      // A result is its canonical host's doing; an error, each failed host's.
      if (h.canonical != is_result) continue;
      const mw::detail::HostRef ref = host_ref(h);
      hosts_.ended(ref, failed, false, now);
      worker += (worker == "boinc" ? " " : ", ") + ref.name + " (host " + ref.id + ")";
    }
    return worker;
  }

  void cancel_submitted(const std::vector<std::uint64_t>& task_ids) override {
    for (std::uint64_t id : task_ids) {
      try {
        submitter_->creator().cancel_workunit(wu_name(id));
      } catch (const Error& e) {
        note_error(e.what());
      }
    }
  }

  // The whole chunk is one transaction: on an Error nothing of it was submitted.
  std::size_t submit_chunk(const std::vector<std::shared_ptr<const TaskSpec>>& chunk) override {
    std::size_t next = 0;
    submitter_->submit(batch_id_, settings_, [&](PendingTask& pending) {
      if (next == chunk.size()) return false;
      const TaskSpec& task = *chunk[next++];
      auto builder = std::make_shared<TaskBuilder>(remote_task_builder(task, worker_program_));
      // Once per program, before it is staged: volunteers have only glibc,
      // and a program needing more fails there at once (issue 17).
      for (const auto& program : builder->program_files()) {
        if (program.path.empty() || !checked_programs_.insert(program.path).second) continue;
        const std::string warning = mw::detail::volunteer_program_warning(program.path);
        if (!warning.empty()) mw::log(mw::LogLevel::warning, "mw boinc local: " + warning);
      }
      pending.wu_name = wu_name(task.id);
      pending.builder = std::move(builder);
      pending.settings = detail::settings_for_task(settings_, task);
      return true;
    });
    return chunk.size();
  }

  // A delivered file: "<wu_name>.result" or "<wu_name>.error".
  void consider(const std::string& file) {
    if (file.empty() || file.front() == '.') return;
    const bool is_result = file.size() > 7 && file.compare(file.size() - 7, 7, ".result") == 0;
    const bool is_error = file.size() > 6 && file.compare(file.size() - 6, 6, ".error") == 0;
    if (!is_result && !is_error) return;
    const std::string wu = file.substr(0, file.size() - (is_result ? 7 : 6));
    if (wu.compare(0, stem_.size(), stem_) != 0) return;
    const std::string id_text = wu.substr(stem_.size());
    if (id_text.empty() || id_text.find_first_not_of("0123456789") != std::string::npos) return;
    const std::uint64_t id = std::stoull(id_text);
    const std::shared_ptr<const TaskSpec> task = in_flight(id);
    if (!task || !claim(id)) return;  // delivered already, or cancelled
    const std::string path = batch_dir_ + "/" + file;
    Outcome outcome;
    if (is_result) {
      outcome = outcome_from_result_bundle(path, *task, "boinc");
    } else {
      outcome = detail::rejected_outcome("BOINC gave up on workunit " + wu + ": " + read_first_line(path), "boinc");
    }
    // The canonical result's bundle may still say the task failed: that is its host's failure.
    outcome.worker = count_hosts(wu, is_result, outcome.status != ResultStatus::success);
    report(id, std::move(outcome));
  }

  void scan() {
    DIR* dir = ::opendir(batch_dir_.c_str());
    if (!dir) return;
    while (dirent* e = ::readdir(dir)) consider(e->d_name);
    ::closedir(dir);
  }

  void watch_loop() override {
    int fd = options_.use_inotify ? ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC) : -1;
    if (fd >= 0 && ::inotify_add_watch(fd, batch_dir_.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
      ::close(fd);
      fd = -1;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      watching_with_inotify_ = fd >= 0;
    }
    // With inotify a full scan is only a safety net (overflowed event queue).
    const double rescan_seconds = fd >= 0 ? 30.0 : options_.poll_seconds;
    scan();
    auto last_scan = std::chrono::steady_clock::now();
    alignas(inotify_event) char buf[64 * 1024];
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopped_) break;
      }
      if (fd >= 0) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) > 0) {
          ssize_t n;
          while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            for (char* at = buf; at < buf + n;) {
              auto* ev = reinterpret_cast<inotify_event*>(at);
              if (ev->mask & IN_Q_OVERFLOW) last_scan = {};
              if (ev->len > 0) consider(ev->name);
              at += sizeof(inotify_event) + ev->len;
            }
          }
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(
            static_cast<int>(std::min(options_.poll_seconds, 0.2) * 1000)));
      }
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - last_scan).count() >=
          rescan_seconds) {
        scan();
        last_scan = std::chrono::steady_clock::now();
      }
    }
    if (fd >= 0) ::close(fd);
  }

  Local options_;
  WorkunitSettings settings_;  // options_.settings with the replication limits resolved
  ProjectConfig config_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<TaskSubmitter> submitter_;
  std::string worker_program_;
  std::set<std::string> checked_programs_;  // programs already checked for volunteers (submitter only)
  std::int64_t batch_id_ = 0;
  std::string stem_, batch_dir_;
  bool watching_with_inotify_ = false;  // under mutex_
  std::unique_ptr<DeliveredHostsReader> delivered_hosts_;  // the watcher's only
  mw::detail::HostTally hosts_{false};  // under mutex_; BOINC does not say where a task runs now
};

}  // namespace

std::unique_ptr<Interface> Local::make_interface() const {
  if (app.empty()) throw Error(Errc::usage, "Local::app must name the BOINC app");
  if (poll_seconds <= 0) throw Error(Errc::usage, "Local::poll_seconds must be positive");
  if (max_in_flight == 0 || tasks_per_submit == 0)
    throw Error(Errc::usage, "Local::max_in_flight and Local::tasks_per_submit must be positive");
  return std::make_unique<LocalInterface>(*this);
}

}  // namespace mw::boinc
