// See private_mariadb.h. Layout of the temporary directory:
//   DIR/owner.pid     pid of the test process that owns the server
//   DIR/data/         the datadir (mariadb-install-db)
//   DIR/tmp/          the server's --tmpdir
//   DIR/mysqld.sock   unix socket
//   DIR/server.log    the server's error log (plus its stdout/stderr)
//   DIR/install.log   output of mariadb-install-db
#include "support/private_mariadb.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "mw/error.h"

namespace mw::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kInstallDb = "/usr/bin/mariadb-install-db";
constexpr const char* kServer = "/usr/sbin/mariadbd";
constexpr double kInstallTimeout = 120;
constexpr double kReadyTimeout = 30;
constexpr double kStopTimeout = 10;
constexpr int kStartAttempts = 3;   // a new port each time, in case one was taken

std::string errno_text(int err) { return std::strerror(err); }

[[noreturn]] void throw_system(const std::string& what) {
  throw Error(Errc::system, what + ": " + errno_text(errno));
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string last_lines(const std::string& text, std::size_t count) {
  std::deque<std::string> kept;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    kept.push_back(line);
    if (kept.size() > count) kept.pop_front();
  }
  std::string out;
  for (const auto& line : kept) out += "    " + line + "\n";
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::random_device device;
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned value = device() & 0xffu;
    out += digits[value >> 4];
    out += digits[value & 0xfu];
  }
  return out;
}

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back).
int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_system("socket() while looking for a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    throw_system("binding 127.0.0.1:0 to find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// In the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char* const* argv, const char* log_path, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) ::signal(sig, SIG_DFL);
  int in = ::open("/dev/null", O_RDONLY);
  int out = ::open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (in < 0 || out < 0) ::_exit(125);
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(out, STDERR_FILENO);
  if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
    for (int fd = 3; fd < 4096; ++fd) ::close(fd);
  }
  ::execv(argv[0], argv);
  static const char msg[] = "exec failed: ";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  ignored = ::write(STDERR_FILENO, argv[0], std::strlen(argv[0]));
  ignored = ::write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  ::_exit(127);
}

// Starts argv[0] with argv (no shell), stdin from /dev/null, stdout and stderr
// appended to log_path. The child gets SIGTERM if the calling thread dies.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw_system("fork() to start " + argv[0]);
  if (pid == 0) exec_child(args.data(), log_path.c_str(), parent);
  return pid;
}

// Waits up to `seconds` for `pid` to end. Returns its wait status, -1 if it was
// already reaped elsewhere, nothing on timeout.
std::optional<int> wait_for_exit(pid_t pid, double seconds) {
  auto start = Clock::now();
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (seconds_since(start) >= seconds) return std::nullopt;
    sleep_ms(20);
  }
}

