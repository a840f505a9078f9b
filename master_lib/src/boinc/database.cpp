#include "mw/boinc/database.h"

#include <errmsg.h>
#include <mysql.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "mw/boinc/project_config.h"
#include "mw/error.h"

namespace mw::boinc {
namespace {

bool connection_lost(unsigned code) {
  return code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST || code == 1927 /* connection killed */;
}

std::string where(const DbParams& p) {
  return "database '" + p.database + "' on " +
         (!p.socket.empty() ? p.socket : p.host + (p.port ? ":" + std::to_string(p.port) : ""));
}

// A short form of the statement for error messages (no values: they are bound).
std::string brief(const std::string& sql) {
  return sql.size() <= 120 ? sql : sql.substr(0, 117) + "...";
}

}  // namespace

const std::string& DbRow::text(std::size_t i) const {
  if (!cells_.at(i)) throw Error(Errc::database, "column " + std::to_string(i) + " is NULL");
  return *cells_[i];
}

std::int64_t DbRow::integer(std::size_t i) const {
  const std::string& t = text(i);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno != 0)
    throw Error(Errc::database, "column " + std::to_string(i) + " is not an integer: '" + t + "'");
  return v;
}

double DbRow::real(std::size_t i) const {
  const std::string& t = text(i);
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0')
    throw Error(Errc::database, "column " + std::to_string(i) + " is not a number: '" + t + "'");
  return v;
}

namespace {

// `statement` with each `?` replaced by its value as an SQL literal. Only
// numbers and NULL: their literals cannot change what the SQL says.
std::string with_literals(const DbStatement& statement) {
  const std::string& sql = statement.sql;
  const auto placeholders = static_cast<std::size_t>(std::count(sql.begin(), sql.end(), '?'));
  if (placeholders != statement.values.size())
    throw Error(Errc::usage, "the statement has " + std::to_string(placeholders) + " placeholders but " +
                                 std::to_string(statement.values.size()) + " values were given (in: " +
                                 brief(sql) + ")");
  std::string out;
  out.reserve(sql.size() + 16 * statement.values.size());
  std::size_t next = 0;
  for (char c : sql) {
    if (c != '?') {
      out += c;
      continue;
    }
    const DbValue& v = statement.values[next++];
    if (std::holds_alternative<std::nullptr_t>(v)) {
      out += "NULL";
    } else if (auto* n = std::get_if<std::int64_t>(&v)) {
      out += std::to_string(*n);
    } else if (auto* d = std::get_if<double>(&v)) {
      if (!std::isfinite(*d))
        throw Error(Errc::usage, "value " + std::to_string(next) + " of a batched statement is not finite (in: " +
                                     brief(sql) + ")");
      // Shortest form that reads back as the same double; the exponent makes
      // it a DOUBLE literal rather than a DECIMAL one.
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, *d, std::chars_format::scientific);
      out.append(buf, r.ptr);
    } else {
      throw Error(Errc::usage, "value " + std::to_string(next) +
                                   " of a batched statement is text; batches take numbers only (in: " +
                                   brief(sql) + ")");
    }
  }
  return out;
}

}  // namespace

struct Database::Impl {
  DbParams params;
  MYSQL* conn = nullptr;
  std::map<std::string, MYSQL_STMT*> statements;  // prepared once, reused
  unsigned last_error = 0;                         // the server's code of the last failure

  ~Impl() { disconnect(); }

  void disconnect() {
    for (auto& [sql, stmt] : statements) mysql_stmt_close(stmt);
    statements.clear();
    if (conn) mysql_close(conn);
    conn = nullptr;
  }

  void connect() {
    disconnect();
    conn = mysql_init(nullptr);
    if (!conn) throw Error(Errc::database, "cannot initialise the MariaDB client library");
    unsigned timeout = params.connect_timeout_seconds;
    mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    // Only ever with our own in-memory handler (load_data_local), so a server
    // cannot make this client read a file of its choosing.
    unsigned int local_infile = 1;
    mysql_options(conn, MYSQL_OPT_LOCAL_INFILE, &local_infile);
    const char* socket = params.socket.empty() ? nullptr : params.socket.c_str();
    if (!mysql_real_connect(conn, params.host.c_str(), params.user.c_str(), params.password.c_str(),
                            params.database.c_str(), params.port, socket,
                            CLIENT_FOUND_ROWS | CLIENT_MULTI_STATEMENTS)) {
      std::string why = mysql_error(conn);
      mysql_close(conn);
      conn = nullptr;
      throw Error(Errc::database, "cannot connect to " + where(params) + " as '" + params.user +
                                      "': " + why);
    }
  }

