// See util/sqlite.h.
#include "util/sqlite.h"

#include <sys/stat.h>

#include <cerrno>

#include "util/fs.h"

namespace mw::detail::sqlite {
namespace {

constexpr int kBusyTimeoutMs = 10000;

[[noreturn]] void fail(sqlite3* db, const std::string& path, const std::string& what) {
  throw Error(Errc::journal, path + ": " + what + ": " + sqlite3_errmsg(db));
}

// Single-value PRAGMA queries; the SQL is constant.
std::string pragma_text(sqlite3* db, const char* sql, const std::string& path, const char* what) {
  Statement s(db, sql, path);
  Use use(s);
  if (use.step() != SQLITE_ROW) fail(db, path, what);
  return use.text_column(0);
}

}  // namespace

void make_private_dirs(const std::string& dir, const std::string& for_file) {
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      throw Error(Errc::journal, for_file + ": cannot create the directory " + prefix + ": " + errno_text(errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(Errc::journal, for_file + ": " + dir + " is not a directory");
}

Statement::Statement(sqlite3* db, const char* sql, const std::string& path) {
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
    throw Error(Errc::journal, path + ": cannot prepare a statement: " + sqlite3_errmsg(db));
}

void exec(sqlite3* db, const char* sql, const std::string& path, const std::string& what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db, path, what);
}

DbPtr open_versioned(const std::string& path, int version, const char* schema, const char* kind) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);  // closed even when opening failed
  if (rc != SQLITE_OK)
    throw Error(Errc::journal, path + ": cannot open the " + kind + ": " +
                                   (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

  // The first read of the file: this is where a file that is not SQLite shows.
  const std::string what = std::string("not a readable SQLite ") + kind;
  Statement read_version(db.get(), "PRAGMA user_version", path);
  sqlite3_int64 found = 0;
  {
    Use use(read_version);
    if (use.step() != SQLITE_ROW) fail(db.get(), path, what);
    found = use.int_column(0);
  }
  if (found > version)
    throw Error(Errc::journal, path + ": the " + kind + " has format version " + std::to_string(found) +
                                   ", newer than the " + std::to_string(version) +
                                   " this program understands (written by a newer mwkit; use that"
                                   " version or another work directory)");
  const std::string mode = pragma_text(db.get(), "PRAGMA journal_mode=WAL", path, "cannot switch to WAL mode");
  if (mode != "wal")
    throw Error(Errc::journal, path + ": cannot switch the " + kind + " to WAL mode (SQLite kept '" + mode + "')");
  exec(db.get(), "PRAGMA synchronous=NORMAL", path, "cannot set synchronous=NORMAL");
  if (found < version) {
    exec(db.get(), "BEGIN IMMEDIATE", path, std::string("cannot start creating the ") + kind);
    exec(db.get(), schema, path, std::string("cannot create the ") + kind + "'s tables");
    exec(db.get(), ("PRAGMA user_version=" + std::to_string(version)).c_str(), path,
         "cannot record the format version");
    exec(db.get(), "COMMIT", path, std::string("cannot commit the ") + kind + "'s tables");
  }
  return db;
}

}  // namespace mw::detail::sqlite