std::string describe_status(int status) {
  if (status == -1) return "ended (reaped elsewhere)";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// MW_TEST_MARIADB_SERVER_DEFAULTS=1 (the benchmarks set it): InnoDB as a
// stock MariaDB runs it — 128 MiB buffer pool, a durable log flush at every
// commit — so figures compare with a real BOINC server. Tests run smaller
// and without the flush, which makes no difference to what they check.
bool server_defaults() {
  const char* v = std::getenv("MW_TEST_MARIADB_SERVER_DEFAULTS");
  return v && std::string(v) == "1";
}

// Flags shared by the bootstrap run and the real server: small and quick.
std::vector<std::string> sizing_options() {
  std::vector<std::string> options = {"--skip-log-bin", "--character-set-server=utf8mb4",
                                      "--collation-server=utf8mb4_general_ci"};
  if (!server_defaults()) {
    options.push_back("--innodb-buffer-pool-size=64M");
    options.push_back("--innodb-log-file-size=16M");
  }
  return options;
}

bool running_as_root() { return ::geteuid() == 0; }

// Where the server's directory goes (see private_mariadb.h). The socket path
// must fit in sun_path (108 bytes): $TMPDIR is skipped when it is long, and a
// long $MW_TEST_MARIADB_ROOT is an error rather than a silent move, since
// whoever sets it wants the datadir on that file system.
std::string base_directory() {
  constexpr std::size_t kMaxBase = 60;
  if (const char* env = std::getenv("MW_TEST_MARIADB_ROOT"); env && *env) {
    // mariadb-install-db fails on a relative datadir.
    const std::string root = fs::absolute(env).lexically_normal().string();
    if (root.size() >= kMaxBase)
      throw Error(Errc::usage, "MW_TEST_MARIADB_ROOT '" + root + "' is " + std::to_string(root.size()) +
                                   " characters long; the server's socket path must fit in 108 bytes, so use "
                                   "a directory of at most " + std::to_string(kMaxBase - 1));
    return root.size() > 1 && root.back() == '/' ? root.substr(0, root.size() - 1) : root;
  }
  const char* env = std::getenv("TMPDIR");
  return (env && *env && std::strlen(env) < kMaxBase) ? env : "/tmp";
}

constexpr const char* kDirPrefix = "mw-mariadb-";
constexpr const char* kOwnerFile = "owner.pid";

// True if something listens on the unix socket at `path`.
bool socket_listens(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Non-blocking: a server that is alive but stuck (its backlog full) must
  // not hang the test that merely asks; EAGAIN means someone is there.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN;
  ::close(fd);
  return ok;
}

// Kills the server of an abandoned fixture directory: its pid file names a
// process whose command line mentions this very directory (so a recycled pid
// is never hit). Returns true if it was killed or is gone.
bool kill_abandoned_server(const fs::path& dir) {
  std::ifstream pid_file(dir / "mariadbd.pid");
  long pid = 0;
  if (!(pid_file >> pid) || pid <= 0) return false;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  if (args.find(dir.string()) == std::string::npos) return false;
  ::kill(static_cast<pid_t>(pid), SIGKILL);
  for (int i = 0; i < 100 && ::kill(static_cast<pid_t>(pid), 0) == 0; ++i) ::usleep(20000);
  return true;
}

// Removes directories of earlier fixtures whose test process is gone (killed
// before its destructor ran; the server itself died with it). A directory is
// only removed when its owner file names a pid that no longer exists and no
// server answers on its socket (a pid from another pid namespace looks gone).
void remove_abandoned_directories(const std::string& base) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(kDirPrefix, 0) != 0) continue;
    std::ifstream owner_file(entry.path() / kOwnerFile);
    long owner = 0;
    if (!(owner_file >> owner) || owner <= 0) continue;
    if (::kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) continue;
    // The owner died without stopping its server (killed, say): stop it.
    if (socket_listens((entry.path() / "mysqld.sock").string()) && !kill_abandoned_server(entry.path()))
      continue;
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
}

