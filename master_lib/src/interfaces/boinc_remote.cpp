// mw::boinc::Remote — see mw/boinc/remote.h.
//
// Two threads besides the Master's, each with its own RpcClient (a libcurl
// handle is not shared between threads): the submitter turns queued tasks
// into staged files and batches and carries out cancellations; the poller
// follows the batches and fetches finished jobs' outputs.
#include "mw/boinc/remote.h"
#include "mw/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "boinc/remote_ledger.h"
#include "boinc/remote_rpc.h"
#include "mw/error.h"
#include "mw/hash.h"
#include "interfaces/boinc_common.h"
#include "master/task_fingerprint.h"
#include "mw/remote_task.h"
#include "util/elf_inspect.h"
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
using detail::RemoteLedger;
using detail::RemoteJob;
using detail::RpcClient;
using detail::RpcError;

class RemoteInterface final : public detail::QueuedBoincInterface {
 public:
  RemoteInterface(const Remote& options, std::string authenticator)
      : QueuedBoincInterface({"boinc-remote", options.app, options.max_in_flight, options.tasks_per_submit,
                              options.gather_seconds, "BOINC remote submission failed: "}),
        options_(options),
        auth_(std::move(authenticator)) {
    if (!options_.log) options_.log = [](const std::string& line) { mw::log(mw::LogLevel::info, "mw boinc remote: " + line); };
    options_.settings = resolve_replication(options_.settings);
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
    if (!options_.state_dir.empty()) open_ledger(options_.state_dir);
  }

  void use_work_dir(const std::string& work_dir) override {
    if (!ledger_) open_ledger(work_dir);
  }

  ~RemoteInterface() override {
    shutdown();
    mw::detail::remove_tree(scratch_);
  }

  std::string name() const override { return "boinc-remote"; }

 private:
  void after_stop() override {
    if (!options_.retire_batch_at_end) return;
    // This run's batches, and earlier runs' whose jobs are all over.
    std::set<std::int64_t> all(finished_batches_.begin(), finished_batches_.end());
    for (const auto& b : batches_) all.insert(b.first);
    for (std::int64_t id : retired_batches_) all.erase(id);
    try {
      if (ledger_)
        for (std::int64_t id : ledger_->idle_batches()) all.insert(id);
    } catch (const Error& e) {
      options_.log(e.what());
    }
    for (std::int64_t id : all) {
      try {
        submit_rpc_->retire_batch(id);
        if (ledger_) ledger_->batch_retired(id);
      } catch (const Error& e) {
        options_.log("could not retire batch " + std::to_string(id) + ": " + e.what());
      }
    }
  }

  void add_details(std::map<std::string, std::string>& details) const override {
    details["batches"] = std::to_string(batches_.size() + finished_batches_.size() + retired_batches_.size());
    details["uploaded_files"] = std::to_string(submit_rpc_->uploads());
    details["rpcs"] = std::to_string(submit_rpc_->rpcs() + poll_rpc_->rpcs());
    details["http_attempts"] = std::to_string(submit_rpc_->http_attempts() + poll_rpc_->http_attempts());
    details["template_workaround"] = workaround_used_ ? "yes" : "no";
    details["taken_up"] = std::to_string(taken_up_);
    details["outputs_from_ledger"] = std::to_string(outputs_from_ledger_);
    if (ledger_) details["ledger"] = ledger_->path();
  }

