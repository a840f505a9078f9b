// task_probe — a task program that misbehaves on command, for the tests.
//
// It runs the actions given on its command line from left to right, then
// exits 0. Output goes straight to the file descriptors (no stdio buffering),
// so what was written before a crash is really written.
//
//   write FILE TEXT     create/truncate FILE with exactly TEXT (no newline added)
//   append FILE TEXT    append TEXT to FILE (created if missing)
//   copy SRC DST        copy file SRC to DST
//   cat FILE            copy FILE to stdout
//   symlink TARGET LINK create a symbolic link LINK -> TARGET
//   out TEXT            TEXT + "\n" to stdout
//   err TEXT            TEXT + "\n" to stderr
//   flood-out N         N bytes of the repeating "0123456789abcdef" to stdout
//   flood-err N         the same to stderr
//   sleep SECONDS       sleep (SECONDS may be fractional)
//   spin SECONDS        burn that much CPU time of this process
//   spin-forever        burn CPU until killed
//   alloc MB            allocate MB MiB, touch every page, keep it until exit
//   fork-sleep SECONDS  fork a child (same process group, inherits stdout/stderr)
//                       that sleeps SECONDS then exits; the probe goes on at once
//   fork-spin           fork a child that spins forever; the probe goes on at once
//   escape FILE SECONDS double fork with setsid in between (what `setsid -f` and
//                       daemons do): the grandchild, in a session of its own
//                       and reparented away from the probe, writes its pid
//                       to FILE and sleeps SECONDS; the probe goes on once
//                       FILE is written
//   fill FILE MB        write MB MiB of zeros to FILE, 1 MiB at a time
//   check-fds           "fds:" then " N" for each open fd > 2, then "\n", to stdout
//   pwd                 the working directory + "\n" to stdout
//   env NAME            the value of NAME, or "<unset>", + "\n" to stdout
//   stdin               read stdin to EOF, print "stdin bytes: N\n"
//   crash               raise SIGSEGV
//   abort               abort() (SIGABRT)
//   kill-self SIG       send itself signal SIG (a number, or a name like TERM/SIGTERM)
//   exit CODE           exit with CODE now
//
// An unknown action or a missing argument: message on stderr, exit 2.
// A failing file operation: message on stderr, exit 1.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_all(int fd, const std::string& text) { write_all(fd, text.data(), text.size()); }

[[noreturn]] void fail(int code, const std::string& message) {
  write_all(2, "task_probe: " + message + "\n");
  _exit(code);
}

[[noreturn]] void fail_errno(const std::string& what) {
  fail(1, what + ": " + std::strerror(errno));
}

double cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

volatile unsigned long long g_sink = 0;

void spin(double seconds) {
  const double until = cpu_time() + seconds;
  while (cpu_time() < until)
    for (int i = 0; i < 100000; ++i) g_sink = g_sink + static_cast<unsigned long long>(i);
}

[[noreturn]] void spin_forever() {
  for (;;) g_sink = g_sink + 1;
}

void sleep_for(double seconds) {
  if (seconds <= 0) return;
  timespec left{static_cast<time_t>(seconds),
                static_cast<long>((seconds - static_cast<double>(static_cast<time_t>(seconds))) * 1e9)};
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

void flood(int fd, unsigned long long bytes) {
  const std::string pattern = "0123456789abcdef";
  std::string block;
  while (block.size() < 65536) block += pattern;
  while (bytes > 0) {
    std::size_t n = bytes < block.size() ? static_cast<std::size_t>(bytes) : block.size();
    write_all(fd, block.data(), n);
    bytes -= n;
  }
}

std::vector<char*> g_kept;  // allocations that must stay resident

void alloc_mb(unsigned long long mb) {
  const std::size_t size = static_cast<std::size_t>(mb) << 20;
  char* p = static_cast<char*>(std::malloc(size));
  if (!p) fail(1, "cannot allocate " + std::to_string(mb) + " MiB");
  const long page = sysconf(_SC_PAGESIZE);
  for (std::size_t i = 0; i < size; i += static_cast<std::size_t>(page)) p[i] = 1;
  g_kept.push_back(p);
}

void write_file(const std::string& path, const std::string& text, int flags) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
  if (fd < 0) fail_errno("cannot open '" + path + "'");
  write_all(fd, text);
  ::close(fd);
}

void copy_fd(int from, int to, const std::string& what) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n == 0) return;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot read '" + what + "'");
    }
    write_all(to, buf, static_cast<std::size_t>(n));
  }
}

int open_read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open '" + path + "'");
  return fd;
}

void copy_file(const std::string& src, const std::string& dst) {
  int in = open_read(src);
  int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) fail_errno("cannot open '" + dst + "'");
  copy_fd(in, out, src);
  ::close(in);
  ::close(out);
}

void check_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) fail_errno("cannot list /proc/self/fd");
  std::vector<int> fds;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = std::atoi(e->d_name);
    if (fd > 2 && fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  std::string line = "fds:";
  for (int fd : fds) line += " " + std::to_string(fd);
  write_all(1, line + "\n");
}

void print_cwd() {
  std::vector<char> buf(4096);
  while (!getcwd(buf.data(), buf.size())) {
    if (errno != ERANGE) fail_errno("cannot get the working directory");
    buf.resize(buf.size() * 2);
  }
  write_all(1, std::string(buf.data()) + "\n");
}

