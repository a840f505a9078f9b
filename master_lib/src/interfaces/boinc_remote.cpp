// mw::boinc::Remote — see mw/boinc/remote.h.
//
// Two threads besides the Master's, each with its own RpcClient (a libcurl
// handle is not shared between threads): the submitter turns queued tasks
// into staged files and batches and carries out cancellations; the poller
// follows the batches and fetches finished jobs' outputs.
#include "mw/boinc/remote.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "boinc/remote_rpc.h"
#include "mw/error.h"
#include "mw/hash.h"
#include "interfaces/boinc_common.h"
#include "mw/remote_task.h"
#include "util/fs.h"

namespace mw::boinc {

std::string read_authenticator(const std::string& auth_file, const std::string& env_var) {
  std::string text;
  if (!auth_file.empty()) {
    struct stat st {};
    if (::stat(auth_file.c_str(), &st) != 0)
      throw Error(Errc::usage, "authenticator file '" + auth_file + "': " + mw::detail::errno_text(errno));
    if ((st.st_mode & 077) != 0)
      throw Error(Errc::usage, "authenticator file '" + auth_file + "' is readable by others (mode " +
                                   [&] { char b[8]; std::snprintf(b, sizeof b, "%04o", st.st_mode & 07777); return std::string(b); }() +
                                   "); chmod 600 it");
    text = mw::detail::read_file(auth_file, 4096);
  } else {
    const char* v = env_var.empty() ? nullptr : std::getenv(env_var.c_str());
    if (!v) throw Error(Errc::usage, "no authenticator: give an authenticator file, or set $" + env_var);
    text = v;
  }
  const auto b = text.find_first_not_of(" \t\r\n");
  const auto e = text.find_last_not_of(" \t\r\n");
  text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
  if (text.empty() || text.find_first_of(" \t\r\n<>&") != std::string::npos)
    throw Error(Errc::usage, std::string("the authenticator in ") +
                                 (auth_file.empty() ? "$" + env_var : "'" + auth_file + "'") +
                                 " is empty or not one word");
  return text;
}

namespace {

using detail::RemoteBatchStatus;
using detail::RemoteJob;
using detail::RpcClient;
using detail::RpcError;

class RemoteInterface final : public Interface {
 public:
  RemoteInterface(const Remote& options, std::string authenticator)
      : options_(options), auth_(std::move(authenticator)) {
    if (!options_.log) options_.log = [](const std::string& line) { std::cerr << "mw boinc remote: " << line << "\n"; };
    check_workunit_settings(options_.settings, "(Remote settings)");
    if (options_.signing_key.empty())
      throw Error(Errc::usage, "Remote::signing_key must name the master's task-signing key");
    key_ = std::make_shared<const PrivateKey>(PrivateKey::load_pem(options_.signing_key));
    worker_program_ =
        options_.worker_program.empty() ? mw::detail::self_program_path() : options_.worker_program;
    batch_name_ = detail::batch_name_or_default(options_.batch_name);
    scratch_ = mw::detail::make_temp_dir(mw::detail::default_temp_root(), "mw_remote_");
    submit_rpc_ = make_client();
    poll_rpc_ = make_client();
  }

  ~RemoteInterface() override {
    shutdown();
    mw::detail::remove_tree(scratch_);
  }

  std::string name() const override { return "boinc-remote"; }

  void start(InterfaceEvents& events) override {
    events_ = &events;
    submit_thread_ = std::thread([this] { submit_loop(); });
    poll_thread_ = std::thread([this] { poll_loop(); });
  }

  std::optional<WorkerId> reserve_worker() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_flight_.size() >= options_.max_in_flight) return std::nullopt;
    return WorkerId{0};
  }

