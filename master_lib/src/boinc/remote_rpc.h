// boinc/remote_rpc.h — BOINC's remote job-submission RPCs (submit_rpc_handler.php,
// job_file.php, get_output3.php / get_output.php), one method per RPC.
//
// Requests are the XML documents BOINC's PHP expects in the form field
// `request`, built with tinyxml2; replies are parsed with tinyxml2. A reply
// whose command element holds <error> (BOINC answers HTTP 200 for those)
// becomes RpcError naming the RPC, error_num and error_msg. A server that
// cannot take remote jobs is named as such: a job_file.php without BOINC's
// batch_file_assoc table (a PHP error page instead of XML), a user without
// submit rights, a URL with no BOINC project behind it (HTTP 404, or HTML).
// The authenticator goes into request bodies, a Cookie header (get_output3)
// and, only as the last resort for servers without batch-collect outputs,
// get_output.php's query string: no message this layer produces contains it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "boinc/http_client.h"
#include "mw/boinc/workunit_settings.h"
#include "mw/error.h"

namespace mw::boinc::detail {

class RpcError : public Error {
 public:
  RpcError(std::string rpc, int error_num, std::string server_message);
  const std::string& rpc() const { return rpc_; }
  int error_num() const { return error_num_; }
  const std::string& server_message() const { return server_message_; }

 private:
  std::string rpc_;
  int error_num_;
  std::string server_message_;
};

struct RemoteInputFile {
  std::string mode = "local_staged";  // or "inline"
  std::string source;                  // physical name, or the content when inline
};

struct RemoteJob {
  std::string name;
  std::vector<RemoteInputFile> files;
  std::optional<std::string> command_line;
  std::optional<double> rsc_fpops_est;  // else the batch's job_params
};

// A batch as the user names it: by id (all digits) or by name. BOINC's batch
// RPCs take either (<batch_id> or <batch_name>); a batch whose name is all
// digits can only be reached by id.
struct BatchRef {
  std::int64_t id = 0;
  std::string name;  // when id is 0
  BatchRef() = default;
  BatchRef(std::int64_t batch_id) : id(batch_id) {}  // NOLINT: an id is a reference
  // Errc::usage for an empty text.
  static BatchRef parse(const std::string& text);
  std::string describe() const;  // "batch 5" / "batch 'name'"
};

struct RemoteJobStatus {
  std::int64_t id = 0;
  std::string name;
  std::string status;  // done, error, in_progress, queued
  std::int64_t canonical_instance_id = 0;
};

struct RemoteBatchStatus {
  std::int64_t id = 0;
  std::string name;
  int state = 0;
  int njobs = 0;
  int nerror_jobs = 0;
  double fraction_done = 0;
  std::vector<RemoteJobStatus> jobs;
  // Jobs by status (from the job details).
  int count(const std::string& status) const;
};

// query_completed_job's account of a job: its workunit's error mask and, for
// the canonical instance or else one that ended, the exit status and stderr.
struct CompletedJob {
  std::int64_t error_mask = 0;
  int exit_status = 0;
  std::string stderr_out;
  // "error_mask 2 (too many errors), exit status 1; stderr ends: …"
  std::string describe() const;
};

// BOINC's batch states by name (init, in progress, complete, aborted, retired).
const char* batch_state_name(int state);

// mwkit's templates in PROJECT/templates/ (docs/boinc-conventions.md), named
// in every submit_batch: a batch's jobs all have the task bundle, or all the
// bundle and its program file, because BOINC checks every job of a batch
// against the one input template.
inline constexpr const char* kInputTemplate = "mw_in.xml";
inline constexpr const char* kInputTemplateWithProgram = "mw_in_program.xml";
inline constexpr const char* kOutputTemplate = "mw_out.xml";
// The input template for `jobs`: Errc::usage when their file counts differ
// or are not 1 or 2.
std::string input_template_for(const std::vector<RemoteJob>& jobs);

// The open names mwkit's templates give a job's files (templates/mw_in*.xml).
inline constexpr const char* kBundleOpenName = "task.zip";
inline constexpr const char* kProgramOpenName = "mw_program";

// The per-job <input_template> document submit_batch sends with every job:
// mwkit's template for `files` input files (mw_in.xml for 1, mw_in_program.xml
// for 2: the program file keeps <sticky/> and <no_delete/>) plus a <workunit>
// block with the quorum and result limits of `settings`. BOINC's
// submit_rpc_handler.php reads only rsc_* and delay_bound from <job_params>;
// a job's own input template is the one way a remote submitter sets
// min_quorum, target_nresults and max_*_results (create_work takes a
// template's values over its defaults). Errc::usage unless files is 1 or 2.
std::string job_input_template(std::size_t files, const WorkunitSettings& settings);

class RpcClient {
 public:
  // `project_url` ends in '/' (added when missing).
  RpcClient(std::string project_url, std::string authenticator, HttpOptions http = {});