  [[noreturn]] void fail(const std::string& sql, const std::string& why) {
    throw Error(Errc::database, where(params) + ": " + why + " (in: " + brief(sql) + ")");
  }

  MYSQL_STMT* prepared(const std::string& sql) {
    auto it = statements.find(sql);
    if (it != statements.end()) return it->second;
    MYSQL_STMT* stmt = mysql_stmt_init(conn);
    if (!stmt) fail(sql, "out of memory preparing a statement");
    if (mysql_stmt_prepare(stmt, sql.c_str(), sql.size()) != 0) {
      std::string why = mysql_stmt_error(stmt);
      unsigned code = mysql_stmt_errno(stmt);
      last_error = code;
      mysql_stmt_close(stmt);
      if (connection_lost(code)) throw LostConnection{why};
      fail(sql, why);
    }
    statements.emplace(sql, stmt);
    return stmt;
  }

  struct LostConnection {
    std::string why;
  };

  // Binds and executes; the caller then reads results if any.
  MYSQL_STMT* run(const std::string& sql, const std::vector<DbValue>& values) {
    MYSQL_STMT* stmt = prepared(sql);
    if (mysql_stmt_param_count(stmt) != values.size())
      fail(sql, "the statement has " + std::to_string(mysql_stmt_param_count(stmt)) +
                    " placeholders but " + std::to_string(values.size()) + " values were given");
    std::vector<MYSQL_BIND> binds(values.size());
    std::vector<unsigned long> lengths(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      MYSQL_BIND& b = binds[i];
      std::memset(&b, 0, sizeof b);
      const DbValue& v = values[i];
      if (std::holds_alternative<std::nullptr_t>(v)) {
        b.buffer_type = MYSQL_TYPE_NULL;
      } else if (auto* n = std::get_if<std::int64_t>(&v)) {
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = const_cast<std::int64_t*>(n);
      } else if (auto* d = std::get_if<double>(&v)) {
        b.buffer_type = MYSQL_TYPE_DOUBLE;
        b.buffer = const_cast<double*>(d);
      } else {
        const std::string& s = std::get<std::string>(v);
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = const_cast<char*>(s.data());
        lengths[i] = s.size();
        b.buffer_length = s.size();
        b.length = &lengths[i];
      }
    }
    if (!binds.empty() && mysql_stmt_bind_param(stmt, binds.data()) != 0) fail(sql, mysql_stmt_error(stmt));
    if (mysql_stmt_execute(stmt) != 0) {
      unsigned code = mysql_stmt_errno(stmt);
      std::string why = mysql_stmt_error(stmt);
      last_error = code;
      if (connection_lost(code)) throw LostConnection{why};
      fail(sql, why);
    }
    return stmt;
  }

