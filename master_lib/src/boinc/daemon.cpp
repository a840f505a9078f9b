// Logging, stop triggers, database parameters and the main loop of mwkit's daemons.
#include "mw/boinc/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <mutex>
#include <thread>

#include "mw/error.h"
#include "util/log_line.h"
#include "util/terminal_text.h"

namespace mw::boinc {
namespace {

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

void install_stop_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking call returns early so the loop sees the flag
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaction(sig, &sa, nullptr);
}

}  // namespace

std::string DaemonLog::format_line(double now, const char* tag, const std::string& text) {
  // Names, paths and messages in a line come from the database, volunteers'
  // uploads and comparison programs: one line each, nothing that moves the
  // cursor or reorders text for whoever tails the log.
  return detail::log_timestamp(now) + tag + detail::terminal_safe(text);
}

void DaemonLog::write(const char* tag, const std::string& text) const {
  // One write(2) per line: several daemons may append to the same log.
  detail::write_stderr_line(format_line(detail::log_clock_now(), tag, text) + "\n");
}

void DaemonLog::critical(const std::string& text) const { write("[CRITICAL] ", text); }
void DaemonLog::warning(const std::string& text) const {
  if (enabled(LogLevel::normal)) write("[warning] ", text);
}
void DaemonLog::normal(const std::string& text) const {
  if (enabled(LogLevel::normal)) write("", text);
}
void DaemonLog::debug(const std::string& text) const {
  if (enabled(LogLevel::debug)) write("[debug] ", text);
}
void DaemonLog::detail(const std::string& text) const {
  if (enabled(LogLevel::detail)) write("[debug] ", text);
}

std::string DaemonOptions::mod_clause(const std::string& column) const {
  if (mod_n <= 0) return "1=1";
  return column + " % " + std::to_string(mod_n) + " = " + std::to_string(mod_i);
}

StopControl::StopControl(std::string project_dir) : trigger_(std::move(project_dir) + "/stop_daemons") {
  install_stop_handlers();
}

bool StopControl::stop_requested() const {
  if (g_stop) return true;
  struct stat st {};
  return ::stat(trigger_.c_str(), &st) == 0;
}

bool StopControl::sleep_or_stop(double seconds) const {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (;;) {
    if (stop_requested()) return true;
    Clock::time_point now = Clock::now();
    if (now >= until) return false;
    Clock::duration step = std::min<Clock::duration>(until - now, std::chrono::milliseconds(200));
    std::this_thread::sleep_for(step);
  }
}

void StopControl::request_stop() { g_stop = 1; }

Database& DaemonDatabase::get() {
  if (!db_) db_ = std::make_unique<Database>(params_);
  return *db_;
}

WorkerPool::WorkerPool(DbParams params, int threads)
    : params_(std::move(params)), threads_(std::max(1, threads)) {
  for (int i = 0; i < threads_; ++i) connections_.push_back(std::make_unique<DaemonDatabase>(params_));
}

WorkerPool::~WorkerPool() = default;

void WorkerPool::drop() {
  for (auto& c : connections_) c->drop();
}

void WorkerPool::for_each(Database& main, std::size_t n,
                          const std::function<void(Database&, std::size_t)>& work) {
  if (threads_ == 1 || n <= 1) {
    for (std::size_t i = 0; i < n; ++i) work(main, i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex first_mutex;
  auto run = [&](DaemonDatabase& connection) {
    try {
      Database& db = connection.get();
      for (std::size_t i; !failed && (i = next++) < n;) work(db, i);
    } catch (...) {
      std::exception_ptr e = std::current_exception();
      try {
        throw;
      } catch (const Error& error) {
        if (error.code() == Errc::database) connection.drop();
      } catch (...) {
      }
      failed = true;
      std::lock_guard<std::mutex> lock(first_mutex);
      if (!first) first = e;
    }
  };
  const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(threads_), n);
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < count; ++t) {
    try {
      threads.emplace_back(run, std::ref(*connections_[t]));
    } catch (const std::system_error&) {
      break;  // no more threads: the ones running (and this one) do the rest
    }
  }
  run(*connections_[0]);
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

std::int64_t db_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

int run_daemon_loop(const DaemonOptions& options, const DaemonLog& log, const StopControl& stop,
                    DaemonDatabase& database, const std::function<bool(Database&)>& pass) {
  int failed_passes = 0;
  while (!stop.stop_requested()) {
    bool did_work = false;
    try {
      did_work = pass(database.get());
      failed_passes = 0;
    } catch (const Error& e) {
      if (e.code() != Errc::database) {
        log.critical(e.what());
        return kExitDaemonFailed;
      }
      log.critical(std::string("database: ") + e.what());
      if (++failed_passes >= options.max_failed_passes) {
        log.critical("giving up after " + std::to_string(failed_passes) +
                     " failed passes in a row; exiting for bin/start --cron to restart");
        return kExitDatabase;
      }
      database.drop();
      auto deadline = std::chrono::steady_clock::now() +
                      std::chrono::duration<double>(options.db_retry_seconds);
      bool back = false;
      while (!back) {
        try {
          database.get().query("SELECT 1");
          back = true;
        } catch (const Error& again) {
          database.drop();
          if (std::chrono::steady_clock::now() >= deadline) {
            log.critical("database still unreachable after " +
                         std::to_string(static_cast<int>(options.db_retry_seconds)) +
                         " s (" + again.what() + "); exiting for bin/start --cron to restart");
            return kExitDatabase;
          }
          if (stop.sleep_or_stop(1)) return kExitDaemonOk;
        }
      }
      log.normal("database connection re-established");
      continue;  // the failed pass is simply done again
    } catch (const std::exception& e) {
      log.critical(e.what());
      return kExitDaemonFailed;
    }
    if (options.one_pass) break;
    if (!did_work && stop.sleep_or_stop(options.sleep_seconds)) break;
  }
  log.normal("stopping");
  return kExitDaemonOk;
}

int run_daemon(const DaemonOptions& options, DaemonLog& log, const std::string& banner,
               const std::function<void(const ProjectConfig&)>& configure,
               const std::function<bool(Database&)>& pass) {
  log.set_level(options.debug_level);
  // Without TZ, glibc re-reads /etc/localtime under a process-wide lock on
  // every mktime(), and libzip calls mktime() for each member of each bundle
  // read: threads checking bundles at once queue on that lock. Naming the same
  // file keeps the same local time (read once; a daemon restart sees a change).
  ::setenv("TZ", ":/etc/localtime", /*overwrite=*/0);
  std::unique_ptr<StopControl> stop;
  std::unique_ptr<DaemonDatabase> db;
  try {
    std::string project = find_project_dir(options.project);
    ProjectConfig config = read_project_config(project);
    configure(config);
    stop = std::make_unique<StopControl>(project);
    db = std::make_unique<DaemonDatabase>(db_params_from(config));
  } catch (const std::exception& e) {
    log.critical(e.what());
    return kExitDaemonConfig;
  }
  log.normal(banner);
  return run_daemon_loop(options, log, *stop, *db, pass);
}

}  // namespace mw::boinc