  std::int64_t create_batch(const std::string& app, const std::string& batch_name, double expire_time = 0);
  // Submits `jobs` as a new batch named `batch_name` (no <batch_id>: BOINC
  // makes the batch itself, after its checks of the request) and returns
  // the batch's id. With `template_workaround`, names a
  // workunit_template_file that does not exist (the PHP 8.2 quirk).
  std::int64_t submit_batch(const std::string& batch_name, const std::string& app, const WorkunitSettings& settings,
                            const std::vector<RemoteJob>& jobs, bool template_workaround);
  RemoteBatchStatus query_batch(const BatchRef& batch);
  // The ids of the user's batches not yet retired.
  std::vector<std::int64_t> query_batches();
  void abort_batch(const BatchRef& batch);
  void abort_jobs(const std::vector<std::string>& job_names);
  CompletedJob query_completed_job(const std::string& job_name);
  void retire_batch(const BatchRef& batch);
  // Indexes (into `names`) of the files the server does not have. The
  // others are tied to batch `batch_id` (when not 0) and kept at least until
  // `delete_time` (Unix time; when not 0).
  std::vector<std::size_t> query_files(const std::vector<std::string>& names, std::int64_t batch_id = 0,
                                       std::int64_t delete_time = 0);
  // Uploads files (names[i] holds contents[i]), tied and kept as query_files says.
  void upload_files(const std::vector<std::string>& names, const std::vector<std::string>& contents,
                    std::int64_t batch_id = 0, std::int64_t delete_time = 0);
  // The canonical instance's output file `file_num` of job `wu_name`, from
  // the upload tree (get_output.php; gone once BOINC's file_deleter ran, and
  // the authenticator travels in the URL: the last resort).
  std::string workunit_file(const std::string& wu_name, int file_num = 0);
  // The same from the batch-collect layout PROJECT/results/<batch>/
  // <wu>__file_<open name> that mw-assimilator writes and that survives
  // file_deleter until the batch is retired (get_output3.php, result id and
  // file index; the authenticator in the login cookie, not the URL). Throws
  // RpcError when the server answers with anything but the file (a zip).
  std::string batch_collect_file(std::int64_t canonical_instance_id, const std::string& wu_name, int file_num = 0);
  // A done job's result bundle: batch_collect_file, else workunit_file (for
  // a server whose assimilator does not keep batch-collect outputs). The
  // error names both attempts.
  std::string job_output(const RemoteJobStatus& job);

  // RPCs made (not counting retries) and HTTP attempts, for status and benchmarks.
  std::uint64_t rpcs() const { return rpcs_; }
  std::uint64_t uploads() const { return uploads_; }
  std::uint64_t http_attempts() const { return http_.attempts(); }
  HttpClient& http() { return http_; }

 private:
  std::string call(const std::string& script, const std::string& rpc, const std::string& request_xml,
                   const std::vector<FormPart>& files = {});

  std::string url_;
  std::string authenticator_;
  HttpClient http_;
  std::uint64_t rpcs_ = 0, uploads_ = 0;
};

// Stages files under content-hash names: asks which of `names` the server
// lacks and uploads only those, about 64 MiB per request. `bytes_of(name)`
// gives a file's bytes. Returns the number of files uploaded.
//
// A submission stages before its batch exists (batch_id 0), each file kept
// at least kStagingLeaseSeconds (delete_time): BOINC's job_file_deleter
// removes files tied to no live batch once their delete time has passed, and
// none is tied to the batch until submit_batch has made it. After the
// submission, staging again with the new batch's id ties the files to it
// (and uploads whatever vanished in between). A refused submission ties its
// files to nothing: the deleter removes those no other batch uses once the
// lease is over.
std::size_t stage_files(RpcClient& rpc, const std::vector<std::string>& names,
                        const std::function<std::string(const std::string&)>& bytes_of, std::int64_t batch_id,
                        std::int64_t delete_time = 0);
inline constexpr std::int64_t kStagingLeaseSeconds = 6 * 3600;
// now + kStagingLeaseSeconds, for stage_files' delete_time.
std::int64_t staging_lease_end();

// The job names of a batch named `batch_name` start with this: the name's
// [A-Za-z0-9_-] characters (others become '_', at most 60), plus '_' and 8
// hex digits of its SHA-256 when that changed it (so "a b" and "a_b" get
// different stems). Job k of the batch is "<stem>_<k>". The name, not BOINC's batch
// id, so that the names are known before the batch exists.
std::string job_name_stem(const std::string& batch_name);

// Batch `name` as the server has it; nullopt when the server answers that
// there is no such batch (any other answer or failure throws).
std::optional<RemoteBatchStatus> find_batch(RpcClient& rpc, const std::string& name);

// Submits `jobs` as the new batch `batch_name` (submit_batch without a batch
// id), retrying once with the workaround when the server answers with the
// PHP 8.2 template quirk (`warn` is told, `workaround` set for later calls).
// Returns the batch's id.
//
// What BOINC refuses before it inserts the batch row (app, rights, the
// template quirk, file counts against a batch template) leaves nothing on
// the server. create_work runs after the insert, so what it refuses
// leaves the row (INIT, no jobs). On a refusal (RpcError) the batch is
// therefore looked up by name and, if it exists, retired — no RPC deletes a
// batch row; a retired one is out of query_batches, has no jobs left and
// holds no staged files — before the error is rethrown. A failed clean-up
// is only warned about: the submission's own error matters more. Any other
// error (no reply) is rethrown as it is: the server may have made the jobs.
std::int64_t submit_new_batch(RpcClient& rpc, const std::string& batch_name, const std::string& app,
                              const WorkunitSettings& settings, const std::vector<RemoteJob>& jobs,
                              bool& workaround, const std::function<void(const std::string&)>& warn);

// Retires batch `name` if the server has it (after a failed submission);
// its id, or 0 when there is none. Failures are warned about.
std::int64_t discard_batch_named(RpcClient& rpc, const std::string& name,
                                 const std::function<void(const std::string&)>& warn);

// True for the reply BOINC (PHP 8.2) gives a submit_batch without a
// workunit_template_file.
bool is_template_quirk(const RpcError& e);

// Whether the project at `rpc` can take remote jobs from its user, without
// changing anything on the server: the submit and staging handlers answer
// XML, the user may submit jobs, job_file.php works (its batch_file_assoc
// table exists). "" when ready, else what is wrong (one line per problem).
// For mw-project-setup's check and for tools that want to fail early.
std::string remote_readiness_problems(RpcClient& rpc);

}  // namespace mw::boinc::detail
