// See boinc/remote_ledger.h.
#include "boinc/remote_ledger.h"

#include <limits>
#include <mutex>

#include "util/fs.h"
#include "util/sqlite.h"

namespace mw::boinc::detail {
namespace {

using mw::detail::sqlite::Statement;
using mw::detail::sqlite::Use;

constexpr int kSchemaVersion = 2;
constexpr const char* kFileName = "boinc_remote.sqlite";

// Version 2: a batch is known by its name (mwkit chooses it) from before its
// submit_batch; BOINC's id (boinc_id) once the reply or the server says it.
// `id` is the ledger's own key (in a version 1 file, BOINC's id as well).
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS batches ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  retired INTEGER NOT NULL DEFAULT 0,"
    "  boinc_id INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE IF NOT EXISTS jobs ("
    "  name TEXT PRIMARY KEY,"
    "  task_id INTEGER NOT NULL,"
    "  fingerprint BLOB NOT NULL,"
    "  batch_id INTEGER NOT NULL,"  // batches.id
    "  state INTEGER NOT NULL,"
    "  output BLOB"                 // the fetched result bundle, until handed over
    ");"
    "CREATE INDEX IF NOT EXISTS jobs_by_task ON jobs (task_id);"
    "CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (batch_id, state);";

// A version 1 file's batches were all made by create_batch: their key is
// BOINC's id. Idempotent (a crash after open_versioned's upgrade is finished
// by the next open).
void upgrade_from_v1(sqlite3* db, const std::string& path) {
  {
    Statement columns(db, "SELECT 1 FROM pragma_table_info('batches') WHERE name = 'boinc_id'", path);
    Use use(columns);
    if (use.step() == SQLITE_ROW) return;
  }
  char* err = nullptr;
  if (sqlite3_exec(db,
                   "BEGIN IMMEDIATE;"
                   "ALTER TABLE batches ADD COLUMN boinc_id INTEGER NOT NULL DEFAULT 0;"
                   "UPDATE batches SET boinc_id = id;"
                   "COMMIT;",
                   nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw Error(Errc::journal, path + ": cannot upgrade the ledger from format version 1: " + why);
  }
}

// Stored values are spelled out so that reordering JobState changes nothing on disk.
sqlite3_int64 code(RemoteLedger::JobState s) {
  switch (s) {
    case RemoteLedger::JobState::pending: return 0;
    case RemoteLedger::JobState::submitted: return 1;
    case RemoteLedger::JobState::fetched: return 2;
    case RemoteLedger::JobState::done: return 3;
  }
  return 3;
}

constexpr sqlite3_int64 kDone = 3;

}  // namespace

struct RemoteLedger::Impl {
  std::string path;
  mw::detail::sqlite::DbPtr db;
  Statement begin, commit, rollback, insert_batch, supersede, insert_job, set_boinc_id, set_batch_state,
      retire_named, set_state, set_fetched, find, idle, live, count, retire, retire_jobs;
  std::mutex mutex;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::journal, path + ": " + what + ": " + sqlite3_errmsg(db.get()));
  }

  void run(Use& use, const std::string& what) {
    if (use.step() != SQLITE_DONE) fail(what);
  }

  static sqlite3_int64 key(std::uint64_t id, const std::string& path) {
    if (id > static_cast<std::uint64_t>(std::numeric_limits<sqlite3_int64>::max()))
      throw Error(Errc::journal, path + ": task id " + std::to_string(id) + " is out of range");
    return static_cast<sqlite3_int64>(id);
  }
};

RemoteLedger::RemoteLedger(const std::string& dir) : impl_(std::make_unique<Impl>()) {
  Impl& l = *impl_;
  l.path = mw::detail::join_path(dir, kFileName);
  mw::detail::sqlite::make_private_dirs(dir, l.path);
  l.db = mw::detail::sqlite::open_versioned(l.path, kSchemaVersion, kSchema, "ledger");
  upgrade_from_v1(l.db.get(), l.path);
  auto p = [&](const char* sql) { return Statement(l.db.get(), sql, l.path); };
  l.begin = p("BEGIN IMMEDIATE");
  l.commit = p("COMMIT");
  l.rollback = p("ROLLBACK");
  l.insert_batch = p("INSERT INTO batches (name, retired, boinc_id) VALUES (?1, 0, 0)");
  l.supersede = p("UPDATE jobs SET state = 3, output = NULL WHERE task_id = ?1 AND state <> 3");
  l.insert_job = p("INSERT OR REPLACE INTO jobs (name, task_id, fingerprint, batch_id, state)"
                   " VALUES (?1, ?2, ?3, ?4, 0)");
  l.set_boinc_id = p("UPDATE batches SET boinc_id = ?2 WHERE name = ?1");
  l.set_batch_state = p("UPDATE jobs SET state = ?2 WHERE state = 0 AND batch_id IN"
                        " (SELECT id FROM batches WHERE name = ?1)");
  l.retire_named = p("UPDATE batches SET retired = 1 WHERE name = ?1");
  l.set_state = p("UPDATE jobs SET state = ?2, output = NULL WHERE name = ?1");
  l.set_fetched = p("UPDATE jobs SET state = 2, output = ?2 WHERE name = ?1");
  l.find = p("SELECT jobs.name, batches.name, batches.boinc_id, jobs.state, jobs.output FROM jobs"
             " JOIN batches ON batches.id = jobs.batch_id"
             " WHERE jobs.task_id = ?1 AND jobs.fingerprint = ?2 AND jobs.state <> 3"
             " ORDER BY jobs.rowid DESC LIMIT 1");
  l.idle = p("SELECT boinc_id FROM batches WHERE retired = 0 AND boinc_id <> 0 AND NOT EXISTS"
             " (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id AND jobs.state <> 3)");
  l.live = p("SELECT 1 FROM jobs JOIN batches ON batches.id = jobs.batch_id"
             " WHERE batches.boinc_id = ?1 AND jobs.state <> 3 LIMIT 1");
  l.count = p("SELECT COUNT(*) FROM batches");
  l.retire = p("UPDATE batches SET retired = 1 WHERE boinc_id = ?1");
  l.retire_jobs = p("UPDATE jobs SET state = 3, output = NULL WHERE batch_id IN"
                    " (SELECT id FROM batches WHERE boinc_id = ?1)");
}