bool valid_identifier(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string shorten(const std::string& sql, std::size_t max = 300) {
  return sql.size() <= max ? sql : sql.substr(0, max) + " ...";
}

MYSQL* new_handle(unsigned int protocol) {
  static std::once_flag library_once;
  std::call_once(library_once, [] { mysql_library_init(0, nullptr, nullptr); });
  MYSQL* m = mysql_init(nullptr);
  if (!m) throw Error(Errc::system, "mysql_init failed (out of memory?)");
  unsigned int timeout = 10;
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  return m;
}

struct ResultFree {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};
using ResultPtr = std::unique_ptr<MYSQL_RES, ResultFree>;

void run_query(MYSQL* m, const std::string& sql) {
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) {
    throw Error(Errc::system, "SQL failed (error " + std::to_string(mysql_errno(m)) + ": " +
                                  mysql_error(m) + "): " + shorten(sql));
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// SqlConnection
// ---------------------------------------------------------------------------

SqlConnection::SqlConnection(MYSQL* mysql) : mysql_(mysql) {}

void SqlConnection::execute(const std::string& sql) {
  run_query(get(), sql);
  ResultPtr result(mysql_store_result(get()));  // discard any rows
}

std::vector<SqlRow> SqlConnection::rows(const std::string& sql) {
  run_query(get(), sql);
  ResultPtr result(mysql_store_result(get()));
  if (!result) {
    if (mysql_field_count(get()) == 0) return {};
    throw Error(Errc::system, std::string("reading the rows failed: ") + mysql_error(get()) +
                                  ": " + shorten(sql));
  }
  unsigned int ncols = mysql_num_fields(result.get());
  MYSQL_FIELD* fields = mysql_fetch_fields(result.get());
  std::vector<SqlRow> out;
  while (MYSQL_ROW row = mysql_fetch_row(result.get())) {
    unsigned long* lengths = mysql_fetch_lengths(result.get());
    SqlRow values;
    for (unsigned int i = 0; i < ncols; ++i) {
      if (row[i]) values.emplace(fields[i].name, std::string(row[i], lengths[i]));
    }
    out.push_back(std::move(values));
  }
  return out;
}

std::vector<std::string> SqlConnection::columns(const std::string& sql) {
  run_query(get(), sql);
  ResultPtr result(mysql_store_result(get()));
  std::vector<std::string> names;
  if (!result) return names;
  unsigned int ncols = mysql_num_fields(result.get());
  MYSQL_FIELD* fields = mysql_fetch_fields(result.get());
  for (unsigned int i = 0; i < ncols; ++i) names.emplace_back(fields[i].name);
  return names;
}

std::string SqlConnection::quote(const std::string& text) {
  std::string buffer(text.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(get(), buffer.data(), text.data(), text.size());
  return "'" + buffer.substr(0, n) + "'";
}

// ---------------------------------------------------------------------------
// PrivateMariaDb
// ---------------------------------------------------------------------------

PrivateMariaDb::PrivateMariaDb() : owner_pid_(::getpid()) {
  auto start = Clock::now();
  try {
    make_directory();
    install_datadir();
    for (int attempt = 1;; ++attempt) {
      port_ = free_tcp_port();
      start_server();
      std::string problem = wait_until_ready(kReadyTimeout);
      if (problem.empty()) break;
      bool port_taken = log_tail(200).find("Address already in use") != std::string::npos;
      if (!port_taken || attempt == kStartAttempts) fail(problem);
    }
    set_up_accounts();
  } catch (...) {
    stop_server();
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
    throw;
  }
  start_seconds_ = seconds_since(start);
}

PrivateMariaDb::~PrivateMariaDb() {
  if (::getpid() != owner_pid_) return;  // a forked child must not stop our server
  stop_server();
  std::error_code ignored;
  if (!dir_.empty()) fs::remove_all(dir_, ignored);
}

PrivateMariaDb& PrivateMariaDb::shared() {
  // Destroyed by the normal static-destruction run at exit (the destructor
  // does nothing in forked children).
  static std::unique_ptr<PrivateMariaDb> instance = std::make_unique<PrivateMariaDb>();
  return *instance;
}

void PrivateMariaDb::make_directory() {
  std::string base = base_directory();
  remove_abandoned_directories(base);
  std::string templ = base + "/" + kDirPrefix + "XXXXXX";
  if (!::mkdtemp(templ.data())) throw_system("mkdtemp(" + templ + ")");
  dir_ = templ;
  std::ofstream(dir_ + "/" + kOwnerFile) << owner_pid_ << "\n";
  if (::mkdir((dir_ + "/tmp").c_str(), 0700) != 0) throw_system("mkdir " + dir_ + "/tmp");
  socket_path_ = dir_ + "/mysqld.sock";
  error_log_ = dir_ + "/server.log";
}

void PrivateMariaDb::install_datadir() {
  std::vector<std::string> argv = {kInstallDb,
                                   "--no-defaults",  // must come first
                                   "--datadir=" + dir_ + "/data",
                                   // Its own tmpdir: bootstraps running at once in
                                   // the shared /tmp collide on temporary-table names.
                                   "--tmpdir=" + dir_ + "/tmp",
                                   "--auth-root-authentication-method=normal",
                                   "--skip-test-db",
                                   "--skip-name-resolve"};
  if (running_as_root()) argv.push_back("--user=root");
  for (auto& option : sizing_options()) argv.push_back(option);
  std::string log = dir_ + "/install.log";
  pid_t pid = spawn(argv, log);
  std::optional<int> status = wait_for_exit(pid, kInstallTimeout);
  if (!status) {
    ::kill(pid, SIGKILL);
    wait_for_exit(pid, kStopTimeout);
  }
  if (!status || !(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)) {
    std::string how = status ? describe_status(*status)
                             : "did not finish within " +
                                   std::to_string(static_cast<int>(kInstallTimeout)) + " s";
    throw Error(Errc::system, std::string(kInstallDb) + " " + how + " (datadir " + dir_ +
                                  "/data); last lines of " + log + ":\n" +
                                  last_lines(read_file(log), 30));
  }
}

void PrivateMariaDb::start_server() {
  std::vector<std::string> argv = {kServer,
                                   "--no-defaults",  // never read /etc/mysql: it names the system instance
                                   "--datadir=" + dir_ + "/data",
                                   "--tmpdir=" + dir_ + "/tmp",
                                   "--socket=" + socket_path_,
                                   "--pid-file=" + dir_ + "/mariadbd.pid",
                                   "--log-error=" + error_log_,
                                   "--bind-address=127.0.0.1",
                                   "--port=" + std::to_string(port_),
                                   "--skip-name-resolve",
                                   "--max-connections=100"};
  if (!server_defaults()) argv.push_back("--innodb-flush-log-at-trx-commit=2");
  if (running_as_root()) argv.push_back("--user=root");
  for (auto& option : sizing_options()) argv.push_back(option);
  pid_ = spawn(argv, error_log_);
}

// "" once root can log in over the socket, else what went wrong.
std::string PrivateMariaDb::wait_until_ready(double timeout_seconds) {
  auto start = Clock::now();
  while (seconds_since(start) < timeout_seconds) {
    if (std::optional<int> status = wait_for_exit(pid_, 0)) {
      pid_ = 0;
      return "mariadbd " + describe_status(*status) + " during start-up";
    }
    MYSQL* m = new_handle(MYSQL_PROTOCOL_SOCKET);
    bool ok = mysql_real_connect(m, "localhost", "root", root_password_.c_str(), nullptr, 0,
                                 socket_path_.c_str(), 0) != nullptr;
    mysql_close(m);
    if (ok) return "";
    sleep_ms(50);
  }
  return "mariadbd did not accept connections within " +
         std::to_string(static_cast<int>(timeout_seconds)) + " s";
}

// Locks root down to the socket with a password and adds the BOINC-style account.
void PrivateMariaDb::set_up_accounts() {
  SqlConnection root = connect_as_root();
  for (const SqlRow& account : root.rows("SELECT User, Host FROM mysql.user")) {
    const std::string& name = account.at("User");
    const std::string& host = account.at("Host");
    if ((name == "root" && host == "localhost") || name == "mariadb.sys") continue;
    root.execute("DROP USER " + root.quote(name) + "@" + root.quote(host));
  }
  root_password_ = random_hex(16);
  password_ = random_hex(12);
  root.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY " + root.quote(root_password_));
  for (const char* host : {"localhost", "127.0.0.1"}) {
    std::string account = root.quote(user_) + "@" + root.quote(host);
    root.execute("CREATE USER " + account + " IDENTIFIED BY " + root.quote(password_));
    root.execute("GRANT ALL PRIVILEGES ON *.* TO " + account);
  }
  root.execute("CREATE DATABASE `" + database_ + "`");
}

void PrivateMariaDb::create_read_only_user(const std::string& db, const std::string& user,
                                           const std::string& password) const {
  if (!valid_identifier(db) || !valid_identifier(user))
    throw Error(Errc::usage, "database '" + db + "' or user '" + user + "' is not [A-Za-z0-9_]{1,64}");
  SqlConnection root = connect_as_root();
  for (const char* host : {"localhost", "127.0.0.1"}) {
    const std::string account = root.quote(user) + "@" + root.quote(host);
    root.execute("DROP USER IF EXISTS " + account);
    root.execute("CREATE USER " + account + " IDENTIFIED BY " + root.quote(password));
    root.execute("GRANT SELECT ON `" + db + "`.* TO " + account);
  }
}

void PrivateMariaDb::stop_server() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  if (!wait_for_exit(pid_, kStopTimeout)) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, kStopTimeout);
  }
  pid_ = 0;
}