  std::vector<DbRow> fetch_all(const std::string& sql, MYSQL_STMT* stmt) {
    std::vector<DbRow> rows;
    MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
    if (!meta) return rows;
    const unsigned columns = mysql_num_fields(meta);
    bool update_max = true;
    mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
    if (mysql_stmt_store_result(stmt) != 0) {
      mysql_free_result(meta);
      fail(sql, mysql_stmt_error(stmt));
    }
    MYSQL_FIELD* fields = mysql_fetch_fields(meta);
    std::vector<std::string> buffers(columns);
    std::vector<unsigned long> lengths(columns);
    std::vector<my_bool> nulls(columns), errors(columns);
    std::vector<MYSQL_BIND> binds(columns);
    for (unsigned c = 0; c < columns; ++c) {
      buffers[c].resize(std::max<unsigned long>(fields[c].max_length, 64) + 1);
      std::memset(&binds[c], 0, sizeof binds[c]);
      binds[c].buffer_type = MYSQL_TYPE_STRING;
      binds[c].buffer = buffers[c].data();
      binds[c].buffer_length = buffers[c].size();
      binds[c].length = &lengths[c];
      binds[c].is_null = &nulls[c];
      binds[c].error = &errors[c];
    }
    mysql_free_result(meta);
    if (mysql_stmt_bind_result(stmt, binds.data()) != 0) fail(sql, mysql_stmt_error(stmt));
    for (;;) {
      int r = mysql_stmt_fetch(stmt);
      if (r == MYSQL_NO_DATA) break;
      if (r == 1) {
        std::string why = mysql_stmt_error(stmt);
        mysql_stmt_free_result(stmt);
        fail(sql, why);
      }
      std::vector<std::optional<std::string>> cells(columns);
      for (unsigned c = 0; c < columns; ++c) {
        if (nulls[c]) continue;
        if (lengths[c] <= buffers[c].size()) {
          cells[c] = std::string(buffers[c].data(), lengths[c]);
          continue;
        }
        // Longer than the buffer (MYSQL_DATA_TRUNCATED): fetch this column whole.
        std::string whole(lengths[c], '\0');
        MYSQL_BIND one;
        std::memset(&one, 0, sizeof one);
        unsigned long len = 0;
        one.buffer_type = MYSQL_TYPE_STRING;
        one.buffer = whole.data();
        one.buffer_length = whole.size();
        one.length = &len;
        if (mysql_stmt_fetch_column(stmt, &one, c, 0) != 0) fail(sql, mysql_stmt_error(stmt));
        cells[c] = std::move(whole);
      }
      rows.emplace_back(std::move(cells));
    }
    mysql_stmt_free_result(stmt);
    return rows;
  }
};

Database::Database(DbParams params) : impl_(std::make_unique<Impl>()), params_(std::move(params)) {
  impl_->params = params_;
  impl_->connect();
}

Database::~Database() = default;

void Database::execute(const std::string& sql) {
  begin_if_pending();
  for (int attempt = 0;; ++attempt) {
    if (mysql_real_query(impl_->conn, sql.c_str(), sql.size()) == 0) {
      if (MYSQL_RES* r = mysql_store_result(impl_->conn)) mysql_free_result(r);
      return;
    }
    unsigned code = mysql_errno(impl_->conn);
    impl_->last_error = code;
    if (connection_lost(code) && !in_transaction_ && attempt == 0) {
      impl_->connect();
      continue;
    }
    impl_->fail(sql, mysql_error(impl_->conn));
  }
}

std::uint64_t Database::execute(const std::string& sql, const std::vector<DbValue>& values) {
  begin_if_pending();
  for (int attempt = 0;; ++attempt) {
    try {
      MYSQL_STMT* stmt = impl_->run(sql, values);
      return mysql_stmt_affected_rows(stmt);
    } catch (const Impl::LostConnection& lost) {
      if (in_transaction_ || attempt > 0)
        impl_->fail(sql, "connection lost" + std::string(in_transaction_ ? " inside a transaction" : "") +
                             ": " + lost.why);
      impl_->connect();
    }
  }
}

std::vector<DbRow> Database::query(const std::string& sql, const std::vector<DbValue>& values) {
  begin_if_pending();
  for (int attempt = 0;; ++attempt) {
    try {
      MYSQL_STMT* stmt = impl_->run(sql, values);
      return impl_->fetch_all(sql, stmt);
    } catch (const Impl::LostConnection& lost) {
      if (in_transaction_ || attempt > 0)
        impl_->fail(sql, "connection lost" + std::string(in_transaction_ ? " inside a transaction" : "") +
                             ": " + lost.why);
      impl_->connect();
    }
  }
}

std::uint64_t Database::last_insert_id() const { return mysql_insert_id(impl_->conn); }

bool Database::last_error_was_conflict() const {
  return impl_->last_error == 1213 /* ER_LOCK_DEADLOCK */ || impl_->last_error == 1205 /* ER_LOCK_WAIT_TIMEOUT */;
}

