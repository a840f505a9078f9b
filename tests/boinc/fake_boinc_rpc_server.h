// FakeBoincRpcServer — a test double of a BOINC project's web RPCs, on
// 127.0.0.1 with plain sockets (HTTP/1.1, keep-alive), one thread per
// connection plus one that "runs" jobs.
//
// It speaks the formats of shared/real-boinc-samples/remote-rpc-transcript.txt
// and boinc-reference §9 and §11: submit_rpc_handler.php (create_batch,
// submit_batch, query_batch, query_batches, abort_batch, abort_jobs,
// retire_batch; batches by <batch_id> or <batch_name>), job_file.php
// (query_files, upload_files, recording which batch each file is tied to),
// get_output.php (cmd=workunit_file, from upload/) and get_output3.php
// (action=get_file by result id and index, the user known by the `auth`
// login cookie, from results/<batch>/<wu>__file_result.zip; errors are HTML
// pages with HTTP 200). As on a real server, a finished job's output is put
// in results/ by the assimilator (mw-assimilator; set_batch_collect) and its
// upload/ copy is then unlinked by file_deleter (keep_upload_files keeps it),
// and retire_batch deletes results/<batch>. Unknown pages are Apache's 404.
// submit_batch fills an INIT batch (<batch_id>) or, given none, makes the
// batch <batch_name> itself, in BOINC 8.3's order: what it checks before
// inserting the batch row (app, PHP 8.2 template quirk, APP_in file counts,
// file modes, the INIT batch) refuses with nothing made; create_work's
// refusals come after the insert and leave the row (INIT, no jobs), with
// BOINC's error texts. job_file.php keeps each file's <delete_time> (only
// ever raised) for collect_job_files.
// It checks
// each request's shape (root element, authenticator first, at least one other
// child, staged files exist, INIT batch, the templates submit_batch names
// exist in the project — mw_in.xml, mw_in_program.xml, mw_out.xml — and each
// job has as many files as its input template takes; a job's own
// <input_template> — which BOINC's create_work uses instead of the named one —
// must parse as BOINC's template code reads it, take exactly the job's files,
// give the program file <sticky/> and <no_delete/>, and pass create_work's
// checks on the quorum and result limits it sets), records
// violations, and answers them with BOINC's <error>. Jobs run in submission
// order: the staged task bundle (unzipped, plus its program file when the job
// names one) goes through mw::run_task_bundle and the result bundle becomes
// the job's output file 0.
//
// TLS on demand (enable_tls): the same server behind HTTPS, with a
// certificate the test makes (tests/support/test_tls.h).
//
// Faults on demand: HTTP 5xx, dropped connections, malformed XML, slow
// replies, an <error> for one RPC, the PHP 8.2 template quirk, a user without
// submit rights, and a project without the batch_file_assoc table (job_file.php
// then answers a request naming a batch with PHP's fatal-error page).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mw/signing.h"

