// The master's journal in SQLite: one row per task id.
//
// Durability: WAL with synchronous=NORMAL. A commit has been written to the
// WAL file (in the kernel's page cache) when it returns, so a killed process
// loses nothing that was committed; only a power loss or kernel crash can lose
// the last few commits. Surviving a killed master is what we promise, and it
// keeps a commit free of fsync.
//
// Batching: submissions are the hot path (up to 10^6 per run) and losing
// uncommitted ones is harmless (the restarted program submits them again), so
// consecutive submit() calls share one open write transaction. It is committed
// by the next finished()/delivered()/cancelled() (whose own change must be
// durable before they return), after kMaxPendingSubmits submissions, or when
// the journal closes.
#include "master/journal.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <limits>
#include <mutex>
#include <utility>

#include "util/fs.h"
#include "util/sqlite.h"

namespace mw::detail {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kMaxPendingSubmits = 4096;
constexpr const char* kFileName = "journal.sqlite";

// Blob last: scans such as count() then never touch overflow pages.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS tasks ("
    "  id INTEGER PRIMARY KEY,"
    "  state INTEGER NOT NULL,"
    "  fingerprint BLOB NOT NULL,"
    "  submitted_at INTEGER NOT NULL,"  // Unix time in milliseconds
    "  finished_at INTEGER,"
    "  updated_at INTEGER NOT NULL,"    // last change of state
    "  outcome BLOB"                    // encode_outcome(); NULL until finished
    ")";

// Stored values are spelled out, not taken from the enum's order, so that
// reordering Journal::State cannot change what an old journal means.
int state_code(Journal::State s) {
  switch (s) {
    case Journal::State::submitted: return 0;
    case Journal::State::finished: return 1;
    case Journal::State::delivered: return 2;
    case Journal::State::cancelled: return 3;
  }
  return -1;
}

std::optional<Journal::State> state_from_code(sqlite3_int64 code) {
  switch (code) {
    case 0: return Journal::State::submitted;
    case 1: return Journal::State::finished;
    case 2: return Journal::State::delivered;
    case 3: return Journal::State::cancelled;
    default: return std::nullopt;
  }
}

sqlite3_int64 now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

using sqlite::DbPtr;
using sqlite::Statement;
using sqlite::Use;

}  // namespace