namespace {

struct LoadSource {
  std::string_view data;
  std::size_t offset = 0;
};

int load_init(void** ptr, const char*, void* userdata) {
  *ptr = userdata;
  return 0;
}
int load_read(void* ptr, char* buf, unsigned int len) {
  auto* src = static_cast<LoadSource*>(ptr);
  const std::size_t n = std::min<std::size_t>(len, src->data.size() - src->offset);
  std::memcpy(buf, src->data.data() + src->offset, n);
  src->offset += n;
  return static_cast<int>(n);
}
void load_end(void*) {}
int load_error(void*, char* buf, unsigned int len) {
  std::snprintf(buf, len, "mwkit load_data_local: no data source");
  return 1;
}

// What follows the backslash for each byte LOAD DATA's default format
// escapes; 0 for the bytes that go through as they are.
struct LoadEscapes {
  char as[256] = {};
  constexpr LoadEscapes() {
    as[static_cast<unsigned char>('\\')] = '\\';
    as[static_cast<unsigned char>('\t')] = 't';
    as[static_cast<unsigned char>('\n')] = 'n';
    as[static_cast<unsigned char>('\r')] = 'r';
    as[0] = '0';
  }
};
constexpr LoadEscapes kLoadEscapes;

// The first byte in [p, end) that LOAD DATA's format escapes, or end. Sixteen
// bytes at a time where SSE2 is there (every x86-64): the byte-wise scan
// was a fifth of a 10^4-task inline submission's client instructions.
const char* next_to_escape(const char* p, const char* end) {
#ifdef __SSE2__
  const __m128i backslash = _mm_set1_epi8('\\'), tab = _mm_set1_epi8('\t'), newline = _mm_set1_epi8('\n'),
                cr = _mm_set1_epi8('\r'), nul = _mm_setzero_si128();
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, tab)),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, newline), _mm_cmpeq_epi8(v, cr)), _mm_cmpeq_epi8(v, nul)));
    if (const int mask = _mm_movemask_epi8(hit)) return p + __builtin_ctz(static_cast<unsigned>(mask));
  }
#endif
  while (p != end && kLoadEscapes.as[static_cast<unsigned char>(*p)] == 0) ++p;
  return p;
}

}  // namespace

// Bulk submission sends every workunit's xml_doc through here, so the plain
// stretches between escapes are appended whole (a byte at a time cost half
// of a 10^4-task submission's client time).
void escape_load_field(std::string& out, std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p != end) {
    const char* q = next_to_escape(p, end);
    out.append(p, static_cast<std::size_t>(q - p));
    if (q == end) break;
    const char escaped[2] = {'\\', kLoadEscapes.as[static_cast<unsigned char>(*q)]};
    out.append(escaped, 2);
    p = q + 1;
  }
}

std::uint64_t Database::load_data_local(const std::string& sql, std::string_view rows) {
  begin_if_pending();
  LoadSource source{rows, 0};
  mysql_set_local_infile_handler(impl_->conn, load_init, load_read, load_end, load_error, &source);
  const int rc = mysql_real_query(impl_->conn, sql.c_str(), sql.size());
  mysql_set_local_infile_default(impl_->conn);
  if (rc != 0) impl_->fail(sql, mysql_error(impl_->conn));
  return mysql_affected_rows(impl_->conn);
}

void Database::begin_if_pending() {
  if (committed_)
    throw Error(Errc::usage, "a statement after the transaction was committed by execute_batch");
  if (!begin_pending_) return;
  // Nothing of the transaction has reached the server yet, so a connection
  // lost now may be re-established like one between statements.
  begin_pending_ = false;
  in_transaction_ = false;
  execute("START TRANSACTION");
  in_transaction_ = true;
}