namespace tinyxml2 {
class XMLElement;
}
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace mw::test {

// The quorum and result limits create_work would give a job: its defaults
// (boinc-reference §2.3), overridden by the job's own input template.
struct FakeJobQuorum {
  int min_quorum = 1, target_nresults = 1, max_error_results = 1, max_total_results = 1,
      max_success_results = 1;
  bool from_job_template = false;  // the job carried its own <input_template>
};

class FakeBoincRpcServer {
 public:
  FakeBoincRpcServer(std::string authenticator, std::vector<PublicKey> trusted);
  ~FakeBoincRpcServer();

  std::string url() const;  // http://127.0.0.1:PORT/lab/ (https:// with TLS)

  // Serves HTTPS from now on with this certificate (PEM, the leaf first) and
  // key. Call before the first request.
  void enable_tls(const std::string& cert_file, const std::string& key_file);
  // Connections whose TLS handshake failed (e.g. the client refused the certificate).
  int tls_handshake_failures() const { return tls_failures_; }

  // ---- faults (each applies to the next N requests, of any kind)
  void reply_status_next(int count, int http_status);
  void drop_next(int count);
  void malformed_next(int count);
  void error_next(const std::string& rpc, const std::string& message);  // one <error> reply
  void set_delay(double seconds);
  void set_php82_quirk(bool on);
  void set_paused(bool paused);          // jobs stay queued while paused
  void run_jobs(int count);              // while paused: let the next `count` queued jobs run
  // The request of RPC `rpc` after the next `skip` ones is carried out, but
  // its reply is held back until release_stalled() (a client killed
  // meanwhile never sees it).
  void stall_next(const std::string& rpc, int skip = 0);
  void release_stalled();
  int stalled() const;                   // requests held back now
  // No job is running or about to (a test that forks should wait for this:
  // a program being written for a job while it forks could not be executed).
  bool jobs_idle() const;
  void fail_job(const std::string& name);  // that job ends in error instead of running
  void set_no_submit_rights(bool on);      // every RPC: "no submit access"
  void set_no_batch_file_assoc(bool on);   // job_file.php with a batch_id: a PHP fatal error page
  void set_batch_collect(bool on);         // the assimilator writes results/ (default on)
  void keep_upload_files(bool on);         // file_deleter leaves upload/ alone (default off)
  // The project has templates/APP_in with `files` <file_info>s (0: none, as
  // with mw-project-setup): submit_batch then checks every job's file count
  // against it before it makes the batch (BOINC's validate_batch()).
  void set_app_template_files(int files);
  // The next submit_batch gets past the checks and makes its batch row, then
  // create_work fails with `message` (no job is made; the row stays).
  void fail_create_work_next(const std::string& message);
  // Another user of the project has a batch named `name` (INIT): its batch
  // RPCs answer "not owner of batch" (abort_batch: "not owner").
  void add_foreign_batch(const std::string& name);
  // BOINC's job_file_deleter at time `now` (0: the clock's): removes staged
  // files tied to no live batch (one not aborted or retired) whose delete time
  // (job_file.php's <delete_time>; 0 = none) is not still to come. Returns
  // how many it removed.
  std::size_t collect_job_files(std::int64_t now = 0);

  // ---- observations
  std::map<std::string, int> rpc_counts() const;   // by RPC ("get_output" for downloads)
  std::vector<std::string> violations() const;
  std::vector<std::string> request_bodies() const;  // every request's `request` field
  int http_requests() const { return http_requests_; }
  int connections() const { return connections_; }
  int uploads_of(const std::string& phys_name) const;
  int submissions_of(const std::string& job_name) const;
  std::vector<std::string> submitted_jobs() const;  // every job name submit_batch created, in order
  int fetches_of(const std::string& job_name) const;
  FakeJobQuorum quorum_of(const std::string& job_name) const;  // throws for an unknown job
  std::size_t jobs_total() const;
  int batch_state(std::int64_t batch_id) const;  // -1 unknown
  std::size_t stored_files() const;
  std::size_t results_files(std::int64_t batch_id) const;  // files in results/<batch>/
  std::vector<std::int64_t> live_batches() const;           // batch rows not retired
  std::vector<std::string> batch_names() const;             // every batch row's name, by id
  std::size_t file_associations() const;                    // batch_file_assoc rows

 private:
  struct Job {
    std::string name;
    std::int64_t batch = 0;
    std::vector<std::string> files;
    std::string status = "queued";
    std::string output;
    bool has_output = false;
    bool in_upload_tree = false;    // upload/ still has the output
    std::int64_t instance = 0;      // canonical instance (result) id, once done
    FakeJobQuorum quorum;
  };
  struct Batch {
    std::int64_t id = 0;
    std::string name, app;
    int state = 0;
    std::vector<std::string> jobs;
    bool foreign = false;  // another user's
  };
  struct Request {
    std::string method, path, query;
    std::map<std::string, std::string> headers;
    std::string body;
  };

  void accept_loop();
  void serve(int fd);
  // `rpc` is set to the RPC's name when the request is one.
  std::string handle(const Request& req, int& status, std::string& content_type, std::string& rpc);
  std::string rpc_reply(const std::string& script, const std::map<std::string, std::pair<std::string, std::string>>& form,
                        std::string& rpc);
  std::string get_output(const std::string& query);
  std::string get_output3(const std::string& query, const std::string& cookie, std::string& type);
  void run_loop();
  void run_job(const std::string& name);
  // Checks job `j`'s own <input_template> (if any) as create_work would and
  // sets job.quorum; the problem, or "" when there is none.
  static std::string check_job_template(const tinyxml2::XMLElement* j, Job& job);

  std::string auth_;
  std::vector<PublicKey> trusted_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_, run_thread_;
  std::vector<std::thread> conn_threads_;
  std::vector<int> conn_fds_;

  mutable std::mutex mutex_;
  std::condition_variable run_wake_;
  int status_next_ = 0, status_code_ = 503, drop_next_ = 0, malformed_next_ = 0;
  std::map<std::string, std::string> error_next_;
  double delay_ = 0;
  bool quirk_ = false, paused_ = false;
  bool no_submit_rights_ = false, no_batch_file_assoc_ = false, batch_collect_ = true, keep_upload_files_ = false;
  std::string content_type_override_;
  std::map<std::string, std::string> results_;  // "<batch>/<file>" → bytes: PROJECT/results/
  std::map<std::int64_t, std::string> instances_;  // canonical instance id → job
  std::map<std::string, std::set<std::int64_t>> file_batches_;  // batch_file_assoc
  std::map<std::string, std::int64_t> delete_times_;            // job_file.delete_time
  int app_template_files_ = 0;
  std::string fail_create_work_;
  std::int64_t next_instance_ = 7001;
  int run_allowance_ = 0;
  std::string stall_rpc_;
  int stall_skip_ = 0, stalled_ = 0;
  bool release_ = false;
  std::condition_variable stall_wake_;
  std::vector<std::string> submitted_order_;
  std::map<std::string, std::string> files_;
  std::map<std::string, int> uploads_, submissions_, fetches_, rpc_counts_;
  std::map<std::int64_t, Batch> batches_;
  std::map<std::string, Job> jobs_;
  std::map<std::string, bool> doomed_;
  std::deque<std::string> queue_;
  std::vector<std::string> violations_, bodies_;
  std::int64_t next_batch_ = 1;
  std::atomic<int> http_requests_{0}, connections_{0}, tls_failures_{0};
  std::atomic<ssl_ctx_st*> tls_{nullptr};
};

}  // namespace mw::test