  // Tasks whose job was submitted: abort the jobs (one RPC).
  void cancel_submitted(const std::vector<std::uint64_t>& task_ids) override {
    std::vector<std::string> jobs;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::uint64_t id : task_ids) {
        auto job = job_of_task_.find(id);
        if (job != job_of_task_.end()) jobs.push_back(job->second);
      }
    }
    if (jobs.empty()) return;
    submit_rpc_->abort_jobs(jobs);
    if (ledger_)
      for (const auto& job : jobs) ledger_->job_state(job, RemoteLedger::JobState::done);
  }

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

  // A staged file: its content-hash name and where its bytes are.
  struct Staged {
    std::string name;
    std::string path;
  };

  Staged program_file(const TaskBuilder::ProgramFile& p) {
    if (p.path.empty()) return {"mwp_" + sha256_hex(p.bytes), ""};
    auto it = program_names_.find(p.path);
    if (it == program_names_.end()) {
      // Said once per program, before it is staged: volunteers have only
      // glibc, and a program needing more fails there at once (issue 17).
      const std::string warning = mw::detail::volunteer_program_warning(p.path);
      if (!warning.empty()) options_.log("warning: " + warning);
      it = program_names_.emplace(p.path, "mwp_" + sha256_file_hex(p.path)).first;
    }
    return {it->second, p.path};
  }

  // A task's job before it has a name: its files and estimates.
  struct Prepared {
    std::shared_ptr<const TaskSpec> task;
    RemoteJob job;
  };

  std::size_t submit_chunk(const std::vector<std::shared_ptr<const TaskSpec>>& chunk) override {
    std::map<std::uint64_t, std::string> fingerprints;
    std::vector<std::shared_ptr<const TaskSpec>> fresh;
    std::size_t taken_up = 0;
    for (const auto& task : chunk) {
      if (!ledger_) {
        fresh.push_back(task);
        continue;
      }
      std::string fp = mw::detail::task_fingerprint(*task);
      try {
        if (take_up(*task, fp)) {
          ++taken_up;
          continue;
        }
      } catch (const Error& e) {
        fail(task->id, std::string("BOINC remote: cannot take up the job recorded for this task: ") + e.what());
        continue;
      }
      fingerprints[task->id] = std::move(fp);
      fresh.push_back(task);
    }
    if (fresh.empty()) return taken_up;
    Files files;
    // BOINC checks a batch's jobs against one input template, so jobs with a
    // program file (mw_in_program.xml) and without (mw_in.xml) go in batches of their own.
    std::map<std::size_t, std::vector<Prepared>> by_file_count;
    for (const auto& task : fresh) {
      Prepared p = prepare(task, files);
      by_file_count[p.job.files.size()].push_back(std::move(p));
    }
    std::size_t submitted = taken_up;
    for (auto& [count, group] : by_file_count) {
      try {
        submit_group(group, files, fingerprints);
        submitted += group.size();
      } catch (const Error& e) {
        for (const auto& p : group)
          fail(p.task->id, queue_options().failure_prefix + e.what());
      }
    }
    return submitted;
  }

  // Bytes of the files a chunk stages, by staged name.
  struct Files {
    std::vector<std::string> names;            // distinct, in first-use order
    std::map<std::string, std::string> paths;  // name → file on disk
    std::map<std::string, std::string> in_memory;
  };

  Prepared prepare(const std::shared_ptr<const TaskSpec>& task, Files& files) {
    TaskBuilder builder = remote_task_builder(*task, worker_program_);
    // Built in memory: the bundle goes to the server, or nowhere when the
    // server has it already; a file (and its fsyncs) would only cost time.
    const std::string zip = builder.bundle_bytes_without_programs(*key_);
    Prepared p{task, {}};
    // BOINC takes a per-job rsc_fpops_est; the other bounds are the batch's.
    if (task->estimates.fpops && *task->estimates.fpops > 0)
      p.job.rsc_fpops_est = detail::settings_for_task(options_.settings, *task).rsc_fpops_est;
    std::vector<std::pair<Staged, const std::string*>> staged{{{"mwt_" + sha256_hex(zip), ""}, &zip}};
    const auto programs = builder.program_files();
    for (const auto& prog : programs) staged.push_back({program_file(prog), &prog.bytes});
    for (const auto& [s, bytes] : staged) {
      if (!files.paths.count(s.name) && !files.in_memory.count(s.name)) {
        files.names.push_back(s.name);
        if (!s.path.empty()) files.paths[s.name] = s.path;
        else files.in_memory[s.name] = *bytes;
      }
      p.job.files.push_back({"local_staged", s.name});
    }
    return p;
  }

  // A restarted master goes on numbering its chunks (batch names
  // "<batch_name>_<n>") from where the ledger's runs left off.
  void open_ledger(const std::string& dir) {
    ledger_ = std::make_unique<RemoteLedger>(dir);
    chunks_ = ledger_->batch_count();
  }

  // One BOINC batch: name it, record its jobs in the ledger, stage the
  // files, and let submit_batch make the batch with its jobs.
  void submit_group(std::vector<Prepared>& group, const Files& files,
                    const std::map<std::uint64_t, std::string>& fingerprints) {
    auto bytes_of = [&](const std::string& n) {
      auto p = files.paths.find(n);
      return p != files.paths.end() ? mw::detail::read_file(p->second) : files.in_memory.at(n);
    };
    const std::string name = fresh_batch_name();
    // Job names from the batch's name: they are known (and recorded) before
    // BOINC has made the batch and given it an id.
    const std::string stem = detail::job_name_stem(name) + "_";
    std::vector<RemoteJob> jobs;
    std::vector<RemoteLedger::NewJob> records;
    for (auto& p : group) {
      p.job.name = stem + std::to_string(p.task->id);
      jobs.push_back(p.job);
      if (ledger_) records.push_back({p.job.name, p.task->id, fingerprints.at(p.task->id)});
    }
    // Staged with a lease and tied to no batch yet (remote_rpc.h): a server
    // or user that cannot stage fails the chunk before anything is made.
    detail::stage_files(*submit_rpc_, files.names, bytes_of, 0, detail::staging_lease_end());
    // Recorded before submit_batch: a master killed while it waits for the
    // reply finds these jobs pending and asks the server for the batch by name.
    if (ledger_) ledger_->record_batch(name, records);
    std::int64_t batch_id = 0;
    try {
      batch_id = detail::submit_new_batch(*submit_rpc_, name, options_.app, options_.settings, jobs,
                                          template_workaround_, options_.log);
    } catch (const RpcError&) {
      // Refused: none of the jobs exists, nor the batch (submit_new_batch
      // retired it if BOINC had made it already).
      if (ledger_) ledger_->batch_refused(name);
      throw;
    }
    // (Any other error leaves them pending: the reply may have been lost
    // after the server made the jobs, and a later run will ask.)
    workaround_used_ = template_workaround_;
    if (ledger_) ledger_->batch_submitted(name, batch_id);
    tie_files(files.names, bytes_of, batch_id);
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& p : group) follow_locked(batch_id, p.job.name, p.task->id);
  }

  // Ties the files of a new batch to it, so that BOINC's job_file_deleter
  // keeps them past the staging lease. The jobs exist already: a failure
  // here is told, not the chunk's failure (the lease covers the files for
  // hours; a project without the batch_file_assoc table has no deleter that
  // could use the tie).
  void tie_files(const std::vector<std::string>& names, const std::function<std::string(const std::string&)>& bytes_of,
                 std::int64_t batch_id) {
    try {
      detail::stage_files(*submit_rpc_, names, bytes_of, batch_id);
    } catch (const Error& e) {
      if (!tie_warned_)
        options_.log("warning: the files of batch " + std::to_string(batch_id) +
                     " could not be tied to it (they are kept until their staging lease ends): " + e.what());
      tie_warned_ = true;
    }
  }

  // "<batch_name>_<n>" for the next chunk number n not used on the server
  // yet: BOINC finds a batch by name as the first row with that name, so a
  // name must be new for the ledger's recovery (and the clean-up of a
  // refused submission) to find this batch and no other. A name can be
  // taken by an earlier run of the same Remote::batch_name without the ledger.
  std::string fresh_batch_name() {
    for (int tries = 0;; ++tries) {
      const std::string name = batch_name_ + "_" + std::to_string(++chunks_);
      bool taken = true;
      try {
        taken = detail::find_batch(*submit_rpc_, name).has_value();
      } catch (const RpcError& e) {
        // Another user's batch of that name: taken as well.
        if (e.server_message().find("not owner") == std::string::npos) throw;
      }
      if (!taken) return name;
      if (tries == 63)
        throw Error(Errc::usage, "batch names " + batch_name_ + "_" + std::to_string(chunks_ - 63) + " to " + name +
                                     " are all taken on the server; choose another Remote::batch_name");
    }
  }

  // A batch newly followed is first polled poll_initial_seconds later: its
  // jobs were made a moment ago, and polling it at once (or polling every
  // batch whenever one is added) would cost a query_batch per chunk for nothing.
  void follow_locked(std::int64_t batch_id, const std::string& job, std::uint64_t task_id) {
    auto [it, added] = batches_.try_emplace(batch_id);
    it->second.jobs[job] = task_id;
    job_of_task_[task_id] = job;
    if (added) {
      it->second.interval = options_.poll_initial_seconds;
      it->second.next_poll = Clock::now() + seconds(options_.poll_initial_seconds);
      wake_.notify_all();  // the watcher may be sleeping past this batch's first poll
    }
  }

  // A task an earlier run of the master handed to BOINC (the ledger has a
  // live job for its id and fingerprint): follow that job, or hand over the
  // output already fetched. False when the task needs a new job.
  bool take_up(const TaskSpec& task, const std::string& fingerprint) {
    std::optional<RemoteLedger::Job> job = ledger_->find(task.id, fingerprint);
    if (!job) return false;
    if (job->state == RemoteLedger::JobState::pending) {
      const std::int64_t batch_id = server_batch(*job);
      if (batch_id == 0 || !server_jobs_[batch_id].count(job->name)) {
        ledger_->job_state(job->name, RemoteLedger::JobState::done);
        return false;
      }
      ledger_->job_state(job->name, RemoteLedger::JobState::submitted);
      job->state = RemoteLedger::JobState::submitted;
      job->batch_id = batch_id;
    }
    if (job->state == RemoteLedger::JobState::fetched) {
      hand_over(task, job->name, job->output);
      ++outputs_from_ledger_;
      return true;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    follow_locked(job->batch_id, job->name, task.id);
    ++taken_up_;
    return true;
  }

  // BOINC's id of the batch of pending job `job`, its job names in
  // server_jobs_; 0 when the server has no such batch (the submission never
  // got there: the ledger then has nothing of it left to retire). One
  // query_batch per batch and run: a pending batch's jobs no longer change.
  // The batch is asked for by name unless its id is known (a version 1
  // ledger's batches, made by create_batch).
  std::int64_t server_batch(const RemoteLedger::Job& job) {
    auto known = server_batches_.find(job.batch_name);
    if (known != server_batches_.end()) return known->second;
    std::int64_t id = 0;
    try {
      std::optional<RemoteBatchStatus> st;
      if (job.batch_id != 0) st = submit_rpc_->query_batch(job.batch_id);
      else st = detail::find_batch(*submit_rpc_, job.batch_name);
      if (st) {
        id = st->id;
        std::set<std::string>& names = server_jobs_[id];
        for (const auto& j : st->jobs) names.insert(j.name);
        ledger_->batch_found(job.batch_name, id);
      }
    } catch (const RpcError& e) {
      // "no such batch" by id: it is gone; then so are its jobs.
      options_.log("batch '" + job.batch_name + "' recorded in " + ledger_->path() + " is not on the server (" +
                   e.server_message() + "); its tasks are submitted again");
    }
    if (id == 0) {
      if (job.batch_id == 0)
        options_.log("batch '" + job.batch_name + "' recorded in " + ledger_->path() +
                     " was never made on the server; its tasks are submitted again");
      ledger_->batch_refused(job.batch_name);
    }
    server_batches_.emplace(job.batch_name, id);
    return id;
  }

  // Turns a job's output into the task's outcome and reports it; the ledger
  // then forgets the output (the Master has journaled it when task_finished returns).
  void hand_over(const TaskSpec& task, const std::string& job, const std::string& output) {
    const std::string path = scratch_ + "/" + job + ".result";
    Outcome outcome;
    try {
      mw::detail::write_file_atomic(path, output, 0600);
      outcome = outcome_from_result_bundle(path, task, "boinc-remote");
    } catch (const Error& e) {
      outcome = detail::rejected_outcome("the output of BOINC job " + job + " is unusable: " + e.what(),
                                         "boinc-remote");
    }
    ::unlink(path.c_str());
    if (claim(task.id)) report(task.id, std::move(outcome));
    if (ledger_) ledger_->job_state(job, RemoteLedger::JobState::done);
  }

  // Follows the batches: the watcher thread. Each batch has its own poll
  // time: poll_initial_seconds after it was followed or after a poll that saw
  // a job end, backing off by half again each quiet poll up to poll_max_seconds.
  void watch_loop() override {
    for (;;) {
      std::vector<std::int64_t> due;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
          if (stopped_) return;
          const auto now = Clock::now();
          auto next = now + seconds(options_.poll_max_seconds);
          for (const auto& [id, b] : batches_) {
            if (b.next_poll <= now) due.push_back(id);
            else next = std::min(next, b.next_poll);
          }
          if (!due.empty()) break;
          wake_.wait_until(lock, next);
        }
      }
      for (std::int64_t id : due) {
        bool progress = false;
        try {
          progress = poll_batch(id);
        } catch (const Error& e) {
          note_error(e.what());
        }
        std::lock_guard<std::mutex> lock(mutex_);
        auto b = batches_.find(id);
        if (b == batches_.end()) continue;  // all fetched
        b->second.interval = progress ? options_.poll_initial_seconds
                                      : std::min(b->second.interval * 1.5, options_.poll_max_seconds);
        b->second.next_poll = Clock::now() + seconds(b->second.interval);
      }
    }
  }

  // Returns true if a job of the batch ended since the last poll.
  bool poll_batch(std::int64_t batch_id) {
    const RemoteBatchStatus st = poll_rpc_->query_batch(batch_id);
    bool progress = false;
    for (const auto& job : st.jobs) {
      if (job.status != "done" && job.status != "error") continue;
      std::uint64_t task_id = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        auto b = batches_.find(batch_id);
        if (b == batches_.end()) break;
        auto j = b->second.jobs.find(job.name);
        if (j == b->second.jobs.end()) continue;  // fetched already
        task_id = j->second;
        b->second.jobs.erase(j);
      }
      const std::shared_ptr<const TaskSpec> task = in_flight(task_id);
      progress = true;
      try {
        if (!task) {  // cancelled
          if (ledger_) ledger_->job_state(job.name, RemoteLedger::JobState::done);
        } else if (job.status == "error") {
          reject(task_id, "BOINC gave up on job " + job.name);
          if (ledger_) ledger_->job_state(job.name, RemoteLedger::JobState::done);
        } else {
          fetch(*task, job);
        }
      } catch (const Error& e) {
        reject(task_id, e.what());
        if (ledger_) ledger_->job_state(job.name, RemoteLedger::JobState::done);
      }
    }
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto b = batches_.find(batch_id);
      if (b != batches_.end() && b->second.jobs.empty()) {
        batches_.erase(b);
        last = true;
      }
    }
    if (!last) return progress;
    // A resumed master follows a batch's jobs as it takes its tasks up, so
    // the jobs followed can all be over while the ledger still holds others
    // of the batch, not yet taken up: the batch stays (take_up follows it again).
    if (ledger_ && ledger_->has_live_jobs(batch_id)) return progress;
    // Every job of the batch is handed over: the server may drop its outputs
    // (retire_batch deletes results/<batch>) now rather than at shutdown.
    bool retired = false;
    if (options_.retire_batch_at_end) {
      try {
        poll_rpc_->retire_batch(batch_id);
        if (ledger_) ledger_->batch_retired(batch_id);
        retired = true;
      } catch (const Error& e) {
        options_.log("could not retire batch " + std::to_string(batch_id) + " (tried again at shutdown): " + e.what());
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (retired) retired_batches_.insert(batch_id);
    else finished_batches_.push_back(batch_id);
    return progress;
  }

  // A job that ended without a usable output: its task fails (status rejected).
  void reject(std::uint64_t task_id, const std::string& why) {
    if (claim(task_id)) report(task_id, detail::rejected_outcome(why, "boinc-remote"));
  }

  // Downloads a done job's output (once: the ledger keeps it until the
  // Master has it) and hands it over.
  void fetch(const TaskSpec& task, const detail::RemoteJobStatus& job) {
    std::string bytes;
    try {
      bytes = poll_rpc_->job_output(job);
    } catch (const Error& e) {
      throw Error(e.code(), "cannot fetch the output of BOINC job " + job.name + ": " + e.what());
    }
    if (ledger_) ledger_->fetched(job.name, bytes);
    hand_over(task, job.name, bytes);
  }

  using Clock = std::chrono::steady_clock;
  static Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  struct Batch {
    std::map<std::string, std::uint64_t> jobs;  // not yet fetched: job name → task id
    Clock::time_point next_poll;
    double interval = 0;
  };

  Remote options_;
  std::string auth_;
  std::shared_ptr<const PrivateKey> key_;
  std::string worker_program_, batch_name_, scratch_;
  std::unique_ptr<RpcClient> submit_rpc_, poll_rpc_;
  std::map<std::string, std::string> program_names_;  // program path → staged name (submitter only)
  std::uint64_t chunks_ = 0;
  std::unique_ptr<RemoteLedger> ledger_;
  std::map<std::string, std::int64_t> server_batches_;         // submitter only: batch name → id (0: none)
  std::map<std::int64_t, std::set<std::string>> server_jobs_;  // submitter only
  bool tie_warned_ = false;                                    // submitter only
  std::atomic<std::uint64_t> taken_up_{0}, outputs_from_ledger_{0};
  bool template_workaround_ = false;           // the submitter's
  std::atomic<bool> workaround_used_{false};   // the same, for status()

  // Under mutex_.
  std::map<std::uint64_t, std::string> job_of_task_;
  std::map<std::int64_t, Batch> batches_;
  std::vector<std::int64_t> finished_batches_;  // all fetched, not retired yet
  std::set<std::int64_t> retired_batches_;
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