  void execute_task(WorkerId, std::shared_ptr<const TaskSpec> task) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_[task->id] = task;
      to_submit_.push_back(task);
    }
    wake_.notify_all();
  }

  void cancel_task(std::uint64_t task_id) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_.erase(task_id);
      for (auto it = to_submit_.begin(); it != to_submit_.end(); ++it) {
        if ((*it)->id == task_id) {
          to_submit_.erase(it);
          return;
        }
      }
      auto job = job_of_task_.find(task_id);
      if (job != job_of_task_.end()) to_abort_.push_back(job->second);
    }
    wake_.notify_all();
  }

  void each_worker(const Function& function, const Args&) override { detail::throw_no_each_worker(function); }

  InterfaceStatus status() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    InterfaceStatus st;
    WorkerStatus w;
    w.name = "boinc-remote:" + options_.app;
    w.state = in_flight_.empty() ? "idle" : "busy";
    w.tasks_done = delivered_;
    st.workers.push_back(w);
    st.details["app"] = options_.app;
    st.details["batches"] = std::to_string(batches_.size() + finished_batches_.size());
    st.details["submitted"] = std::to_string(submitted_);
    st.details["delivered"] = std::to_string(delivered_);
    st.details["uploaded_files"] = std::to_string(submit_rpc_->uploads());
    st.details["rpcs"] = std::to_string(submit_rpc_->rpcs() + poll_rpc_->rpcs());
    st.details["http_attempts"] = std::to_string(submit_rpc_->http_attempts() + poll_rpc_->http_attempts());
    st.details["template_workaround"] = workaround_used_ ? "yes" : "no";
    if (!last_error_.empty()) st.details["last_error"] = last_error_;
    return st;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    wake_.notify_all();
    if (submit_thread_.joinable()) submit_thread_.join();
    if (poll_thread_.joinable()) poll_thread_.join();
    if (!options_.retire_batch_at_end) return;
    std::vector<std::int64_t> all;
    for (const auto& b : batches_) all.push_back(b.first);
    all.insert(all.end(), finished_batches_.begin(), finished_batches_.end());
    for (std::int64_t id : all) {
      try {
        submit_rpc_->retire_batch(id);
      } catch (const Error& e) {
        options_.log("could not retire batch " + std::to_string(id) + ": " + e.what());
      }
    }
  }

 private:
  std::unique_ptr<RpcClient> make_client() const {
    detail::HttpOptions http;
    http.ca_file = options_.ca_file;
    http.verify_tls = options_.verify_tls;
    http.connect_timeout_seconds = options_.connect_timeout_seconds;
    http.total_timeout_seconds = options_.total_timeout_seconds;
    http.max_attempts = options_.http_attempts;
    http.backoff_initial_seconds = options_.backoff_initial_seconds;
    return std::make_unique<RpcClient>(options_.project_url, auth_, http);
  }

  void fail(std::uint64_t task_id, const std::string& why) {
    Outcome o = detail::rejected_outcome(why, "boinc-remote");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (in_flight_.erase(task_id) == 0) return;
      last_error_ = why;
    }
    events_->task_finished(task_id, std::move(o));
    events_->worker_available();
  }

  // A staged file: its content-hash name and where its bytes are.
  struct Staged {
    std::string name;
    std::string path;
  };

  Staged program_file(const TaskBuilder::ProgramFile& p) {
    if (p.path.empty()) return {"mwp_" + sha256_hex(p.bytes), ""};
    auto it = program_names_.find(p.path);
    if (it == program_names_.end())
      it = program_names_.emplace(p.path, "mwp_" + sha256_file_hex(p.path)).first;
    return {it->second, p.path};
  }

  void submit_loop() {
    for (;;) {
      std::vector<std::shared_ptr<const TaskSpec>> chunk;
      std::vector<std::string> aborts;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopped_ || !to_submit_.empty() || !to_abort_.empty(); });
        if (stopped_) return;
        // Let a chunk fill: one batch of many jobs costs the same RPCs as one job.
        if (to_abort_.empty() && to_submit_.size() < options_.tasks_per_submit)
          wake_.wait_for(lock, std::chrono::duration<double>(options_.gather_seconds),
                         [&] { return stopped_ || to_submit_.size() >= options_.tasks_per_submit; });
        if (stopped_) return;
        while (!to_submit_.empty() && chunk.size() < options_.tasks_per_submit) {
          chunk.push_back(to_submit_.front());
          to_submit_.pop_front();
        }
        aborts.swap(to_abort_);
      }
      if (!chunk.empty()) {
        try {
          submit_chunk(chunk);
        } catch (const Error& e) {
          for (const auto& task : chunk) fail(task->id, std::string("BOINC remote submission failed: ") + e.what());
        }
      }
      if (!aborts.empty()) {
        try {
          submit_rpc_->abort_jobs(aborts);
        } catch (const Error& e) {
          std::lock_guard<std::mutex> lock(mutex_);
          last_error_ = e.what();
        }
      }
    }
  }

  void submit_chunk(const std::vector<std::shared_ptr<const TaskSpec>>& chunk) {
    const std::string name = batch_name_ + "_" + std::to_string(++chunks_);
    const std::int64_t batch_id = submit_rpc_->create_batch(options_.app, name);
    const std::string stem = detail::workunit_stem(batch_name_) + "_" + std::to_string(batch_id) + "_";
    mw::detail::TempDir dir(scratch_, "chunk_");
    std::vector<RemoteJob> jobs;
    std::vector<std::string> names;     // distinct staged names, in first-use order
    std::map<std::string, std::string> paths;  // name → file (bytes on disk)
    std::map<std::string, std::string> in_memory;
    std::set<std::string> seen;
    for (const auto& task : chunk) {
      TaskBuilder builder = remote_task_builder(*task, worker_program_);
      const std::string zip = dir.path() + "/" + std::to_string(task->id) + ".zip";
      builder.write_bundle_without_programs(zip, *key_);
      RemoteJob job;
      job.name = stem + std::to_string(task->id);
      // BOINC takes a per-job rsc_fpops_est; the other bounds are the batch's.
      if (task->estimates.fpops && *task->estimates.fpops > 0)
        job.rsc_fpops_est = detail::settings_for_task(options_.settings, *task).rsc_fpops_est;
      std::vector<std::pair<Staged, const std::string*>> files{{{"mwt_" + sha256_file_hex(zip), zip}, nullptr}};
      const auto programs = builder.program_files();
      for (const auto& p : programs) files.push_back({program_file(p), &p.bytes});
      for (const auto& [s, bytes] : files) {
        if (seen.insert(s.name).second) {
          names.push_back(s.name);
          if (!s.path.empty()) paths[s.name] = s.path;
          else in_memory[s.name] = *bytes;
        }
        job.files.push_back({"local_staged", s.name});
      }
      jobs.push_back(std::move(job));
    }
    detail::stage_files(*submit_rpc_, names, [&](const std::string& n) {
      auto p = paths.find(n);
      return p != paths.end() ? mw::detail::read_file(p->second) : in_memory.at(n);
    }, batch_id);
    detail::submit_batch_tolerant(*submit_rpc_, batch_id, options_.app, options_.settings, jobs,
                                  template_workaround_, options_.log);
    workaround_used_ = template_workaround_;
    std::lock_guard<std::mutex> lock(mutex_);
    Batch& b = batches_[batch_id];
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      b.jobs[jobs[i].name] = chunk[i]->id;
      job_of_task_[chunk[i]->id] = jobs[i].name;
    }
    submitted_ += chunk.size();
    poll_now_ = true;
    wake_.notify_all();
  }

  void poll_loop() {
    double interval = options_.poll_initial_seconds;
    for (;;) {
      std::vector<std::int64_t> ids;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, std::chrono::duration<double>(interval), [&] { return stopped_ || poll_now_; });
        if (stopped_) return;
        if (poll_now_) interval = options_.poll_initial_seconds;
        poll_now_ = false;
        for (const auto& b : batches_) ids.push_back(b.first);
      }
      bool progress = false;
      for (std::int64_t id : ids) {
        try {
          progress |= poll_batch(id);
        } catch (const Error& e) {
          std::lock_guard<std::mutex> lock(mutex_);
          last_error_ = e.what();
        }
      }
      interval = progress ? options_.poll_initial_seconds
                          : std::min(interval * 1.5, options_.poll_max_seconds);
    }
  }

  // Returns true if a job of the batch ended since the last poll.
  bool poll_batch(std::int64_t batch_id) {
    const RemoteBatchStatus st = poll_rpc_->query_batch(batch_id);
    bool progress = false;
    for (const auto& job : st.jobs) {
      if (job.status != "done" && job.status != "error") continue;
      std::uint64_t task_id = 0;
      std::shared_ptr<const TaskSpec> task;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        Batch& b = batches_[batch_id];
        auto j = b.jobs.find(job.name);
        if (j == b.jobs.end()) continue;  // fetched already
        task_id = j->second;
        b.jobs.erase(j);
        auto t = in_flight_.find(task_id);
        if (t != in_flight_.end()) task = t->second;
      }
      progress = true;
      if (!task) continue;  // cancelled
      Outcome outcome;
      if (job.status == "error") {
        outcome = detail::rejected_outcome("BOINC gave up on job " + job.name, "boinc-remote");
      } else {
        try {
          const std::string bytes = poll_rpc_->workunit_file(job.name, 0);
          const std::string path = scratch_ + "/" + job.name + ".result";
          mw::detail::write_file_atomic(path, bytes, 0600);
          outcome = outcome_from_result_bundle(path, *task, "boinc-remote");
          ::unlink(path.c_str());
        } catch (const Error& e) {
          outcome = detail::rejected_outcome("cannot fetch the output of BOINC job " + job.name + ": " + e.what(),
                                             "boinc-remote");
        }
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (in_flight_.erase(task_id) == 0) continue;
        ++delivered_;
      }
      events_->task_finished(task_id, std::move(outcome));
      events_->worker_available();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (batches_[batch_id].jobs.empty()) {
      batches_.erase(batch_id);
      finished_batches_.push_back(batch_id);
    }
    return progress;
  }

  struct Batch {
    std::map<std::string, std::uint64_t> jobs;  // not yet fetched: job name → task id
  };

  Remote options_;
  std::string auth_;
  std::shared_ptr<const PrivateKey> key_;
  std::string worker_program_, batch_name_, scratch_;
  std::unique_ptr<RpcClient> submit_rpc_, poll_rpc_;
  std::map<std::string, std::string> program_names_;  // program path → staged name (submitter only)
  std::uint64_t chunks_ = 0;
  bool template_workaround_ = false;           // the submitter's
  std::atomic<bool> workaround_used_{false};   // the same, for status()
  InterfaceEvents* events_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false, poll_now_ = false;
  std::map<std::uint64_t, std::shared_ptr<const TaskSpec>> in_flight_;
  std::deque<std::shared_ptr<const TaskSpec>> to_submit_;
  std::vector<std::string> to_abort_;
  std::map<std::uint64_t, std::string> job_of_task_;
  std::map<std::int64_t, Batch> batches_;
  std::vector<std::int64_t> finished_batches_;
  std::uint64_t submitted_ = 0, delivered_ = 0;
  std::string last_error_;
  std::thread submit_thread_, poll_thread_;
};

}  // namespace

std::unique_ptr<Interface> Remote::make_interface() const {
  if (project_url.empty()) throw Error(Errc::usage, "Remote::project_url must name the BOINC project");
  if (app.empty()) throw Error(Errc::usage, "Remote::app must name the BOINC app");
  if (tasks_per_submit == 0 || max_in_flight == 0)
    throw Error(Errc::usage, "Remote::tasks_per_submit and Remote::max_in_flight must be positive");
  if (poll_initial_seconds <= 0 || poll_max_seconds < poll_initial_seconds)
    throw Error(Errc::usage, "Remote::poll_initial_seconds must be positive and at most poll_max_seconds");
  return std::make_unique<RemoteInterface>(*this, read_authenticator(auth_file, auth_env));
}

}  // namespace mw::boinc