void count_stdin() {
  char buf[65536];
  unsigned long long total = 0;
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n > 0) total += static_cast<unsigned long long>(n);
    else if (n == 0 || errno != EINTR) break;
  }
  write_all(1, "stdin bytes: " + std::to_string(total) + "\n");
}

void fork_child(void (*body)(double), double arg) {
  pid_t pid = fork();
  if (pid < 0) fail_errno("cannot fork");
  if (pid == 0) {
    body(arg);
    _exit(0);
  }
}

void escape(const std::string& file, double seconds) {
  pid_t pid = fork();
  if (pid < 0) fail_errno("cannot fork");
  if (pid == 0) {
    setsid();
    pid_t grandchild = fork();
    if (grandchild < 0) _exit(1);
    if (grandchild == 0) {
      const std::string tmp = file + ".tmp";
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(1);
      const std::string text = std::to_string(getpid());
      write_all(fd, text.data(), text.size());
      ::close(fd);
      if (std::rename(tmp.c_str(), file.c_str()) != 0) _exit(1);
      sleep_for(seconds);
      _exit(0);
    }
    _exit(0);
  }
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  while (::access(file.c_str(), F_OK) != 0) sleep_for(0.005);
}

void fill(const std::string& file, double mib) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail_errno("cannot create " + file);
  const std::string chunk(1 << 20, '\0');
  for (double i = 0; i < mib; ++i) {
    const char* p = chunk.data();
    std::size_t left = chunk.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("cannot write " + file);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
}

int signal_number(const std::string& text) {
  static const struct { const char* name; int number; } kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"ABRT", SIGABRT}, {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"SEGV", SIGSEGV},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"XCPU", SIGXCPU}, {"BUS", SIGBUS},
  };
  if (!text.empty() && text[0] >= '0' && text[0] <= '9') return std::atoi(text.c_str());
  std::string name = text.compare(0, 3, "SIG") == 0 ? text.substr(3) : text;
  for (const auto& n : kNames)
    if (name == n.name) return n.number;
  fail(2, "unknown signal '" + text + "'");
}

class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool done() const { return next_ >= argc_; }
  std::string take(const std::string& action) {
    if (next_ >= argc_) fail(2, "action '" + action + "' needs more arguments");
    return argv_[next_++];
  }
  double number(const std::string& action) {
    std::string text = take(action);
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') fail(2, "action '" + action + "': not a number: '" + text + "'");
    return value;
  }

 private:
  int argc_;
  char** argv_;
  int next_ = 1;
};

void run_action(const std::string& action, Args& args) {
  if (action == "write") {
    std::string file = args.take(action);
    write_file(file, args.take(action), O_TRUNC);
  } else if (action == "append") {
    std::string file = args.take(action);
    write_file(file, args.take(action), O_APPEND);
  } else if (action == "copy") {
    std::string src = args.take(action);
    copy_file(src, args.take(action));
  } else if (action == "cat") {
    std::string file = args.take(action);
    int fd = open_read(file);
    copy_fd(fd, 1, file);
    ::close(fd);
  } else if (action == "symlink") {
    std::string target = args.take(action);
    std::string link = args.take(action);
    if (::symlink(target.c_str(), link.c_str()) != 0) fail_errno("cannot create link '" + link + "'");
  } else if (action == "out") {
    write_all(1, args.take(action) + "\n");
  } else if (action == "err") {
    write_all(2, args.take(action) + "\n");
  } else if (action == "flood-out") {
    flood(1, static_cast<unsigned long long>(args.number(action)));
  } else if (action == "flood-err") {
    flood(2, static_cast<unsigned long long>(args.number(action)));
  } else if (action == "sleep") {
    sleep_for(args.number(action));
  } else if (action == "spin") {
    spin(args.number(action));
  } else if (action == "spin-forever") {
    spin_forever();
  } else if (action == "alloc") {
    alloc_mb(static_cast<unsigned long long>(args.number(action)));
  } else if (action == "fork-sleep") {
    fork_child(sleep_for, args.number(action));
  } else if (action == "fork-spin") {
    fork_child([](double) { spin_forever(); }, 0);
  } else if (action == "escape") {
    const std::string file = args.take(action);
    escape(file, args.number(action));
  } else if (action == "fill") {
    const std::string file = args.take(action);
    fill(file, args.number(action));
  } else if (action == "check-fds") {
    check_fds();
  } else if (action == "pwd") {
    print_cwd();
  } else if (action == "env") {
    const char* value = std::getenv(args.take(action).c_str());
    write_all(1, std::string(value ? value : "<unset>") + "\n");
  } else if (action == "stdin") {
    count_stdin();
  } else if (action == "crash") {
    std::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn the crash into exit(1)
    std::raise(SIGSEGV);
  } else if (action == "abort") {
    std::abort();
  } else if (action == "kill-self") {
    kill(getpid(), signal_number(args.take(action)));
  } else if (action == "exit") {
    _exit(static_cast<int>(args.number(action)));
  } else {
    fail(2, "unknown action '" + action + "'");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args(argc, argv);
  while (!args.done()) {
    std::string action = args.take("");
    run_action(action, args);
  }
  return 0;
}
