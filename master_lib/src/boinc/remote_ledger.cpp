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

constexpr int kSchemaVersion = 1;
constexpr const char* kFileName = "boinc_remote.sqlite";

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS batches ("
    "  id INTEGER PRIMARY KEY,"   // BOINC's batch id
    "  name TEXT NOT NULL,"
    "  retired INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE IF NOT EXISTS jobs ("
    "  name TEXT PRIMARY KEY,"
    "  task_id INTEGER NOT NULL,"
    "  fingerprint BLOB NOT NULL,"
    "  batch_id INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  output BLOB"               // the fetched result bundle, until handed over
    ");"
    "CREATE INDEX IF NOT EXISTS jobs_by_task ON jobs (task_id);"
    "CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (batch_id, state);";

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
  Statement begin, commit, rollback, insert_batch, supersede, insert_job, set_batch_state, set_state,
      set_fetched, find, idle, live, count, retire, retire_jobs;
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
  auto p = [&](const char* sql) { return Statement(l.db.get(), sql, l.path); };
  l.begin = p("BEGIN IMMEDIATE");
  l.commit = p("COMMIT");
  l.rollback = p("ROLLBACK");
  l.insert_batch = p("INSERT OR REPLACE INTO batches (id, name, retired) VALUES (?1, ?2, 0)");
  l.supersede = p("UPDATE jobs SET state = 3, output = NULL WHERE task_id = ?1 AND state <> 3");
  l.insert_job = p("INSERT OR REPLACE INTO jobs (name, task_id, fingerprint, batch_id, state)"
                   " VALUES (?1, ?2, ?3, ?4, 0)");
  l.set_batch_state = p("UPDATE jobs SET state = ?2 WHERE batch_id = ?1 AND state = 0");
  l.set_state = p("UPDATE jobs SET state = ?2, output = NULL WHERE name = ?1");
  l.set_fetched = p("UPDATE jobs SET state = 2, output = ?2 WHERE name = ?1");
  l.find = p("SELECT name, batch_id, state, output FROM jobs"
             " WHERE task_id = ?1 AND fingerprint = ?2 AND state <> 3 ORDER BY rowid DESC LIMIT 1");
  l.idle = p("SELECT id FROM batches WHERE retired = 0 AND NOT EXISTS"
             " (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id AND jobs.state <> 3)");
  l.live = p("SELECT 1 FROM jobs WHERE batch_id = ?1 AND state <> 3 LIMIT 1");
  l.count = p("SELECT COUNT(*) FROM batches");
  l.retire = p("UPDATE batches SET retired = 1 WHERE id = ?1");
  l.retire_jobs = p("UPDATE jobs SET state = 3, output = NULL WHERE batch_id = ?1");
}

RemoteLedger::~RemoteLedger() = default;

const std::string& RemoteLedger::path() const { return impl_->path; }

void RemoteLedger::record_batch(std::int64_t batch_id, const std::string& batch_name,
                                const std::vector<NewJob>& jobs) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  const std::string what = "cannot record batch " + std::to_string(batch_id);
  {
    Use use(l.begin);
    l.run(use, what);
  }
  try {
    {
      Use use(l.insert_batch);
      use.bind(1, batch_id).bind_text(2, batch_name);
      l.run(use, what);
    }
    for (const NewJob& job : jobs) {
      {
        Use use(l.supersede);
        use.bind(1, Impl::key(job.task_id, l.path));
        l.run(use, what);
      }
      Use use(l.insert_job);
      use.bind_text(1, job.name).bind(2, Impl::key(job.task_id, l.path)).bind_blob(3, job.fingerprint);
      use.bind(4, batch_id);
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

void RemoteLedger::batch_submitted(std::int64_t batch_id) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.set_batch_state);
  use.bind(1, batch_id).bind(2, code(JobState::submitted));
  l.run(use, "cannot record batch " + std::to_string(batch_id) + " as submitted");
}

void RemoteLedger::batch_refused(std::int64_t batch_id) {
  Impl& l = *impl_;
  std::lock_guard<std::mutex> lock(l.mutex);
  Use use(l.set_batch_state);
  use.bind(1, batch_id).bind(2, kDone);
  l.run(use, "cannot record batch " + std::to_string(batch_id) + " as refused");
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
  job.batch_id = use.int_column(1);
  switch (use.int_column(2)) {
    case 0: job.state = JobState::pending; break;
    case 1: job.state = JobState::submitted; break;
    case 2: job.state = JobState::fetched; break;
    default:
      throw Error(Errc::journal, l.path + ": job " + job.name + " has an unknown state " +
                                     std::to_string(use.int_column(2)));
  }
  if (job.state == JobState::fetched) job.output = std::string(use.blob_column(3));
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
