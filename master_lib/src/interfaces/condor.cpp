// mw::Condor — see mw/condor.h.
//
// Two threads besides the Master's: the submitter writes bundles and submit
// descriptions and runs condor_submit / condor_rm / condor_release (so
// execute_task and cancel_task never wait for HTCondor); the watcher follows
// the job event log and reports finished tasks.
#include "mw/condor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "interfaces/condor_event_log.h"
#include "interfaces/host_tally.h"
#include "mw/error.h"
#include "mw/remote_task.h"
#include "mw/signing.h"
#include "runner/process.h"
#include "util/fs.h"

namespace mw {
namespace {

using JobId = std::pair<long, long>;  // cluster, proc

constexpr const char* kBundleName = "task.zip";
constexpr const char* kResultName = "result.zip";
constexpr const char* kPublicKeyName = "task_sign_public.pem";

std::string job_text(const JobId& job) { return std::to_string(job.first) + "." + std::to_string(job.second); }

// A program name without '/' is looked up in PATH, as execvp would.
std::string resolve_program(const std::string& name, const char* what) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) != 0)
      throw Error(Errc::usage, std::string(what) + " '" + name + "' is not an executable file");
    return name;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw Error(Errc::usage, std::string(what) + " '" + name + "' was not found in PATH");
}

