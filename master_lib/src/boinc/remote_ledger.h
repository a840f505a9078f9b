// Internal: mw::boinc::Remote's ledger — which task went into which BOINC job,
// kept in DIR/boinc_remote.sqlite so that a master restarted after being
// killed takes up the jobs it had submitted instead of submitting them again,
// and never downloads an output twice.
//
// A job is recorded (pending) before the submit_batch that creates it and
// its batch, so a crash between that RPC and its reply leaves a pending job
// that the next run resolves by asking the server: the batch by its name
// (BOINC's id is not known before the reply), whose query_batch lists the
// batch's job names (mwkit chooses both names). A fetched output is kept here until the Master has it
// (task_finished returned, which journals it), then dropped.
//
// Every change is committed before the call returns (WAL: a killed process
// loses nothing committed). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mw::boinc::detail {

class RemoteLedger {
 public:
  enum class JobState {
    pending,    // submit_batch sent; its reply not seen
    submitted,  // on the server
    fetched,    // output downloaded and held here, not yet handed to the Master
    done,       // handed over, cancelled, or never reached the server
  };
  struct Job {
    std::string name;
    std::string batch_name;
    std::int64_t batch_id = 0;  // BOINC's; 0 while not known (pending)
    JobState state = JobState::pending;
    std::string output;  // when fetched
  };
  struct NewJob {
    std::string name;
    std::uint64_t task_id = 0;
    std::string fingerprint;
  };

  // Opens or creates DIR/boinc_remote.sqlite (creating DIR, 0700).
  // Errc::journal naming the file.
  explicit RemoteLedger(const std::string& dir);
  ~RemoteLedger();
  RemoteLedger(const RemoteLedger&) = delete;
  RemoteLedger& operator=(const RemoteLedger&) = delete;

  const std::string& path() const;

  // Before submit_batch: batch `batch_name` and its jobs, pending. A live
  // job recorded earlier for one of these task ids is superseded (done).
  void record_batch(const std::string& batch_name, const std::vector<NewJob>& jobs);
  // The server has batch `batch_name` under BOINC's id `batch_id`.
  void batch_found(const std::string& batch_name, std::int64_t batch_id);
  // submit_batch answered `batch_id`: the batch's pending jobs are on the server.
  void batch_submitted(const std::string& batch_name, std::int64_t batch_id);
  // submit_batch was refused, or the server has no such batch: its pending
  // jobs never reached the server, and there is no batch to retire.
  void batch_refused(const std::string& batch_name);
  void job_state(const std::string& job_name, JobState state);
  void fetched(const std::string& job_name, std::string_view output);

  // The live (not done) job recorded for task `task_id` with this fingerprint.
  std::optional<Job> find(std::uint64_t task_id, std::string_view fingerprint);

  // Whether batch `batch_id` has a live (not done) job: one a resumed master
  // has not taken up yet keeps its batch from being retired.
  bool has_live_jobs(std::int64_t batch_id);
  // How many batches the ledger has recorded: a restarted master numbers its
  // chunks on from there, so its batch names do not repeat.
  std::size_t batch_count();

  // Batches (BOINC's ids) not yet retired none of whose jobs is live.
  std::vector<std::int64_t> idle_batches();
  // Retiring cancels what is left of a batch: its jobs are no longer live, so
  // a later run submits their tasks again.
  void batch_retired(std::int64_t batch_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::boinc::detail