struct Journal::Impl {
  std::string path;
  DbPtr db;
  Statement begin, commit, insert, select, mark_finished, mark_state, count;
  int pending_submits = 0;
  mutable std::mutex mutex;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::journal, path + ": " + what + ": " + sqlite3_errmsg(db.get()));
  }

  void prepare() {
    auto p = [&](const char* sql) { return Statement(db.get(), sql, path); };
    begin = p("BEGIN");
    commit = p("COMMIT");
    insert = p("INSERT OR IGNORE INTO tasks (id, state, fingerprint, submitted_at, updated_at)"
               " VALUES (?1, ?2, ?3, ?4, ?4)");
    select = p("SELECT state, fingerprint, outcome FROM tasks WHERE id = ?1");
    mark_finished = p("UPDATE tasks SET state = ?2, outcome = ?3, finished_at = ?4, updated_at = ?4"
                      " WHERE id = ?1");
    mark_state = p("UPDATE tasks SET state = ?2, updated_at = ?3 WHERE id = ?1");
    count = p("SELECT COUNT(*) FROM tasks WHERE state = ?1");
  }

  // SQLite itself is the truth about the transaction: it may have rolled one
  // back on its own after an I/O error.
  bool in_transaction() const { return sqlite3_get_autocommit(db.get()) == 0; }

  void ensure_transaction() {
    if (in_transaction()) return;
    pending_submits = 0;
    Use use(begin);
    if (use.step() != SQLITE_DONE) fail("cannot begin a transaction");
  }

  void commit_now() {
    if (!in_transaction()) return;
    Use use(commit);
    if (use.step() != SQLITE_DONE) fail("cannot commit to the journal");
    pending_submits = 0;
  }

  static sqlite3_int64 key(std::uint64_t id, const std::string& path) {
    if (id > static_cast<std::uint64_t>(std::numeric_limits<sqlite3_int64>::max()))
      throw Error(Errc::journal, path + ": task id " + std::to_string(id) + " is out of range");
    return static_cast<sqlite3_int64>(id);
  }

  bool insert_submitted(std::uint64_t id, std::string_view fingerprint) {
    Use use(insert);
    use.bind(1, key(id, path)).bind(2, state_code(State::submitted)).bind_blob(3, fingerprint);
    use.bind(4, now_ms());
    if (use.step() != SQLITE_DONE) fail("cannot record task " + std::to_string(id));
    return sqlite3_changes(db.get()) == 1;
  }

  Record existing_record(std::uint64_t id, std::string_view fingerprint) {
    Use use(select);
    use.bind(1, key(id, path));
    const int rc = use.step();
    if (rc != SQLITE_ROW) fail("cannot read task " + std::to_string(id));
    if (use.blob_column(1) != fingerprint)
      throw Error(Errc::journal,
                  path + ": task " + std::to_string(id) +
                      " differs from the one the journal recorded in an earlier run (the program"
                      " must submit the same tasks in the same order to resume)");
    const auto code = use.int_column(0);
    const auto state = state_from_code(code);
    if (!state)
      throw Error(Errc::journal, path + ": task " + std::to_string(id) + " has an unknown state " +
                                     std::to_string(code));
    Record record;
    record.state = *state;
    if (*state == State::finished || *state == State::delivered) {
      if (use.is_null(2))
        throw Error(Errc::journal, path + ": task " + std::to_string(id) +
                                       " is recorded as finished but has no outcome");
      record.outcome = decode_outcome(use.blob_column(2),
                                      path + ": outcome of task " + std::to_string(id));
    }
    return record;
  }

  // Runs an UPDATE of one row and makes it durable, with any pending submissions.
  void update_and_commit(Use& use, std::uint64_t id, const char* what) {
    ensure_transaction();
    if (use.step() != SQLITE_DONE) fail(std::string("cannot record task ") + std::to_string(id) + " as " + what);
    if (sqlite3_changes(db.get()) != 1)
      throw Error(Errc::journal, path + ": cannot record task " + std::to_string(id) + " as " + what +
                                     ": the journal has no such task (it was never submitted)");
    commit_now();
  }

  void set_state(std::uint64_t id, State state, const char* what) {
    Use use(mark_state);
    use.bind(1, key(id, path)).bind(2, state_code(state)).bind(3, now_ms());
    update_and_commit(use, id, what);
  }
};

Journal::Journal(const std::string& work_dir) : impl_(std::make_unique<Impl>()) {
  impl_->path = join_path(work_dir, kFileName);
  sqlite::make_private_dirs(work_dir, impl_->path);
  impl_->db = sqlite::open_versioned(impl_->path, kSchemaVersion, kSchema, "journal");
  impl_->prepare();
}

Journal::~Journal() {
  if (!impl_) return;
  try {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->commit_now();
  } catch (...) {
    // Only submissions can be pending here; the next run submits them again.
  }
}

const std::string& Journal::path() const { return impl_->path; }

std::optional<Journal::Record> Journal::submit(std::uint64_t id, std::string_view fingerprint) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Impl& j = *impl_;
  j.ensure_transaction();
  // Insert first: new tasks are the common case and then cost one statement.
  if (j.insert_submitted(id, fingerprint)) {
    if (++j.pending_submits >= kMaxPendingSubmits) j.commit_now();
    return std::nullopt;
  }
  return j.existing_record(id, fingerprint);
}

void Journal::finished(std::uint64_t id, const Outcome& outcome) {
  const std::string bytes = encode_outcome(outcome);  // outside the lock: it may be large
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Impl& j = *impl_;
  Use use(j.mark_finished);
  use.bind(1, Impl::key(id, j.path)).bind(2, state_code(State::finished)).bind_blob(3, bytes);
  use.bind(4, now_ms());
  j.update_and_commit(use, id, "finished");
}

void Journal::delivered(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->set_state(id, State::delivered, "delivered");
}

void Journal::cancelled(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->set_state(id, State::cancelled, "cancelled");
}

std::uint64_t Journal::count(State state) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Use use(impl_->count);
  use.bind(1, state_code(state));
  if (use.step() != SQLITE_ROW) impl_->fail("cannot count tasks");
  return static_cast<std::uint64_t>(use.int_column(0));
}

}  // namespace mw::detail