// Values written into a submit description must stay on one line and not
// break HTCondor's quoting or its comma-separated file lists.
void check_submit_value(const std::string& value, const char* what) {
  if (value.find_first_of("\n\r\",") != std::string::npos)
    throw Error(Errc::usage, std::string(what) + " '" + value +
                                 "' contains a newline, a double quote or a comma, which a submit "
                                 "description cannot carry");
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

std::string tail_of_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

class CondorInterface final : public Interface {
 public:
  explicit CondorInterface(const Condor& options) : options_(options), key_(PrivateKey::generate()) {
    condor_submit_ = resolve_program(options_.condor_submit, "Condor::condor_submit");
    condor_rm_ = resolve_program(options_.condor_rm, "Condor::condor_rm");
    std::string run_task = options_.run_task_program;
    if (run_task.empty()) {
      const char* env = std::getenv("MW_RUN_TASK");
      run_task = env && *env ? env : "mw-run-task";
    }
    run_task_ = resolve_program(run_task, "Condor::run_task_program");
    check_submit_value(run_task_, "Condor::run_task_program");
    worker_program_ =
        options_.worker_program.empty() ? detail::self_program_path() : options_.worker_program;
    if (options_.work_dir.empty()) {
      work_dir_ = detail::make_temp_dir(detail::default_temp_root(), "mw-condor-");
      own_work_dir_ = !options_.keep_work_dir;
    } else {
      work_dir_ = options_.work_dir;
      if (::mkdir(work_dir_.c_str(), 0700) != 0 && errno != EEXIST)
        throw Error(Errc::io, "cannot create Condor::work_dir '" + work_dir_ + "': " + detail::errno_text(errno));
    }
    check_submit_value(work_dir_, "Condor::work_dir");
    for (const auto& line : options_.submit_lines)
      if (line.find_first_of("\n\r") != std::string::npos)
        throw Error(Errc::usage, "Condor::submit_lines: '" + line + "' spans several lines");
    log_path_ = work_dir_ + "/jobs.log";
    detail::write_file_atomic(work_dir_ + "/" + kPublicKeyName, key_.public_key().to_pem());
  }

  ~CondorInterface() override { shutdown(); }

  std::string name() const override { return "condor"; }

  void start(InterfaceEvents& events) override {
    events_ = &events;
    submit_thread_ = std::thread([this] { submit_loop(); });
    watch_thread_ = std::thread([this] { watch_loop(); });
  }

  std::optional<WorkerId> reserve_worker() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_flight_.size() >= options_.max_in_flight) return std::nullopt;
    return WorkerId{0};  // HTCondor's slots are the schedd's to pick
  }

  void execute_task(WorkerId, std::shared_ptr<const TaskSpec> task) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_[task->id].task = task;
      to_submit_.push_back(task);
    }
    wake_.notify_all();
  }

  void cancel_task(std::uint64_t task_id) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = in_flight_.find(task_id);
      if (it == in_flight_.end()) return;
      left_host(it->second);
      if (it->second.job) {
        to_rm_.push_back(*it->second.job);
        by_job_.erase(*it->second.job);  // its 009 event is not reported
      }
      // A task the submitter holds right now is removed when its job id is known.
      in_flight_.erase(it);
      for (auto q = to_submit_.begin(); q != to_submit_.end(); ++q) {
        if ((*q)->id == task_id) {
          to_submit_.erase(q);
          break;
        }
      }
    }
    wake_.notify_all();
  }

  void each_worker(const Function& function, const Args&) override {
    throw Error(Errc::usage, "each_worker(" + function.name + ") is not available on HTCondor: "
                             "each task is a job on whichever slot the schedd picks; pass what every "
                             "task needs as its arguments instead");
  }

  InterfaceStatus status() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    InterfaceStatus st;
    WorkerStatus w;
    w.name = "condor";
    w.state = in_flight_.empty() ? "idle" : "busy";
    w.tasks_done = finished_;
    st.workers.push_back(w);
    std::size_t running = 0;
    for (const auto& [id, job] : in_flight_) running += job.running ? 1 : 0;
    st.details["work_dir"] = work_dir_;
    st.details["event_log"] = log_path_;
    st.details["submitted"] = std::to_string(submitted_);
    st.details["clusters"] = std::to_string(clusters_);
    st.details["running"] = std::to_string(running);
    st.details["finished"] = std::to_string(finished_);
    st.details["held"] = std::to_string(held_);
    st.details["released"] = std::to_string(released_);
    st.details["evicted"] = std::to_string(evicted_);
    st.details["waiting_submission"] = std::to_string(to_submit_.size());
    hosts_.fill(st);
    if (!last_error_.empty()) st.details["last_error"] = last_error_;
    return st;
  }

  void shutdown() override {
    std::vector<JobId> leftover;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      for (const auto& [id, job] : in_flight_)
        if (job.job) leftover.push_back(*job.job);
      for (const auto& job : to_rm_) leftover.push_back(job);
      in_flight_.clear();
    }
    wake_.notify_all();
    if (submit_thread_.joinable()) submit_thread_.join();
    if (watch_thread_.joinable()) watch_thread_.join();
    for (const auto& job : leftover) run_tool(condor_rm_, job);  // nobody waits for them any more
    if (own_work_dir_) detail::remove_tree(work_dir_);
  }

 private:
  struct Job {
    std::shared_ptr<const TaskSpec> task;
    std::optional<JobId> job;
    unsigned releases = 0;
    bool running = false;
    std::optional<detail::HostRef> host;  // where the last 001 event put it
  };

  // A 001 event's machine as a host of the status page: the machine name
  // when HTCondor gives one (several slots of a machine are one host), else
  // its address.
  static std::optional<detail::HostRef> host_of(const detail::CondorEvent& ev) {
    const detail::CondorExecuteHost h = detail::condor_execute_host(ev);
    detail::HostRef ref;
    ref.id = !h.machine.empty() ? h.machine : h.address;
    if (ref.id.empty()) return std::nullopt;
    ref.name = ref.id;
    ref.details = h.machine.empty() || h.address.empty() ? std::string() : h.address;
    return ref;
  }

  // The job left its host without ending (evicted, held): no longer running there.
  void left_host(Job& entry) {
    if (entry.running && entry.host) hosts_.running(*entry.host, -1, detail::unix_now());
    entry.running = false;
  }

  std::string task_dir(std::uint64_t id) const { return work_dir_ + "/t" + std::to_string(id); }

  // condor_rm / condor_release on one job; a failure is only remembered.
  void run_tool(const std::string& program, const JobId& job) {
    detail::ProcessSpec spec;
    spec.argv = {program, job_text(job)};
    spec.cwd = work_dir_;
    spec.contain_tree = false;  // HTCondor's tools may hand work to daemons
    spec.limits.wall_seconds = 120;
    const auto out = detail::run_process(spec);
    if (out.ending != detail::ProcessEnding::exited || out.exit_code != 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      last_error_ = program + " " + job_text(job) + " failed: " +
                    (out.exec_error.empty() ? out.stderr_data.substr(0, 500) : out.exec_error);
    }
  }

  void finish(std::uint64_t id, Outcome outcome) {
    events_->task_finished(id, std::move(outcome));
    events_->worker_available();
  }

  Outcome failure(ResultStatus status, std::string reason) {
    Outcome o;
    o.status = status;
    o.reason = std::move(reason);
    o.worker = "condor";
    return o;
  }

  // The submit description for `chunk`, whose bundles are written.
  std::string submit_description(const std::vector<std::shared_ptr<const TaskSpec>>& chunk) const {
    std::ostringstream s;
    s << "# written by mwkit's HTCondor interface\n"
      << "universe = vanilla\n"
      << "executable = " << run_task_ << "\n"
      << "should_transfer_files = YES\n"
      << "when_to_transfer_output = ON_EXIT\n"
      << "log = " << log_path_ << "\n"
      << "request_cpus = 1\n"
      << "output = stdout.txt\n"
      << "error = stderr.txt\n"
      << "arguments = \"" << kBundleName << " --pub " << kPublicKeyName << " --out " << kResultName << "\"\n";
    for (const auto& line : options_.submit_lines) s << line << "\n";
    for (const auto& task : chunk) {
      const std::string dir = task_dir(task->id);
      std::uint64_t bundle_bytes = 0;
      struct stat st {};
      if (::stat((dir + "/" + kBundleName).c_str(), &st) == 0) bundle_bytes = static_cast<std::uint64_t>(st.st_size);
      std::uint64_t memory = std::uint64_t{options_.default_memory_mib} << 20;
      if (task->limits.memory_bytes) memory = *task->limits.memory_bytes;
      else if (task->estimates.memory_bytes) memory = *task->estimates.memory_bytes;
      std::uint64_t disk = bundle_bytes;
      if (task->estimates.disk_bytes) disk += *task->estimates.disk_bytes;
      else if (task->limits.disk_bytes) disk += *task->limits.disk_bytes;
      s << "\n# task " << task->id << "\n"
        << "initialdir = " << dir << "\n"
        << "transfer_input_files = " << kBundleName << "," << work_dir_ << "/" << kPublicKeyName << "\n"
        << "request_memory = " << std::max<std::uint64_t>(1, ceil_div(memory, 1 << 20)) << "\n"
        << "request_disk = " << std::max<std::uint64_t>(1024, ceil_div(disk, 1024) + 1024) << "\n"
        << "queue\n";
    }
    return s.str();
  }

  // An exec task's bare program name ("wc") is looked up in this host's PATH:
  // the execute node is expected to have it at the same place (or ship it).
  static std::shared_ptr<const TaskSpec> with_host_program(const std::shared_ptr<const TaskSpec>& task) {
    if (task->kind != TaskSpec::Kind::exec || task->ship_program || task->program.find('/') != std::string::npos)
      return task;
    auto copy = std::make_shared<TaskSpec>(*task);
    copy->program = resolve_program(task->program, ("program of task " + std::to_string(task->id)).c_str());
    return copy;
  }

  void submit_loop() {
    for (;;) {
      std::vector<std::shared_ptr<const TaskSpec>> chunk;
      std::vector<JobId> removals, releases;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopped_ || !to_submit_.empty() || !to_rm_.empty() || !to_release_.empty(); });
        if (stopped_) return;
        while (!to_submit_.empty() && chunk.size() < options_.tasks_per_submit) {
          chunk.push_back(to_submit_.front());
          to_submit_.pop_front();
        }
        removals.swap(to_rm_);
        releases.swap(to_release_);
      }
      for (const auto& job : removals) run_tool(condor_rm_, job);
      for (const auto& job : releases) run_tool(condor_release_path(), job);
      if (!chunk.empty()) submit_chunk(chunk);
    }
  }

  const std::string& condor_release_path() {
    if (condor_release_.empty()) {
      try {
        condor_release_ = resolve_program(options_.condor_release, "Condor::condor_release");
      } catch (const Error&) {
        condor_release_ = options_.condor_release;  // run_tool reports the exec failure
      }
    }
    return condor_release_;
  }

  void submit_chunk(std::vector<std::shared_ptr<const TaskSpec>> chunk) {
    // Bundles first; a task that cannot be expressed fails alone.
    std::vector<std::shared_ptr<const TaskSpec>> ready;
    for (const auto& task : chunk) {
      try {
        const std::string dir = task_dir(task->id);
        detail::remove_tree(dir);
        if (::mkdir(dir.c_str(), 0700) != 0)
          throw Error(Errc::io, "cannot create '" + dir + "': " + detail::errno_text(errno));
        remote_task_builder(*with_host_program(task), worker_program_).write_bundle(dir + "/" + kBundleName, key_);
        ready.push_back(task);
      } catch (const Error& e) {
        drop_and_fail(task->id, failure(ResultStatus::rejected, std::string("cannot prepare the HTCondor job: ") + e.what()));
      }
    }
    if (ready.empty()) return;
    const std::string submit_path = work_dir_ + "/submit-" + std::to_string(ready.front()->id) + ".sub";
    std::string error;
    long cluster = -1;
    try {
      detail::write_file_atomic(submit_path, submit_description(ready));
      detail::ProcessSpec spec;
      spec.argv = {condor_submit_, submit_path};
      spec.cwd = work_dir_;
      // condor_submit hands the jobs to the schedd (the tests' double to a
      // daemon it starts): what it leaves running is not ours to kill.
      spec.contain_tree = false;
      spec.limits.wall_seconds = 600;
      const auto out = detail::run_process(spec);
      if (out.ending != detail::ProcessEnding::exited || out.exit_code != 0) {
        error = "condor_submit " + submit_path + " failed (" +
                (out.exec_error.empty() ? "exit " + std::to_string(out.exit_code) : out.exec_error) +
                "): " + out.stderr_data.substr(0, 2000);
      } else {
        cluster = parse_cluster(out.stdout_data, ready.size(), error);
        if (cluster < 0) error = "condor_submit " + submit_path + ": " + error;
      }
    } catch (const Error& e) {
      error = std::string("condor_submit ") + submit_path + ": " + e.what();
    }
    if (cluster < 0) {
      for (const auto& task : ready) drop_and_fail(task->id, failure(ResultStatus::rejected, error));
      return;
    }
    std::vector<CondorEventPtr> early;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++clusters_;
      submitted_ += ready.size();
      known_clusters_.insert(cluster);
      for (std::size_t proc = 0; proc < ready.size(); ++proc) {
        const JobId job{cluster, static_cast<long>(proc)};
        auto it = in_flight_.find(ready[proc]->id);
        if (it == in_flight_.end()) {
          to_rm_.push_back(job);  // cancelled while being submitted
          continue;
        }
        it->second.job = job;
        by_job_[job] = ready[proc]->id;
      }
      // Events the watcher read before the cluster id was known.
      for (auto e = early_.begin(); e != early_.end();) {
        if ((*e)->cluster == cluster) {
          early.push_back(*e);
          e = early_.erase(e);
        } else {
          ++e;
        }
      }
    }
    wake_.notify_all();
    for (const auto& e : early) handle(*e);
  }

  static long parse_cluster(const std::string& out, std::size_t jobs, std::string& error) {
    // "N job(s) submitted to cluster C."
    const std::string key = "submitted to cluster ";
    const auto at = out.find(key);
    if (at == std::string::npos) {
      error = "no 'submitted to cluster' line in its output: " + out.substr(0, 500);
      return -1;
    }
    const long cluster = std::atol(out.c_str() + at + key.size());
    const auto line_start = out.rfind('\n', at);
    const long count = std::atol(out.c_str() + (line_start == std::string::npos ? 0 : line_start + 1));
    if (cluster <= 0 || count != static_cast<long>(jobs)) {
      error = "expected " + std::to_string(jobs) + " jobs in one cluster, read: " + out.substr(0, 500);
      return -1;
    }
    return cluster;
  }

  void drop_and_fail(std::uint64_t id, Outcome outcome) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = in_flight_.find(id);
      if (it == in_flight_.end()) return;  // cancelled meanwhile
      if (it->second.job) by_job_.erase(*it->second.job);
      in_flight_.erase(it);
      ++finished_;
      if (outcome.status != ResultStatus::success) last_error_ = outcome.reason;
    }
    finish(id, std::move(outcome));
  }

  using CondorEventPtr = std::shared_ptr<detail::CondorEvent>;

  void handle(const detail::CondorEvent& ev) {
    const JobId job{ev.cluster, ev.proc};
    std::uint64_t id = 0;
    std::shared_ptr<const TaskSpec> task;
    std::optional<detail::HostRef> ran_on;
    bool was_running = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto j = by_job_.find(job);
      if (j == by_job_.end()) {
        const bool kept = ev.code == 1 || ev.code == 4 || ev.code == 5 || ev.code == 9 || ev.code == 12;
        if (kept && !known_clusters_.count(ev.cluster))
          early_.push_back(std::make_shared<detail::CondorEvent>(ev));
        return;  // not ours yet, or a cancelled task's job
      }
      id = j->second;
      Job& entry = in_flight_.at(id);
      task = entry.task;
      switch (ev.code) {
        case 1:
          left_host(entry);  // a second 001 without a 004 between: trust the latest
          entry.host = host_of(ev);
          entry.running = true;
          if (entry.host) hosts_.running(*entry.host, +1, detail::unix_now());
          return;
        case 4:
          left_host(entry);
          entry.host.reset();  // what happens next is the next host's (or nobody's) doing
          ++evicted_;
          return;
        case 13: ++released_; return;
        case 12:
          ++held_;
          if (!entry.running) entry.host.reset();  // held before it ran again: not that host's doing
          left_host(entry);
          if (options_.hold_policy == Condor::HoldPolicy::release && entry.releases < options_.max_releases) {
            ++entry.releases;
            to_release_.push_back(job);
            wake_.notify_all();
            return;
          }
          to_rm_.push_back(job);  // do not leave it in the queue
          wake_.notify_all();
          break;
        case 5:
        case 9:
          break;
        default:
          return;
      }
      ran_on = entry.host;
      was_running = entry.running;
      by_job_.erase(j);
      in_flight_.erase(id);
      ++finished_;
    }
    const std::string worker = "condor:" + job_text(job);
    Outcome outcome;
    if (ev.code == 12) {
      outcome = failure(ResultStatus::rejected, "HTCondor held job " + job_text(job) + ": " +
                                                    (ev.reason().empty() ? "no reason given" : ev.reason()));
    } else if (ev.code == 9) {
      outcome = failure(ResultStatus::rejected, "HTCondor aborted job " + job_text(job) +
                                                    (ev.reason().empty() ? "" : ": " + ev.reason()));
    } else {
      const std::string dir = task_dir(id);
      const std::string result = dir + "/" + kResultName;
      if (detail::path_exists(result)) {
        outcome = outcome_from_result_bundle(result, *task, worker);
      } else {
        const std::string how = ev.signal ? "signal " + std::to_string(*ev.signal)
                                          : "return value " + std::to_string(ev.return_value.value_or(-1));
        outcome = failure(ev.signal ? ResultStatus::signaled : ResultStatus::nonzero_exit,
                          "HTCondor job " + job_text(job) + " ended with " + how + " and sent back no " +
                              kResultName);
        outcome.exit_code = ev.return_value;
        outcome.signal = ev.signal;
        outcome.stderr_tail = tail_of_file(dir + "/stderr.txt", 4096);
      }
    }
    outcome.worker = ran_on ? worker + " on " + ran_on->name : worker;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (outcome.status != ResultStatus::success) last_error_ = outcome.reason;
      // A job held or aborted before it ever ran is no host's doing.
      if (ran_on) hosts_.ended(*ran_on, outcome.status != ResultStatus::success, was_running, detail::unix_now());
    }
    finish(id, std::move(outcome));
  }

  void watch_loop() {
    detail::CondorEventLogParser parser;
    std::ifstream log;
    std::string buf(64 * 1024, '\0');
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopped_) return;
      }
      if (!log.is_open()) log.open(log_path_, std::ios::binary);  // appears at the first submit
      bool read_any = false;
      if (log.is_open()) {
        log.clear();
        log.read(&buf[0], static_cast<std::streamsize>(buf.size()));
        const auto n = log.gcount();
        if (n > 0) {
          read_any = true;
          for (const auto& ev : parser.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)))) handle(ev);
          if (!parser.last_error().empty()) {
            std::lock_guard<std::mutex> lock(mutex_);
            last_error_ = parser.last_error();
          }
        }
      }
      if (!read_any)
        std::this_thread::sleep_for(std::chrono::duration<double>(options_.poll_seconds));
    }
  }

  Condor options_;
  std::string condor_submit_, condor_rm_, condor_release_, run_task_, worker_program_;
  std::string work_dir_, log_path_;
  bool own_work_dir_ = false;
  PrivateKey key_;
  InterfaceEvents* events_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::map<std::uint64_t, Job> in_flight_;
  std::map<JobId, std::uint64_t> by_job_;
  std::set<long> known_clusters_;
  std::vector<CondorEventPtr> early_;
  std::deque<std::shared_ptr<const TaskSpec>> to_submit_;
  std::vector<JobId> to_rm_, to_release_;
  std::uint64_t submitted_ = 0, clusters_ = 0, finished_ = 0, held_ = 0, released_ = 0, evicted_ = 0;
  detail::HostTally hosts_{true};  // under mutex_
  std::string last_error_;
  std::thread submit_thread_, watch_thread_;
};

}  // namespace

std::unique_ptr<Interface> Condor::make_interface() const {
  if (max_in_flight == 0 || tasks_per_submit == 0)
    throw Error(Errc::usage, "Condor::max_in_flight and Condor::tasks_per_submit must be positive");
  if (poll_seconds <= 0) throw Error(Errc::usage, "Condor::poll_seconds must be positive");
  return std::make_unique<CondorInterface>(*this);
}

}  // namespace mw