RemoteLedger::~RemoteLedger() = default;

const std::string& RemoteLedger::path() const { return impl_->path; }

void RemoteLedger::record_batch(const std::string& batch_name, const std::vector<NewJob>& jobs) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  const std::string what = "cannot record batch '" + batch_name + "'";
  {
    Use use(l.begin);
    l.run(use, what);
  }
  try {
    {
      Use use(l.insert_batch);
      use.bind_text(1, batch_name);
      l.run(use, what);
    }
    const sqlite3_int64 key = sqlite3_last_insert_rowid(l.db.get());
    for (const NewJob& job : jobs) {
      {
        Use use(l.supersede);
        use.bind(1, Impl::key(job.task_id, l.path));
        l.run(use, what);
      }
      Use use(l.insert_job);
      use.bind_text(1, job.name).bind(2, Impl::key(job.task_id, l.path)).bind_blob(3, job.fingerprint);
      use.bind(4, key);
      l.run(use, what);
    }
    Use use(l.commit);
    l.run(use, what);
  } catch (...) {
    if (sqlite3_get_autocommit(l.db.get()) == 0) {
      Use use(l.rollback);
      use.step();
    }
    throw;
  }
}

void RemoteLedger::batch_found(const std::string& batch_name, std::int64_t batch_id) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.set_boinc_id);
  use.bind_text(1, batch_name).bind(2, batch_id);
  l.run(use, "cannot record the id " + std::to_string(batch_id) + " of batch '" + batch_name + "'");
}

void RemoteLedger::batch_submitted(const std::string& batch_name, std::int64_t batch_id) {
  batch_found(batch_name, batch_id);
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.set_batch_state);
  use.bind_text(1, batch_name).bind(2, code(JobState::submitted));
  l.run(use, "cannot record batch '" + batch_name + "' as submitted");
}

void RemoteLedger::batch_refused(const std::string& batch_name) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  const std::string what = "cannot record batch '" + batch_name + "' as refused";
  {
    Use use(l.set_batch_state);
    use.bind_text(1, batch_name).bind(2, kDone);
    l.run(use, what);
  }
  Use use(l.retire_named);
  use.bind_text(1, batch_name);
  l.run(use, what);
}

void RemoteLedger::job_state(const std::string& job_name, JobState state) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.set_state);
  use.bind_text(1, job_name).bind(2, code(state));
  l.run(use, "cannot record the state of job " + job_name);
}

void RemoteLedger::fetched(const std::string& job_name, std::string_view output) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.set_fetched);
  use.bind_text(1, job_name).bind_blob(2, output);
  l.run(use, "cannot keep the output of job " + job_name);
}

std::optional<RemoteLedger::Job> RemoteLedger::find(std::uint64_t task_id, std::string_view fingerprint) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.find);
  use.bind(1, Impl::key(task_id, l.path)).bind_blob(2, fingerprint);
  const int rc = use.step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) l.fail("cannot look up task " + std::to_string(task_id));
  Job job;
  job.name = use.text_column(0);
  job.batch_name = use.text_column(1);
  job.batch_id = use.int_column(2);
  switch (use.int_column(3)) {
    case 0: job.state = JobState::pending; break;
    case 1: job.state = JobState::submitted; break;
    case 2: job.state = JobState::fetched; break;
    default:
      throw Error(Errc::journal, l.path + ": job " + job.name + " has an unknown state " +
                                     std::to_string(use.int_column(3)));
  }
  if (job.state == JobState::fetched) job.output = std::string(use.blob_column(4));
  return job;
}

std::vector<std::int64_t> RemoteLedger::idle_batches() {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.idle);
  std::vector<std::int64_t> ids;
  int rc;
  while ((rc = use.step()) == SQLITE_ROW) ids.push_back(use.int_column(0));
  if (rc != SQLITE_DONE) l.fail("cannot list the batches");
  return ids;
}

std::size_t RemoteLedger::batch_count() {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.count);
  if (use.step() != SQLITE_ROW) l.fail("cannot count the batches");
  return static_cast<std::size_t>(use.int_column(0));
}

bool RemoteLedger::has_live_jobs(std::int64_t batch_id) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.live);
  use.bind(1, batch_id);
  const int rc = use.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) l.fail("cannot read the jobs of batch " + std::to_string(batch_id));
  return rc == SQLITE_ROW;
}

void RemoteLedger::batch_retired(std::int64_t batch_id) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  const std::string what = "cannot record batch " + std::to_string(batch_id) + " as retired";
  {
    Use use(l.retire_jobs);
    use.bind(1, batch_id);
    l.run(use, what);
  }
  Use use(l.retire);
  use.bind(1, batch_id);
  l.run(use, what);
}

}  // namespace mw::boinc::detail
