// Internal: the little of SQLite's C API that mwkit's durable records (the
// master's journal, the remote BOINC ledger) share — opening a file in WAL
// mode with a versioned schema, and prepared statements that cannot be left
// holding a read open. Every error is Errc::journal naming the file.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "mw/error.h"

namespace mw::detail::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

// Opens or creates `path` (its directory must exist), then checks the file's
// format version (PRAGMA user_version): newer than `version` is refused
// (written by a newer mwkit), older runs `schema` and records `version`.
// WAL with synchronous=NORMAL: a commit survives the process being killed.
// `kind` names the file in errors ("journal", "ledger").
DbPtr open_versioned(const std::string& path, int version, const char* schema, const char* kind);

// mkdir -p with private permissions (0700), existing directories left as they
// are; Errc::journal naming `for_file` and the directory that failed.
void make_private_dirs(const std::string& dir, const std::string& for_file);

// Runs constant SQL; Errc::journal "PATH: WHAT: sqlite's message" on failure.
void exec(sqlite3* db, const char* sql, const std::string& path, const std::string& what);

// A prepared statement, reset after every use so it never holds a read open.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, const char* sql, const std::string& path);
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Binds, steps and resets one statement; the reset happens on every exit path.
class Use {
 public:
  explicit Use(const Statement& s) : stmt_(s.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& bind(int i, sqlite3_int64 v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Use& bind_blob(int i, std::string_view v) {
    // SQLITE_STATIC: the bytes outlive the step, which happens within this scope.
    sqlite3_bind_blob64(stmt_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_STATIC);
    return *this;
  }
  Use& bind_text(int i, std::string_view v) {
    sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }

  sqlite3_int64 int_column(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string_view blob_column(int i) const {
    const void* p = sqlite3_column_blob(stmt_, i);
    const int n = sqlite3_column_bytes(stmt_, i);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string_view();
  }
  std::string text_column(int i) const {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace mw::detail::sqlite
