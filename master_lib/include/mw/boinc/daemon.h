// mw/boinc/daemon.h — what every mwkit program run by a BOINC project's bin/start shares.
//
// bin/start launches a daemon with stdout and stderr appended to its log file,
// cwd tmp_HOST/, a lock file held on an inherited descriptor, and later stops it
// with the `stop_daemons` trigger file plus SIGHUP, waiting without a timeout.
// So a daemon here: logs BOINC-style lines on stderr, never daemonizes itself
// and never closes descriptors it did not open, and notices a stop request
// within a second even while it sleeps between passes.
//
// Lost database: a pass that fails with Errc::database makes the loop drop the
// connection and try to open a fresh one every second, for at most
// `db_retry_seconds` (default 60). While the server is back within that time
// the daemon carries on where it stopped (every pass is made of complete
// transactions, so nothing is half done). When it is not, or when
// `max_failed_passes` passes in a row fail even though the database answers,
// the daemon exits with kExitDatabase (3) so that `bin/start --cron`
// restarts it later, which is what BOINC's own daemons rely on.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"

namespace CLI {
class App;
}

namespace mw::boinc {

// Exit codes of mwkit's daemons.
inline constexpr int kExitDaemonOk = 0;        // stopped on request or after --one-pass
inline constexpr int kExitDaemonFailed = 1;    // a fatal error (logged as CRITICAL)
inline constexpr int kExitDaemonConfig = 2;    // config.xml, or a setting the project cannot take
inline constexpr int kExitDatabase = 3;        // the database stayed unreachable
inline constexpr int kExitDaemonUsage = 64;    // bad command line (EX_USAGE, as every mwkit program)

// BOINC's -d levels: 1 critical only, 2 normal, 3 debug, 4 debug with SQL detail.
enum class LogLevel { critical = 1, normal = 2, debug = 3, detail = 4 };

// Lines "YYYY-MM-DD HH:MM:SS.ffff UTC [CRITICAL] text" (also "[warning] ",
// nothing for normal, "[debug] " for debug and detail) on stderr, one write
// per line so lines from several daemons sharing a log never interleave.
class DaemonLog {
 public:
  explicit DaemonLog(int level = 2) : level_(level) {}
  int level() const { return level_; }
  void set_level(int level) { level_ = level; }
  bool enabled(LogLevel level) const { return static_cast<int>(level) <= level_; }

  void critical(const std::string& text) const;
  void warning(const std::string& text) const;  // shown from level 2 on, like normal
  void normal(const std::string& text) const;
  void debug(const std::string& text) const;
  void detail(const std::string& text) const;

  // The line exactly as written (without the newline); `now` in seconds since
  // the epoch. Controls (newlines too), bidi marks and invalid UTF-8 in `text`
  // are escaped (\xNN, \u{NNNN}), so data cannot forge or hide a line.
  static std::string format_line(double now, const char* tag, const std::string& text);

 private:
  void write(const char* tag, const std::string& text) const;
  int level_;
};

// The options every daemon accepts, BOINC's names first.
struct DaemonOptions {
  int debug_level = 2;            // -d N, --debug_level N
  std::string app;                // --app NAME (required)
  int mod_n = 0;                  // --mod N I: only ids with id % N == I (N = 0: all)
  int mod_i = 0;
  bool one_pass = false;          // --one-pass, --one_pass: one pass, then exit
  double sleep_seconds = 5;       // --sleep S, --sleep_interval S: pause after an idle pass
  std::string project;            // --project DIR; else found like BOINC (find_project_dir)
  double db_retry_seconds = 60;   // --db-retry S: how long a lost database is waited for
  int max_failed_passes = 5;      // consecutive failed passes before giving up
  int threads = 4;                // --threads N: workunits handled at once (see WorkerPool)

