// A fake BOINC server for the daemon tests: plays the transitioner, the
// scheduler and the upload handler on the private MariaDB, so mw-validator
// and mw-assimilator can be run against the exact database protocol without
// BOINC's own server (which cannot be built here). Test double only; never shipped.
//
// The fake does what those BOINC programs do to the rows the daemons read
// (shared/boinc-reference.md §2.2–2.4), with one simplification: its
// transitioner takes workunits with transition_time <= now (BOINC: < now), so
// tests need not wait for the clock to tick.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mw/boinc/database.h"
#include "mw/task_format.h"
#include "support/private_mariadb.h"
#include "support/test_support.h"

namespace mw::test {

struct FakeWorkunit {
  int min_quorum = 1;
  int target_nresults = 1;
  int max_error_results = 3;
  int max_total_results = 6;
  int max_success_results = 4;
  std::int64_t batch = 0;
  double rsc_fpops_est = 4.32e11;  // 1 credit at 200 per GFLOPS-day (86400e9 fpops)
};

class FakeBoincServer {
 public:
  // A fresh database `db_name` with BOINC's schema, a project directory with
  // config.xml (TCP to the private server), upload/, download/, cgi-bin/,
  // templates/mw_out.xml, and the app `mw`.
  explicit FakeBoincServer(const std::string& db_name, int fanout = 16);

  const std::string& project_dir() const { return project_.path(); }
  std::string upload_dir() const { return project_ / "upload"; }
  std::string deliver_dir() const { return project_ / "pickup"; }
  boinc::Database& db() { return *db_; }
  std::int64_t app_id() const { return app_id_; }

  std::int64_t create_batch(int njobs);
  std::int64_t create_workunit(const std::string& name, const FakeWorkunit& spec = {});

  // The transitioner: one pass over the app's workunits that are due.
  void transition();
  // The scheduler: sends one unsent result to host `host` (owned by user
  // `host`, whose team it records as BOINC does), returns its id. Hosts and
  // users 1-4 exist; users 1 and 2 are in team 1.
  std::int64_t send_one(std::int64_t wu_id, std::int64_t host = 1);
  // The upload handler + scheduler report: stores `bundle` as the result's
  // output file (unless `upload` is false) and marks it OVER / SUCCESS.
  void report_success(std::int64_t result_id, const std::string& bundle, bool upload = true);
  // The scheduler for a failed task: OVER / CLIENT_ERROR, validate INVALID.
  void report_client_error(std::int64_t result_id, int exit_status = 195);
  // Cancelling (what abort_jobs does): error bit 16, unsent results OVER / DIDNT_NEED.
  void cancel_workunit(std::int64_t wu_id);

  // Where the upload handler stored (or would store) the result's output.
  std::string output_path(std::int64_t result_id);
  std::int64_t value(const std::string& sql, const std::vector<boinc::DbValue>& args = {});
  std::vector<boinc::DbRow> rows(const std::string& sql, const std::vector<boinc::DbValue>& args = {});

  // The daemons' common arguments: --app mw --project DIR.
  std::vector<std::string> daemon_args() const;

 private:
  ScratchDir project_;
  std::string db_name_;
  std::unique_ptr<boinc::Database> db_;
  std::int64_t app_id_ = 0;
  std::int64_t random_ = 1000;
};

// A result bundle (zip bytes) whose output out.txt holds `text`.
std::string make_result_bundle(const std::string& text,
                               ResultStatus status = ResultStatus::success);

// A daemon started in the background with stdout+stderr appended to `log`.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& log);
  ~BackgroundProcess();  // SIGKILL if still running
  pid_t pid() const { return pid_; }
  // Exit status (-1 for a signal) once it ended within `seconds`, else nullopt... -2 = still running.
  int wait_for_exit(double seconds);
  bool running();
  void kill_hard();

 private:
  pid_t pid_ = -1;
  int status_ = -2;
};

}  // namespace mw::test