void PrivateMariaDb::restart(double down_seconds) {
  stop_server();
  if (down_seconds > 0) sleep_ms(static_cast<int>(down_seconds * 1000));
  start_server();
  std::string problem = wait_until_ready(kReadyTimeout);
  if (!problem.empty()) fail("restart: " + problem);
}

void PrivateMariaDb::fail(const std::string& what) const {
  throw Error(Errc::system, what + " (server " + kServer + ", directory " + dir_ + ", port " +
                                std::to_string(port_) + "); last lines of " + error_log_ +
                                ":\n" + log_tail());
}

std::string PrivateMariaDb::log_tail(std::size_t lines) const {
  return last_lines(read_file(error_log_), lines);
}

SqlConnection PrivateMariaDb::connect_as_root() const {
  MYSQL* m = new_handle(MYSQL_PROTOCOL_SOCKET);
  if (!mysql_real_connect(m, "localhost", "root", root_password_.c_str(), nullptr, 0,
                          socket_path_.c_str(), 0)) {
    std::string error = mysql_error(m);
    mysql_close(m);
    fail("cannot log in as root over " + socket_path_ + ": " + error);
  }
  return SqlConnection(m);
}

SqlConnection PrivateMariaDb::connect(const std::string& db, unsigned long client_flags) const {
  MYSQL* m = new_handle(MYSQL_PROTOCOL_SOCKET);
  if (!mysql_real_connect(m, "localhost", user_.c_str(), password_.c_str(),
                          db.empty() ? nullptr : db.c_str(), 0, socket_path_.c_str(),
                          client_flags)) {
    std::string error = mysql_error(m);
    mysql_close(m);
    throw Error(Errc::system, "cannot log in as " + user_ + " to database '" + db + "' over " +
                                  socket_path_ + ": " + error);
  }
  return SqlConnection(m);
}