  // "id % N = I" for SQL, or "1=1" without --mod; `column` names the id column.
  std::string mod_clause(const std::string& column = "id") const;
};

// Adds the options above to `app`, with --version and help that shows the
// defaults (every mwkit program's surface); the daemon adds its own next to
// them. Call it first, right after making the App.
void add_daemon_options(CLI::App& app, DaemonOptions& options);

// BOINC's daemons accept long options with one dash ("-one_pass", "-d 3",
// "-sleep_interval 2"). Returns argv[1..] with every single-dash word longer
// than two characters that starts with a letter turned into its double-dash
// form, for CLI11. Values that look like negative numbers are left alone.
std::vector<std::string> normalize_daemon_args(int argc, const char* const* argv);

// Parses like CLI11's app.parse, after normalize_daemon_args. Returns -1 when
// the daemon should go on, else the exit code: 0 after printing help or the
// version, kExitDaemonUsage after one error line on stderr.
int parse_daemon_command_line(CLI::App& app, int argc, const char* const* argv);

// SIGHUP, SIGTERM and SIGINT set a flag (installed once per process); the
// project's `stop_daemons` file is checked too.
class StopControl {
 public:
  explicit StopControl(std::string project_dir);
  // True once a signal arrived or PROJECT/stop_daemons exists.
  bool stop_requested() const;
  // Sleeps `seconds` in steps of at most 0.2 s; returns true (early) when a stop is requested.
  bool sleep_or_stop(double seconds) const;
  // For tests and for a daemon that wants to stop itself.
  static void request_stop();

 private:
  std::string trigger_;
};


// A database connection a daemon can throw away and open again.
class DaemonDatabase {
 public:
  explicit DaemonDatabase(DbParams params) : params_(std::move(params)) {}
  // The open connection; opens one if there is none (Errc::database when it cannot).
  Database& get();
  void drop() { db_.reset(); }

 private:
  DbParams params_;
  std::unique_ptr<Database> db_;
};

// Spreads the workunits of one pass over several threads, each with its own
// database connection. Every workunit is still one transaction of its own;
// what the threads buy is that transactions of different workunits commit at
// the same time, so the server makes one durable log flush for several of
// them (InnoDB's group commit) instead of one flush per workunit, one after
// the other — with a stock server that flush is the main cost of a workunit.
// With one thread the work runs on the caller's thread and connection.
class WorkerPool {
 public:
  WorkerPool(DbParams params, int threads);
  ~WorkerPool();
  int threads() const { return threads_; }
  // Calls work(db, i) for every i in [0, n). `main` serves when there is one
  // thread (or n is 1); else each thread uses a connection of its own, opened
  // on first use and kept for later passes. Once `work` throws, no new items
  // are started; when every thread has finished, the first exception is
  // rethrown (after an Errc::database one, that thread's connection is
  // dropped, so the next pass opens a fresh one).
  void for_each(Database& main, std::size_t n, const std::function<void(Database&, std::size_t)>& work);
  // Closes every connection of the pool (the daemon lost its database).
  void drop();

 private:
  DbParams params_;
  int threads_;
  std::vector<std::unique_ptr<DaemonDatabase>> connections_;
};

// The main loop: `pass` does one pass over the work and returns true when it
// found something to do. Idle passes are followed by options.sleep_seconds of
// sleep (stop checked at least 5 times a second). Errc::database from a pass
// is handled as described at the top of this file; any other exception is
// logged as CRITICAL and ends the loop with kExitDaemonFailed. Returns the
// daemon's exit code.
int run_daemon_loop(const DaemonOptions& options, const DaemonLog& log, const StopControl& stop,
                    DaemonDatabase& database, const std::function<bool(Database&)>& pass);

// Everything after the command line: finds the project (options.project,
// else as BOINC does), reads config.xml, hands it to `configure` (which may
// throw Error for a bad setting), logs `banner`, and runs the loop. A setup
// error is logged as CRITICAL and gives kExitDaemonConfig.
int run_daemon(const DaemonOptions& options, DaemonLog& log, const std::string& banner,
               const std::function<void(const ProjectConfig&)>& configure,
               const std::function<bool(Database&)>& pass);

// Seconds since the epoch as BOINC stores it in its 32-bit time columns.
std::int64_t db_now();
// BOINC's "never" for transition_time.
inline constexpr std::int64_t kDbNever = 2147483647;

}  // namespace mw::boinc
