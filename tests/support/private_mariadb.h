// A private MariaDB server for tests: its own datadir, unix socket and TCP port
// in a fresh temporary directory, never the system instance.
//
//   auto& db = mw::test::PrivateMariaDb::shared();   // one server per test binary
//   db.create_database("t_mytest");                  // a fresh database per test
//   db.load_schema("t_mytest", MW_BOINC_SCHEMA);     // BOINC-compatible tables
//   auto rows = db.query_rows("t_mytest", "SELECT name FROM workunit");
//
// The server is installed with mariadb-install-db and runs with grant tables, so
// logins are real: user() / password() is a BOINC-style account ("boincadm")
// with all privileges, reachable over TCP at host():port() (what BOINC's
// config.xml <db_host> would name) and over socket_path().
//
// The temporary directory goes under $MW_TEST_MARIADB_ROOT when it is set
// (the benchmarks' --db-root: a datadir on the file system being measured, as
// a real server has it), else under $TMPDIR, else /tmp.
//
// Programs are started with fork/exec and an argv vector (no shell). The server
// gets SIGTERM when the thread that started it dies, so a crashed test binary
// does not leave it running (its temporary directory may stay behind then).
#pragma once

#include <sys/types.h>

#include <mysql.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mw::test {

// One result row: column name -> value as the server sent it (text protocol).
// SQL NULL columns are absent from the map, so NULL, "" and "NULL" differ.
using SqlRow = std::map<std::string, std::string>;

// An open client connection; closed when the object dies.
class SqlConnection {
 public:
  explicit SqlConnection(MYSQL* mysql);  // takes ownership
  MYSQL* get() const { return mysql_.get(); }

  // Runs one statement and discards any result; throws mw::Error naming the
  // statement and the server's error.
  void execute(const std::string& sql);
  // Runs one statement and returns its rows (empty for statements without any).
  std::vector<SqlRow> rows(const std::string& sql);
  // Column names of `sql`'s result, in the server's order.
  std::vector<std::string> columns(const std::string& sql);
  // SQL string literal for `text`, quotes included ('...').
  std::string quote(const std::string& text);

 private:
  struct Closer {
    void operator()(MYSQL* m) const { mysql_close(m); }
  };
  std::unique_ptr<MYSQL, Closer> mysql_;
};

class PrivateMariaDb {
 public:
  // Installs a datadir and starts mariadbd; throws mw::Error (with the tail of
  // the server's log) if it cannot. Takes about a second.
  PrivateMariaDb();
  // Stops the server (SIGTERM, then SIGKILL after 10 s) and removes the directory.
  ~PrivateMariaDb();
  PrivateMariaDb(const PrivateMariaDb&) = delete;
  PrivateMariaDb& operator=(const PrivateMariaDb&) = delete;

  // The server of this test binary, started on first use and stopped at exit.
  static PrivateMariaDb& shared();

  const std::string& socket_path() const { return socket_path_; }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  // An empty database made at start-up; tests should prefer create_database().
  const std::string& database() const { return database_; }
  // The temporary directory holding datadir, socket and logs.
  const std::string& directory() const { return dir_; }
  pid_t pid() const { return pid_; }
  // Wall time from constructor entry until the server accepted logins.
  double start_seconds() const { return start_seconds_; }

  // (Re)creates an empty database `name` ([A-Za-z0-9_]{1,64}), dropping any old one.
  void create_database(const std::string& name);
  // Runs every statement of the SQL file at `path` in database `db`, in order.
  // Supports comments and quoted text; no DELIMITER changes.
  void load_schema(const std::string& db, const std::string& path);
  // A connection as user() over the unix socket with `db` selected ("" = none).
  // `client_flags` are mysql_real_connect flags (BOINC uses CLIENT_FOUND_ROWS).
  SqlConnection connect(const std::string& db, unsigned long client_flags = 0) const;
  // The same over TCP to host():port(), the way BOINC daemons connect.
  SqlConnection connect_tcp(const std::string& db, unsigned long client_flags = 0) const;
  std::vector<SqlRow> query_rows(const std::string& db, const std::string& sql) const;
  // (Re)creates the account `user` ([A-Za-z0-9_]) with `password` that may
  // only SELECT in database `db`, over the socket and over TCP: the read-only
  // user an operator gives a status page.
  void create_read_only_user(const std::string& db, const std::string& user, const std::string& password) const;

  // Stops the server (SIGTERM, as an operator's restart does), waits
  // `down_seconds`, and starts it again on the same datadir, socket and port;
  // returns once it accepts logins. Clients see their connections dropped.
  void restart(double down_seconds = 0);

  // The last `lines` lines of the server's error log (for failure messages).
  std::string log_tail(std::size_t lines = 30) const;

 private:
  void make_directory();
  void install_datadir();
  void start_server();
  std::string wait_until_ready(double timeout_seconds);
  void set_up_accounts();
  void stop_server() noexcept;
  SqlConnection connect_as_root() const;
  [[noreturn]] void fail(const std::string& what) const;

  pid_t owner_pid_ = 0;   // the process that created us; only it may stop the server
  pid_t pid_ = 0;
  std::string dir_;
  std::string socket_path_;
  std::string error_log_;
  int port_ = 0;
  std::string user_ = "boincadm";
  std::string password_;
  std::string root_password_;
  std::string database_ = "mw_boinc";
  double start_seconds_ = 0;
};

// Splits SQL text into statements at ';' outside quotes and comments. Pieces that
// hold only comments or white space are dropped. `first_lines`, if given,
// receives the 1-based line on which each statement's text starts.
std::vector<std::string> split_sql_statements(const std::string& text,
                                              std::vector<int>* first_lines = nullptr);

}  // namespace mw::test
