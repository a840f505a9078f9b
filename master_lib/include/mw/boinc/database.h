// mw/boinc/database.h — the BOINC project's MariaDB, through MariaDB Connector/C.
//
// Every statement with data is a prepared statement (values are bound, never
// pasted into SQL), except in execute_batch, which writes numbers (never text)
// into the SQL as literals to send several statements in one round trip.
// Connections use CLIENT_FOUND_ROWS as BOINC's own code does, so "rows
// affected" counts matched rows. A connection lost between statements
// is re-established once, transparently; one lost inside a transaction is an
// error (the caller retries the whole transaction, which the server rolled back).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mw::boinc {

struct DbParams {
  std::string host = "localhost";  // "localhost" means the unix socket unless `socket` is set
  unsigned port = 0;               // 0 = the server default
  std::string socket;              // unix socket path (overrides host/port)
  std::string user;
  std::string password;
  std::string database;
  unsigned connect_timeout_seconds = 10;
};

// A value bound to a placeholder: NULL, integer, floating point or text/blob.
using DbValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

// "?, ?, ?" with n placeholders: the inside of an IN (...) list of n values.
std::string sql_placeholders(std::size_t n);

// One result row: each column as text (as the server sends it), or nullopt for NULL.
class DbRow {
 public:
  explicit DbRow(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
  std::size_t size() const { return cells_.size(); }
  bool is_null(std::size_t i) const { return !cells_.at(i); }
  const std::string& text(std::size_t i) const;      // Errc::database if NULL
  std::int64_t integer(std::size_t i) const;         // Errc::database if not an integer
  double real(std::size_t i) const;

 private:
  std::vector<std::optional<std::string>> cells_;
};

// One statement of a batch (Database::execute_batch): SQL with `?`
// placeholders — every `?` in the text is one, so the SQL must not contain a
// literal question mark — and their values: NULL, integers and finite floating
// point only.
struct DbStatement {
  std::string sql;
  std::vector<DbValue> values;
};

// What one statement of a batch returned.
struct DbBatchResult {
  std::uint64_t affected = 0;  // rows matched, for a statement that changes rows
  std::vector<DbRow> rows;     // the rows of a query
};

class Database {
 public:
  // Connects; throws Error(Errc::database) naming database, host and the server's reason.
  explicit Database(DbParams params);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const DbParams& params() const { return params_; }

  // A statement without parameters (DDL, SET, ...).
  void execute(const std::string& sql);
  // A statement with `?` placeholders; returns the number of rows affected (matched).
  std::uint64_t execute(const std::string& sql, const std::vector<DbValue>& values);
  // A query with `?` placeholders; returns every row.
  std::vector<DbRow> query(const std::string& sql, const std::vector<DbValue>& values = {});
  std::uint64_t last_insert_id() const;
  // True when the last failed statement lost a lock conflict (deadlock, lock
  // wait timeout): the server rolled the transaction back and running the
  // whole transaction again is the remedy.
  bool last_error_was_conflict() const;

  // Runs `statements` in order in one round trip to the server (a multi-statement
  // text query; the values written into the SQL as literals, which is why text
  // values are refused with Errc::usage) and returns what each returned. The
  // server stops at the first statement that fails: Errc::database naming it.
  // Inside transaction(), the transaction's START TRANSACTION travels with the
  // first statement the body sends, and with `commit` the COMMIT travels with
  // this batch: the transaction ends here and the body may send nothing more.
  // Each round trip costs both processes a wake-up and the server a network
  // read and write, the bulk of a small statement's cost.
  std::vector<DbBatchResult> execute_batch(const std::vector<DbStatement>& statements, bool commit = false);

  // Streams `rows` into the server with LOAD DATA LOCAL INFILE: `sql` is the
  // whole statement ("LOAD DATA LOCAL INFILE 'rows' INTO TABLE t (a, b) SET
  // c = 0"); the file name in it is ignored — the client sends `rows` from
  // memory (never a file), in the default text format: fields separated by
  // tabs, rows by newlines, each field escaped with escape_load_field, NULL as
  // \N. Returns the rows affected. Note that with LOCAL the server skips a
  // row that breaks a unique key with a warning instead of failing: compare
  // the count with what was sent. Errc::database when the server refuses
  // (local_infile off): callers fall back to INSERT.
  std::uint64_t load_data_local(const std::string& sql, std::string_view rows);

  // Runs `body` in a transaction: commit when it returns, rollback when it throws.
  void transaction(const std::function<void()>& body);
  // The same, run again (up to `attempts` times in all) while it fails with a
  // lock conflict (last_error_was_conflict); `body` must be safe to repeat.
  void transaction_retrying(const std::function<void()>& body, int attempts = 3);
  bool in_transaction() const { return in_transaction_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DbParams params_;
  bool in_transaction_ = false;
  bool begin_pending_ = false;  // in a transaction whose START TRANSACTION is not sent yet
  bool committed_ = false;      // the transaction's COMMIT went with a batch

  // Sends a pending START TRANSACTION before a statement of the body.
  void begin_if_pending();
};

// Appends `text` to `out` escaped for LOAD DATA's default text format.
void escape_load_field(std::string& out, std::string_view text);

struct ProjectConfig;
// The connection config.xml describes (db_host, db_port, db_user, db_passwd,
// db_name), as BOINC's daemons make it.
DbParams db_params_from(const ProjectConfig& config);

}  // namespace mw::boinc