std::vector<DbBatchResult> Database::execute_batch(const std::vector<DbStatement>& statements, bool commit) {
  if (committed_)
    throw Error(Errc::usage, "a statement after the transaction was committed by execute_batch");
  if (commit && !in_transaction_) throw Error(Errc::usage, "execute_batch commits only inside transaction()");
  // What is sent, in order; "START TRANSACTION" / "COMMIT" have no result slot.
  static const std::string begin_sql = "START TRANSACTION", commit_sql = "COMMIT";
  std::vector<const std::string*> sent;
  std::string text;
  const bool begins = begin_pending_;
  if (begins) {
    sent.push_back(&begin_sql);
    text = begin_sql + ";\n";
  }
  for (const auto& s : statements) {
    sent.push_back(&s.sql);
    text += with_literals(s);
    text += ";\n";
  }
  if (commit) {
    sent.push_back(&commit_sql);
    text += commit_sql;
  }
  if (sent.empty()) return {};
  begin_pending_ = false;
  std::vector<DbBatchResult> results;
  for (int attempt = 0;; ++attempt) {
    results.clear();
    std::size_t at = 0;  // index in `sent` of the statement whose result is read
    int rc = mysql_real_query(impl_->conn, text.c_str(), text.size());
    while (rc == 0) {
      const std::string* sql = sent.at(at);
      MYSQL_RES* res = mysql_store_result(impl_->conn);
      if (sql != &begin_sql && sql != &commit_sql) {
        DbBatchResult r;
        if (res) {
          const unsigned columns = mysql_num_fields(res);
          while (MYSQL_ROW row = mysql_fetch_row(res)) {
            const unsigned long* lengths = mysql_fetch_lengths(res);
            std::vector<std::optional<std::string>> cells(columns);
            for (unsigned c = 0; c < columns; ++c)
              if (row[c]) cells[c] = std::string(row[c], lengths[c]);
            r.rows.emplace_back(std::move(cells));
          }
        } else if (mysql_field_count(impl_->conn) != 0) {
          rc = 1;  // a query whose rows could not be read: reported below
          break;
        } else {
          r.affected = mysql_affected_rows(impl_->conn);
        }
        results.push_back(std::move(r));
      }
      if (res) mysql_free_result(res);
      const int more = mysql_next_result(impl_->conn);
      if (more < 0) break;
      ++at;
      rc = more;
    }
    if (rc == 0) break;
    const unsigned code = mysql_errno(impl_->conn);
    impl_->last_error = code;
    const std::string& failed = *sent.at(std::min(at, sent.size() - 1));
    if (connection_lost(code)) {
      // Sent again only when that cannot do anything twice: a batch that
      // opened its transaction and does not commit (the server rolled it back
      // with the connection), or, outside a transaction, one of which no
      // statement had answered yet (as execute() retries a single statement).
      const bool resendable = in_transaction_ ? begins && !commit : !commit && at == 0;
      if (resendable && attempt == 0) {
        impl_->connect();
        continue;
      }
      impl_->fail(failed, "connection lost" + std::string(in_transaction_ ? " inside a transaction" : "") + ": " +
                              mysql_error(impl_->conn));
    }
    const std::string why = mysql_error(impl_->conn);
    // Whatever the server still sends after a failure is read and dropped, so
    // the connection stays usable.
    while (mysql_more_results(impl_->conn) && mysql_next_result(impl_->conn) == 0)
      if (MYSQL_RES* rest = mysql_store_result(impl_->conn)) mysql_free_result(rest);
    impl_->fail(failed, why);
  }
  if (commit) committed_ = true;
  return results;
}

void Database::transaction(const std::function<void()>& body) {
  if (in_transaction_) throw Error(Errc::usage, "Database::transaction does not nest");
  impl_->last_error = 0;
  // START TRANSACTION is sent with the body's first statement (begin_if_pending,
  // execute_batch): one round trip less per transaction.
  in_transaction_ = true;
  begin_pending_ = true;
  committed_ = false;
  try {
    body();
    const bool began = !begin_pending_, committed = committed_;
    in_transaction_ = begin_pending_ = committed_ = false;
    if (began && !committed) execute("COMMIT");
  } catch (...) {
    const bool began = !begin_pending_;
    in_transaction_ = begin_pending_ = committed_ = false;
    // A lost connection already rolled the transaction back on the server.
    if (began && mysql_rollback(impl_->conn) != 0) {
    }
    throw;
  }
}

void Database::transaction_retrying(const std::function<void()>& body, int attempts) {
  for (int attempt = 1;; ++attempt) {
    try {
      transaction(body);
      return;
    } catch (const Error& e) {
      if (e.code() != Errc::database || !last_error_was_conflict() || attempt >= attempts) throw;
    }
  }
}

std::string sql_placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

DbParams db_params_from(const ProjectConfig& config) {
  DbParams p;
  p.host = config.db_host.empty() ? "localhost" : config.db_host;
  p.port = config.db_port > 0 ? static_cast<unsigned>(config.db_port) : 0;
  p.user = config.db_user;
  p.password = config.db_passwd;
  p.database = config.db_name;
  return p;
}

}  // namespace mw::boinc