SqlConnection PrivateMariaDb::connect_tcp(const std::string& db,
                                          unsigned long client_flags) const {
  MYSQL* m = new_handle(MYSQL_PROTOCOL_TCP);
  if (!mysql_real_connect(m, host().c_str(), user_.c_str(), password_.c_str(),
                          db.empty() ? nullptr : db.c_str(), static_cast<unsigned>(port_),
                          nullptr, client_flags)) {
    std::string error = mysql_error(m);
    mysql_close(m);
    throw Error(Errc::system, "cannot log in as " + user_ + " to database '" + db + "' at " +
                                  host() + ":" + std::to_string(port_) + ": " + error);
  }
  return SqlConnection(m);
}

void PrivateMariaDb::create_database(const std::string& name) {
  if (!valid_identifier(name)) {
    throw Error(Errc::usage, "database name '" + name + "' is not [A-Za-z0-9_]{1,64}");
  }
  SqlConnection root = connect_as_root();
  root.execute("DROP DATABASE IF EXISTS `" + name + "`");
  root.execute("CREATE DATABASE `" + name +
               "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci");
}

void PrivateMariaDb::load_schema(const std::string& db, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::io, "cannot read SQL file " + path + ": " + errno_text(errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<int> lines;
  std::vector<std::string> statements = split_sql_statements(text.str(), &lines);
  SqlConnection conn = connect(db);
  for (std::size_t i = 0; i < statements.size(); ++i) {
    try {
      conn.execute(statements[i]);
    } catch (const Error& e) {
      throw Error(Errc::system, path + ":" + std::to_string(lines[i]) + ": statement " +
                                    std::to_string(i + 1) + " failed in database '" + db +
                                    "': " + e.what());
    }
  }
}

std::vector<SqlRow> PrivateMariaDb::query_rows(const std::string& db,
                                               const std::string& sql) const {
  return connect(db).rows(sql);
}

// ---------------------------------------------------------------------------
// Splitting SQL text
// ---------------------------------------------------------------------------

namespace {

// A tiny scanner over SQL text: knows quotes and the three comment styles.
class SqlSplitter {
 public:
  explicit SqlSplitter(const std::string& text) : text_(text) {}

  void run(std::vector<std::string>& out, std::vector<int>* lines) {
    while (pos_ < text_.size()) step(out, lines);
    finish_statement(text_.size(), out, lines);
  }

 private:
  char at(std::size_t i) const { return i < text_.size() ? text_[i] : '\0'; }

  void advance() {
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }

  void mark_code() {
    if (code_start_ == std::string::npos) {
      code_start_ = pos_;
      code_line_ = line_;
    }
  }

  void skip_to_line_end() {
    while (pos_ < text_.size() && text_[pos_] != '\n') advance();
  }

  void skip_block_comment() {
    advance();
    advance();  // "/*"
    while (pos_ < text_.size() && !(text_[pos_] == '*' && at(pos_ + 1) == '/')) advance();
    if (pos_ < text_.size()) {
      advance();
      advance();
    }
  }

  void skip_quoted(char quote) {
    advance();
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\\' && quote != '`') {
        advance();
        if (pos_ < text_.size()) advance();
        continue;
      }
      advance();
      if (c == quote) return;  // a doubled quote just reopens on the next step
    }
  }

  void step(std::vector<std::string>& out, std::vector<int>* lines) {
    char c = text_[pos_];
    char next = at(pos_ + 1);
    bool dash_comment = c == '-' && next == '-' &&
                        (pos_ + 2 >= text_.size() || std::isspace(static_cast<unsigned char>(at(pos_ + 2))));
    if (c == '#' || dash_comment) {
      skip_to_line_end();
    } else if (c == '/' && next == '*') {
      bool executable = at(pos_ + 2) == '!' || (at(pos_ + 2) == 'M' && at(pos_ + 3) == '!');
      if (executable) mark_code();
      skip_block_comment();
    } else if (c == '\'' || c == '"' || c == '`') {
      mark_code();
      skip_quoted(c);
    } else if (c == ';') {
      finish_statement(pos_, out, lines);
      advance();
    } else {
      if (!std::isspace(static_cast<unsigned char>(c))) mark_code();
      advance();
    }
  }

  void finish_statement(std::size_t end, std::vector<std::string>& out, std::vector<int>* lines) {
    if (code_start_ != std::string::npos) {
      std::string statement = text_.substr(code_start_, end - code_start_);
      while (!statement.empty() && std::isspace(static_cast<unsigned char>(statement.back()))) {
        statement.pop_back();
      }
      out.push_back(statement);
      if (lines) lines->push_back(code_line_);
    }
    code_start_ = std::string::npos;
  }

  const std::string& text_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::size_t code_start_ = std::string::npos;
  int code_line_ = 0;
};

}  // namespace

std::vector<std::string> split_sql_statements(const std::string& text,
                                              std::vector<int>* first_lines) {
  std::vector<std::string> out;
  if (first_lines) first_lines->clear();
  SqlSplitter(text).run(out, first_lines);
  return out;
}

}  // namespace mw::test
