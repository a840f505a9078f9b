// mw/boinc/work_creator.h — BOINC's create_work, native and in bulk.
//
// BOINC's own create_work makes one workunit per call (one process per job in
// bin/create_work). WorkCreator makes the same rows — column for column what
// libsched's create_work() inserts, which the tests check against libsched
// itself — for thousands of jobs per transaction: input files staged in groups
// (mw/boinc/staging.h), workunits inserted with multi-row INSERTs, the batch
// row created and its njobs kept. A submit() is all or nothing: on any error
// the transaction rolls back and the files it staged are removed (shared,
// content-addressed program files may stay; see staging.h).
//
// The transitioner picks a new workunit up because its transition_time is
// already past; it then creates the result rows from result_template_file,
// which must therefore stay on disk for the workunit's lifetime.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/staging.h"
#include "mw/boinc/templates.h"
#include "mw/boinc/workunit_settings.h"

namespace mw::boinc {

// One job: a workunit name, its input files (one per variable <file_info> of
// the template, already staged — see Stager), optionally a command line.
struct JobSpec {
  std::string name;
  std::vector<InputFile> files;
  std::optional<std::string> command_line;
  std::string additional_xml;
  std::optional<WorkunitSettings> settings;  // else the submit's settings
  // Another input template for this job (must outlive the submit); else the
  // creator's.
  const InputTemplate* input_template = nullptr;
};

// What a batch looks like in the database.
struct BatchInfo {
  std::int64_t id = 0;
  std::string name;
  int state = 0;  // BOINC batch states: 0 init, 1 in progress, 2 complete, 3 aborted, 4 retired
  int njobs = 0;
  // Counted from the workunits now: finished = assimilated; errors = error_mask ≠ 0.
  int nfinished = 0;
  int nerrors = 0;
  int nunsent_results = 0;
  int nin_progress_results = 0;
};

class WorkCreator {
 public:
  // `app_name` must exist in the app table (Errc::usage naming it otherwise).
  // `result_template` is the output template's path relative to the project
  // directory (e.g. "templates/mw_out.xml"); it must exist (Errc::io).
  WorkCreator(ProjectConfig config, Database& db, std::string app_name,
              InputTemplate input_template, std::string result_template);

  const ProjectConfig& config() const { return config_; }
  std::int64_t app_id() const { return app_id_; }

  // Inserts a batch row (state INIT, njobs 0, as BOINC's create_batch RPC
  // does) and returns its id; the first submit() makes it IN_PROGRESS.
  std::int64_t create_batch(const std::string& name, int user_id = 0,
                            const std::string& description = "", double expire_time = 0);

  // Produces the next job into `job` and returns true, or returns false when
  // there are no more. Called from submit(), one job at a time, so a batch of
  // 10^6 jobs never sits in memory at once.
  using JobSource = std::function<bool(JobSpec& job)>;

  // Creates the workunits `next` produces, in batch `batch_id` (0: none), in
  // ONE transaction, inserting `rows_per_insert` rows per statement, and adds
  // their number to the batch's njobs. The files the jobs name must be staged
  // (InputFile::known with the StagedFile's digest): the Stager passed here is
  // committed just before the database commit and discarded on failure, so
  // callers stage inside `next`. Returns the
  // number of workunits created. Errors (nothing is left behind):
  // Errc::usage — a name that is not a valid physical name, a duplicate name
  // within the submit or already in the database (naming it), settings BOINC
  // rejects (a zero bound, max_success > max_total, …);
  // Errc::format/io — from the input template; Errc::database — the server.
  std::size_t submit(std::int64_t batch_id, const WorkunitSettings& settings,
                     const JobSource& next, Stager* stager = nullptr,
                     std::size_t rows_per_insert = 1000);
  // The same for jobs in memory.
  std::size_t submit(std::int64_t batch_id, const WorkunitSettings& settings,
                     const std::vector<JobSpec>& jobs, Stager* stager = nullptr);

  BatchInfo batch_info(std::int64_t batch_id);
  // Cancels the batch as BOINC's cancel_jobs does: every workunit not yet
  // assimilated gets error bit CANCELLED (16) and transition_time now, unsent
  // results become OVER / DIDNT_NEED, and the batch ABORTED. One transaction.
  // Returns the number of workunits newly cancelled. Assimilated workunits
  // are left alone (BOINC's cancel_jobs marks every id in its range).
  std::size_t cancel_batch(std::int64_t batch_id);
  // The same, but the batch becomes RETIRED: the master is done with it.
  // Cancelling or retiring again changes nothing; a retired batch stays retired.
  std::size_t retire_batch(std::int64_t batch_id);
  // Deletes the batch row if no workunit was ever submitted to it (njobs 0),
  // e.g. after the submit that opened it failed. Never throws.
  void discard_batch_if_empty(std::int64_t batch_id) noexcept;
  // Cancels one workunit as cancel_batch does; false if it is unknown or
  // already assimilated or cancelled.
  bool cancel_workunit(const std::string& name);
  // Workunits are streamed with LOAD DATA LOCAL INFILE (about twice the rows
  // per second of multi-row INSERTs), falling back to INSERTs by itself when
  // the server refuses local infile. false: always INSERT (tests use both).
  void use_load_data(bool on) { use_load_data_ = on; }
  // Looks a batch up by name (the newest with that name).
  std::optional<std::int64_t> find_batch(const std::string& name);

 private:
  std::size_t close_batch(std::int64_t batch_id, int new_state);
  void insert_rows(const std::vector<DbValue>& values, std::size_t rows);
  // The two updates of BOINC's cancel_jobs for workunits whose `column` is `key`.
  std::size_t cancel_where(const char* column, const DbValue& key);

  ProjectConfig config_;
  Database& db_;
  std::string app_name_;
  std::int64_t app_id_ = 0;
  InputTemplate template_;
  std::string result_template_;
  bool use_load_data_ = true;
};

}  // namespace mw::boinc
