// The MPI interface, master side: starts the Open MPI job, relays tasks to its
// ranks through rank 0 over a Unix socket, and restarts the job when a rank
// dies (see mw/mpi.h for what Open MPI allows and what this does about it).
//
// Threads: the Master's dispatcher calls reserve_worker/execute_task; one
// supervisor thread owns the job (accepts rank 0's connection, reads its
// frames, restarts the job); one waiter thread per job runs mpirun through the
// runner's process layer and collects its exit and output.
#include "mw/mpi.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "interfaces/mpi_protocol.h"
#include "master/frames.h"
#include "master/journal.h"
#include "mw/error.h"
#include "runner/process.h"
#include "util/fs.h"
#include "util/termination.h"

namespace mw {
namespace {

using namespace detail;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string self_program() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error(Errc::system, "cannot find this program's path in /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

// `name` as given when it has a slash, else the first executable of that name
// on $PATH (the process layer execs a path, not a name).
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = join_path(end > start ? dirs.substr(start, end - start) : ".", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw Error(Errc::usage, "MPI interface: cannot find '" + name + "' on PATH (install openmpi-bin, or set Mpi::mpirun)");
}

// Sends all of `bytes` on a socket; false when the peer is gone (no SIGPIPE).
bool send_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// The rank Open MPI names when it aborts a job because a process died, from
// "mpirun noticed that process rank K with PID ... exited on signal ...".
std::optional<unsigned> dead_rank_in(const std::string& mpirun_output, std::string& line) {
  static const std::regex noticed("mpirun noticed that process rank ([0-9]+)[^\n]*");
  std::smatch m;
  if (!std::regex_search(mpirun_output, m, noticed)) return std::nullopt;
  line = m.str(0);
  return static_cast<unsigned>(std::stoul(m.str(1)));
}

struct Rank {
  bool ready = false;
  std::string host;
  long pid = 0;
  std::map<std::uint64_t, std::shared_ptr<const TaskSpec>> inflight;
  std::map<std::uint64_t, Clock::time_point> started;
  std::uint64_t tasks_done = 0;
  double busy_seconds = 0;
};

struct Delivery {
  std::uint64_t id;
  Outcome outcome;
};

class MpiInterface final : public Interface {
 public:
  explicit MpiInterface(Mpi config) : config_(std::move(config)) {
    if (config_.workers == 0) throw Error(Errc::usage, "mw::Mpi: workers must be at least 1");
    if (config_.pipeline_depth == 0) config_.pipeline_depth = 1;
    if (config_.worker_program.empty()) config_.worker_program = self_program();
    if (config_.mpi_worker.empty()) {
      const char* env = std::getenv("MW_MPI_WORKER");
      const std::string installed = installed_helper_program("mw-mpi-worker");
      config_.mpi_worker = env && *env ? env : !installed.empty() ? installed : "mw-mpi-worker";
    }
    if (config_.scratch_root.empty()) config_.scratch_root = default_temp_root();
    ranks_.resize(config_.workers);
  }

  ~MpiInterface() override { shutdown(); }

  std::string name() const override { return "mpi"; }

  void start(InterfaceEvents& events) override {
    events_ = &events;
    config_.mpirun = find_program(config_.mpirun);
    dir_ = std::make_unique<TempDir>(default_temp_root(), "mw-mpi-");
    // Ctrl-C or SIGTERM to the master: the job is stopped as at a normal end
    // (ranks stop their tasks and remove their scratch, mpirun its session
    // directory; the process layer kills whatever is left of mpirun's tree)
    // and the socket directory is removed.
    termination_id_ = add_termination_cleanup([this](int) { shutdown(); });
    socket_path_ = join_path(dir_->path(), "master.sock");
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof addr.sun_path)
      throw Error(Errc::usage, "MPI interface: socket path too long: " + socket_path_);
    std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 4) != 0)
      throw Error(Errc::system, "MPI interface: cannot listen on " + socket_path_ + ": " + errno_text(errno));
    int wake[2];
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
      throw Error(Errc::system, "MPI interface: cannot make a pipe: " + errno_text(errno));
    wake_read_ = wake[0];
    wake_write_ = wake[1];
    supervisor_ = std::thread([this] { supervise(); });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return first_settled_; });
    if (down_) {
      const std::string reason = down_reason_;
      lock.unlock();
      shutdown();
      throw Error(Errc::system, "MPI interface: " + reason);
    }
  }

  std::optional<WorkerId> reserve_worker() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_) return WorkerId{0};  // execute_task fails the task at once
    const std::size_t n = ranks_.size();
    std::optional<WorkerId> best;
    std::size_t best_load = config_.pipeline_depth;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (next_ + k) % n;
      if (!ranks_[i].ready || ranks_[i].inflight.size() >= best_load) continue;
      best = static_cast<WorkerId>(i);
      best_load = ranks_[i].inflight.size();
      if (best_load == 0) break;
    }
    if (best) next_ = (*best + 1) % n;
    return best;
  }

  void execute_task(WorkerId worker, std::shared_ptr<const TaskSpec> task) override {
    std::string frame;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!down_) {
        Rank& r = ranks_.at(worker);
        r.inflight[task->id] = task;
        r.started[task->id] = Clock::now();
        frame = encode_frame(FrameType::mpi, encode_mpi_frame(worker + 1, MpiKind::task, encode_task_spec(*task)));
      }
    }
    if (frame.empty()) {
      Outcome outcome;
      outcome.status = ResultStatus::signaled;
      outcome.reason = "the MPI job is down: " + down_reason_copy();
      events_->task_finished(task->id, std::move(outcome));
      events_->worker_available();
      return;
    }
    send_to_job(frame);  // if the job died meanwhile, the restart sends it again
  }

  void cancel_task(std::uint64_t task_id) override {
    std::string frame;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (std::size_t i = 0; i < ranks_.size(); ++i) {
        if (!ranks_[i].inflight.erase(task_id)) continue;
        ranks_[i].started.erase(task_id);
        frame = encode_frame(FrameType::mpi, encode_mpi_frame(static_cast<std::uint32_t>(i + 1), MpiKind::cancel,
                                                                encode_values(task_id)));
        break;
      }
    }
    if (!frame.empty()) send_to_job(frame);
  }

  void each_worker(const Function& function, const Args& arguments) override {
    std::uint64_t id = 0;
    std::vector<std::string> frames;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = next_init_id_++;
      inits_.push_back({id, function.name, arguments.bytes});
      for (std::size_t i = 0; i < ranks_.size(); ++i) {
        if (!ranks_[i].ready) continue;  // it gets every init when it becomes ready
        frames.push_back(init_frame_locked(static_cast<std::uint32_t>(i + 1), inits_.back()));
        init_waiting_[id].push_back(static_cast<std::uint32_t>(i + 1));
      }
    }
    for (const auto& f : frames) send_to_job(f);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stopping_ || down_ || init_waiting_[id].empty(); });
    init_waiting_.erase(id);
    auto failed = init_failures_.find(id);
    if (failed != init_failures_.end())
      throw Error(Errc::task_failed, "each_worker: " + function.name + " failed: " + failed->second);
  }

  InterfaceStatus status() const override {
    std::lock_guard<std::mutex> lock(mu_);
    InterfaceStatus st;
    for (std::size_t i = 0; i < ranks_.size(); ++i) {
      const Rank& r = ranks_[i];
      WorkerStatus w;
      w.name = "rank-" + std::to_string(i + 1);
      if (!r.host.empty()) w.name += "@" + r.host + " (pid " + std::to_string(r.pid) + ")";
      w.tasks_done = r.tasks_done;
      w.busy_seconds = r.busy_seconds;
      if (!r.inflight.empty()) w.task = r.inflight.begin()->first;
      w.state = down_ ? "down" : !r.ready ? "starting" : r.inflight.empty() ? "idle" : "busy";
      st.workers.push_back(std::move(w));
    }
    st.details["ranks"] = std::to_string(ranks_.size() + 1);
    st.details["init_seconds"] = std::to_string(init_seconds_);
    st.details["job_restarts"] = std::to_string(restarts_);
    st.details["pipeline_depth"] = std::to_string(config_.pipeline_depth);
    st.details["mpirun"] = config_.mpirun;
    st.details["mpi_worker"] = config_.mpi_worker;
    if (down_) st.details["down_reason"] = down_reason_;
    return st;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = stopping_ = true;
    }
    cv_.notify_all();
    // Rank 0 passes the stop on to every rank; closing the socket would too.
    send_to_job(encode_frame(FrameType::mpi, encode_mpi_frame(0, MpiKind::stop, "")));
    wake();
    if (supervisor_.joinable()) supervisor_.join();
    for (int* fd : {&listen_fd_, &wake_read_, &wake_write_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    dir_.reset();
    if (termination_id_) remove_termination_cleanup(termination_id_);
  }

 private:
  struct Init {
    std::uint64_t id;
    std::string function, args;
  };

  std::string down_reason_copy() {
    std::lock_guard<std::mutex> lock(mu_);
    return down_reason_;
  }

  std::string init_frame_locked(std::uint32_t rank, const Init& init) {
    return encode_frame(FrameType::mpi,
                        encode_mpi_frame(rank, MpiKind::init, encode_values(init.id, init.function, init.args)));
  }

  void wake() {
    if (wake_write_ >= 0) (void)!::write(wake_write_, "x", 1);
  }

  void send_to_job(const std::string& frame) {
    std::lock_guard<std::mutex> lock(send_mu_);
    if (sock_ >= 0) send_all(sock_, frame);  // a failure means the job ended: the supervisor sees it
  }

  // --- the job ------------------------------------------------------------------
  std::vector<std::string> mpirun_argv() const {
    std::vector<std::string> argv{config_.mpirun};
    if (geteuid() == 0) argv.push_back("--allow-run-as-root");
    if (config_.oversubscribe) argv.push_back("--oversubscribe");
    if (!config_.hostfile.empty()) {
      argv.push_back("--hostfile");
      argv.push_back(config_.hostfile);
    }
    argv.insert(argv.end(), config_.mpirun_args.begin(), config_.mpirun_args.end());
    argv.insert(argv.end(), {"-n", std::to_string(config_.workers + 1), config_.mpi_worker, "--socket",
                             socket_path_, "--program", config_.worker_program, "--scratch",
                             config_.scratch_root});
    return argv;
  }

  void supervise() {
    for (;;) {
      const std::string output = run_job();
      std::vector<Delivery> failed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) break;
        job_ended_locked(output, failed);
      }
      cv_.notify_all();
      for (auto& d : failed) events_->task_finished(d.id, std::move(d.outcome));
      if (!failed.empty()) events_->worker_available();
      std::lock_guard<std::mutex> lock(mu_);
      if (down_ || stopping_) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    first_settled_ = true;
    cv_.notify_all();
  }

  // Runs one mpirun until it ends; returns what it printed (the tails).
  std::string run_job() {
    ProcessSpec spec;
    spec.argv = mpirun_argv();
    spec.cwd = dir_->path();
    spec.stdout_cap = 64 << 10;
    spec.stderr_cap = 64 << 10;
    std::mutex job_mu;
    bool job_done = false;
    int job_pid = 0;
    ProcessOutcome job;
    const auto started = Clock::now();
    std::thread waiter([&] {
      spec.on_started = [&](int pid) {
        std::lock_guard<std::mutex> lock(job_mu);
        job_pid = pid;
      };
      ProcessOutcome o;
      try {
        o = run_process(spec);
      } catch (const Error& e) {
        o.ending = ProcessEnding::exec_failed;
        o.exec_error = e.what();
      }
      {
        std::lock_guard<std::mutex> lock(job_mu);
        job = std::move(o);
        job_done = true;
      }
      wake();
    });
    auto done = [&] {
      std::lock_guard<std::mutex> lock(job_mu);
      return job_done;
    };
    auto signal_job = [&](int sig) {
      std::lock_guard<std::mutex> lock(job_mu);
      if (job_pid > 0 && !job_done) kill(-job_pid, sig);
    };
    std::string why_killed;
    auto check_start_timeout = [&] {
      if (!why_killed.empty() || all_ready()) return;
      if (seconds_since(started) > config_.start_timeout_seconds) {
        why_killed = "the ranks were not all ready after " + std::to_string(config_.start_timeout_seconds) + " s";
        signal_job(SIGTERM);
      }
    };

    // Rank 0 connects back.
    int sock = -1;
    while (sock < 0 && !done() && !is_stopping()) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
      if (poll(fds, 2, 100) > 0) {
        if (fds[1].revents) drain_wake();
        if (fds[0].revents) sock = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      }
      check_start_timeout();
    }
    if (sock >= 0) {
      {
        std::lock_guard<std::mutex> lock(send_mu_);
        sock_ = sock;
      }
      if (is_stopping()) send_to_job(encode_frame(FrameType::mpi, encode_mpi_frame(0, MpiKind::stop, "")));
      talk(sock, started, check_start_timeout);
      std::lock_guard<std::mutex> lock(send_mu_);
      sock_ = -1;
      ::close(sock);
    }
    // The job ends by itself once rank 0 is gone or told to stop; else it is ended.
    const auto ending = Clock::now();
    int sent = 0;
    while (!done()) {
      const double waited = seconds_since(ending);
      if (sent == 0 && (sock < 0 || waited > 10)) {
        signal_job(SIGTERM);  // mpirun passes it to every rank
        sent = 1;
      } else if (sent == 1 && waited > 20) {
        signal_job(SIGKILL);
        sent = 2;
      }
      pollfd fd{wake_read_, POLLIN, 0};
      if (poll(&fd, 1, 100) > 0) drain_wake();
    }
    waiter.join();
    std::string output = job.stdout_data + job.stderr_data;
    if (job.ending == ProcessEnding::exec_failed) output += "cannot run " + config_.mpirun + ": " + job.exec_error;
    if (!why_killed.empty()) output += "\n" + why_killed;
    return output;
  }

  void talk(int sock, Clock::time_point started, const std::function<void()>& check_start_timeout) {
    FrameReader reader(sock);
    for (;;) {
      pollfd fds[2] = {{sock, POLLIN, 0}, {wake_read_, POLLIN, 0}};
      if (poll(fds, 2, 200) < 0 && errno != EINTR) return;
      if (fds[1].revents) drain_wake();
      check_start_timeout();
      if (!fds[0].revents) continue;
      try {
        if (!reader.read_some()) return;
        FrameType type;
        std::string payload;
        while (reader.pop(type, payload)) {
          if (type != FrameType::mpi) throw Error(Errc::format, "unexpected frame type from rank 0");
          std::uint32_t rank = 0;
          MpiKind kind;
          std::string body;
          decode_mpi_frame(payload, rank, kind, body);
          handle(rank, kind, body, started);
        }
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(mu_);
        last_protocol_error_ = e.what();
        return;  // a confused relay: end this job, the supervisor restarts it
      }
    }
  }

  void handle(std::uint32_t rank, MpiKind kind, const std::string& body, Clock::time_point started) {
    if (rank < 1 || rank > ranks_.size())
      throw Error(Errc::format, "rank 0 relayed a message from unknown rank " + std::to_string(rank));
    const std::string what = "message from MPI rank " + std::to_string(rank);
    std::unique_lock<std::mutex> lock(mu_);
    Rank& r = ranks_[rank - 1];
    switch (kind) {
      case MpiKind::ready: {
        auto [host, pid] = decode_values<std::tuple<std::string, std::int64_t>>(body, what);
        r.ready = true;
        r.host = host;
        r.pid = static_cast<long>(pid);
        std::vector<std::string> frames;
        for (const auto& init : inits_) frames.push_back(init_frame_locked(rank, init));
        for (const auto& [id, task] : r.inflight)  // the job was restarted: send them again
          frames.push_back(encode_frame(FrameType::mpi, encode_mpi_frame(rank, MpiKind::task, encode_task_spec(*task))));
        if (!first_settled_ && all_ready_locked()) {
          init_seconds_ = seconds_since(started);
          first_settled_ = true;
        }
        lock.unlock();
        cv_.notify_all();
        for (const auto& f : frames) send_to_job(f);
        events_->worker_available();
        return;
      }
      case MpiKind::done: {
        auto [id, encoded] = decode_values<std::tuple<std::uint64_t, std::string>>(body, what);
        Outcome outcome = decode_outcome(encoded, what);
        auto it = r.inflight.find(id);
        if (it == r.inflight.end()) return;  // cancelled
        r.inflight.erase(it);
        ++r.tasks_done;
        r.busy_seconds += seconds_since(r.started[id]);
        r.started.erase(id);
        outcome.worker = "rank-" + std::to_string(rank) + "@" + r.host;
        lock.unlock();
        events_->task_finished(id, std::move(outcome));
        events_->worker_available();
        return;
      }
      case MpiKind::init_done: {
        auto [id, ok, message] = decode_values<std::tuple<std::uint64_t, bool, std::string>>(body, what);
        auto w = init_waiting_.find(id);
        if (w != init_waiting_.end()) {
          auto& ranks = w->second;
          ranks.erase(std::remove(ranks.begin(), ranks.end(), rank), ranks.end());
          if (!ok) init_failures_[id] = "rank " + std::to_string(rank) + ": " + message;
        }
        lock.unlock();
        cv_.notify_all();
        return;
      }
      case MpiKind::bye:
        return;
      default:
        throw Error(Errc::format, what + ": unknown kind " + std::to_string(static_cast<int>(kind)));
    }
  }

  // The job ended without being asked to: fail what ran on the dead rank,
  // keep the rest for the next job, or give up after max_restarts.
  void job_ended_locked(const std::string& output, std::vector<Delivery>& failed) {
    std::string line;
    const std::optional<unsigned> dead = dead_rank_in(output, line);
    for (auto& r : ranks_) r.ready = false;
    const std::string tail = output.size() > 2000 ? output.substr(output.size() - 2000) : output;
    auto fail_rank = [&](Rank& r, const std::string& reason) {
      for (const auto& [id, task] : r.inflight) {
        Outcome o;
        o.status = ResultStatus::signaled;
        o.reason = reason;
        o.stderr_tail = tail;
        o.worker = "rank";
        failed.push_back({id, std::move(o)});
      }
      r.inflight.clear();
      r.started.clear();
    };
    if (dead && *dead >= 1 && *dead <= ranks_.size())
      fail_rank(ranks_[*dead - 1], "MPI rank " + std::to_string(*dead) + " died while running this task (" + line + ")");
    if (!first_settled_ || restarts_ >= config_.max_restarts) {
      down_ = true;
      down_reason_ = (!first_settled_ ? "the MPI job did not start: " : "the MPI job ended: ") +
                     (line.empty() ? (last_protocol_error_.empty() ? tail : last_protocol_error_) : line);
      for (auto& r : ranks_) fail_rank(r, down_reason_);
      first_settled_ = true;
      return;
    }
    ++restarts_;
    for (auto& d : failed) d.outcome.worker = "rank-" + std::to_string(dead ? *dead : 0);
  }

  bool all_ready_locked() const {
    return std::all_of(ranks_.begin(), ranks_.end(), [](const Rank& r) { return r.ready; });
  }
  bool all_ready() {
    std::lock_guard<std::mutex> lock(mu_);
    return all_ready_locked();
  }
  bool is_stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }
  void drain_wake() {
    char buf[64];
    while (::read(wake_read_, buf, sizeof buf) > 0) {
    }
  }

  Mpi config_;
  InterfaceEvents* events_ = nullptr;
  std::unique_ptr<TempDir> dir_;
  std::string socket_path_;
  int listen_fd_ = -1, wake_read_ = -1, wake_write_ = -1;
  std::thread supervisor_;

  std::mutex send_mu_;
  int sock_ = -1;  // under send_mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Rank> ranks_;
  std::size_t next_ = 0;
  std::vector<Init> inits_;
  std::uint64_t next_init_id_ = 1;
  std::map<std::uint64_t, std::vector<std::uint32_t>> init_waiting_;
  std::map<std::uint64_t, std::string> init_failures_;
  double init_seconds_ = 0;
  unsigned restarts_ = 0;
  bool first_settled_ = false;
  bool down_ = false;
  std::string down_reason_;
  std::string last_protocol_error_;
  bool stopping_ = false;
  bool stopped_ = false;
  int termination_id_ = 0;
};

}  // namespace

std::unique_ptr<Interface> Mpi::make_interface() const { return std::make_unique<MpiInterface>(*this); }

}  // namespace mw
