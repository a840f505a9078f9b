// Test double of a BOINC project's bin/start, bin/stop and bin/status.
//
// BOINC's own (sched/start, a Python script) cannot run here: there is no BOINC
// server package for Debian 12. This double is copied to PROJECT/bin/start,
// bin/stop and bin/status and, like the real one, picks its command from the
// name it was run under. It behaves as the real one does wherever
// mw-project-setup depends on it (shared/boinc-reference.md §1, §7, §11.1-2),
// failures included:
//   - the project is bin/.. ; a <daemon> runs only when its <host> (default:
//     the config's <host>) equals this machine's short hostname, and when none
//     does, start says "No daemons for this host found - check host name in
//     config.xml" and starts nothing;
//   - each daemon is double-forked into its own session, umask 002, with an
//     exclusive lockf() lock on pid_HOST/LOCK held on a descriptor the program
//     inherits (already locked: the daemon is running, nothing is started),
//     stdout and stderr appended to log_HOST/OUTPUT, its pid in pid_HOST/PID,
//     cwd tmp_HOST/, PATH with PROJECT/bin first, and execvp of the command
//     split at blanks;
//   - a program that cannot be executed leaves "Couldn't execute 'CMD': [Errno
//     2] No such file or directory" in the daemon's log, and start still exits 0;
//   - stop writes stop_sched and stop_daemons, removes every pid_HOST/*.pid,
//     sends SIGHUP to each pid and waits for it to end;
//   - status prints each daemon's pid, "running" / "NOT RUNNING" and
//     "locked" / "UNLOCKED".
// For the tests' eyes only, each run appends its command to PROJECT/double_calls.log.
// Where it differs, only to keep tests fast and finite: start sleeps 0.2 s
// after launching (the real one 5 s), and stop gives up waiting after 60 s
// (the real one waits forever), counting a zombie as ended.
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tinyxml2.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Daemon {
  std::string cmd, host, output, pid_file, lock_file;
  bool disabled = false;
};

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string child_text(const tinyxml2::XMLElement* parent, const char* name) {
  const auto* e = parent->FirstChildElement(name);
  return e ? trimmed(e->GetText()) : "";
}

std::vector<std::string> words(const std::string& cmd) {
  std::vector<std::string> out;
  std::istringstream in(cmd);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string short_hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  gethostname(name, sizeof name - 1);
  std::string s = name;
  return s.substr(0, s.find('.'));
}

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y/%m/%d %H:%M:%S", std::localtime(&t));
  return buf;
}

int read_pid(const std::string& path) {
  std::ifstream in(path);
  int pid = 0;
  in >> pid;
  return pid;
}

bool alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

bool locked(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  bool held = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

void touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0664);
  if (fd >= 0) ::close(fd);
}

class Project {
 public:
  explicit Project(const std::string& argv0) {
    char bin[PATH_MAX];
    if (!::realpath(argv0.c_str(), bin)) throw std::runtime_error("cannot resolve " + argv0);
    bin_dir_ = std::string(bin).substr(0, std::string(bin).find_last_of('/'));
    dir_ = bin_dir_.substr(0, bin_dir_.find_last_of('/'));
    host_ = short_hostname();
    tinyxml2::XMLDocument doc;
    if (doc.LoadFile((dir_ + "/config.xml").c_str()) != tinyxml2::XML_SUCCESS)
      throw std::runtime_error(dir_ + "/config.xml: " + doc.ErrorStr());
    const auto* root = doc.RootElement();
    const auto* config = root->FirstChildElement("config");
    const std::string main_host = config ? child_text(config, "host") : "";
    if (const auto* list = root->FirstChildElement("daemons")) {
      for (auto* e = list->FirstChildElement("daemon"); e; e = e->NextSiblingElement("daemon")) {
        Daemon d;
        d.cmd = child_text(e, "cmd");
        d.host = child_text(e, "host");
        if (d.host.empty()) d.host = main_host;
        d.disabled = std::atoi(child_text(e, "disabled").c_str()) != 0;
        const std::string program = base_name(words(d.cmd).empty() ? "" : words(d.cmd)[0]);
        const std::string output = child_text(e, "output");
        d.output = output.empty() ? program + ".log" : output;
        d.pid_file = child_text(e, "pid_file");
        if (d.pid_file.empty()) d.pid_file = program + ".pid";
        d.lock_file = child_text(e, "lock_file");
        if (d.lock_file.empty()) d.lock_file = output.empty() ? program + ".lock" : output + ".lock";
        daemons_.push_back(d);
      }
    }
    log_dir_ = dir_ + "/log_" + host_;
    pid_dir_ = dir_ + "/pid_" + host_;
    tmp_dir_ = dir_ + "/tmp_" + host_;
    for (const auto* d : {&log_dir_, &pid_dir_, &tmp_dir_}) ::mkdir(d->c_str(), 0775);
  }

  void record_call(const std::string& command) const {
    std::ofstream(dir_ + "/double_calls.log", std::ios::app) << command << "\n";
  }

  int start() {
    ::unlink((dir_ + "/stop_daemons").c_str());
    bool found_any = false;
    for (const auto& d : daemons_) {
      if (d.host != host_) continue;
      found_any = true;
      if (!d.disabled) launch(d);
    }
    if (!found_any) std::cout << "No daemons for this host found - check host name in config.xml\n";
    ::usleep(200 * 1000);
    ::unlink((dir_ + "/stop_sched").c_str());
    return 0;
  }

  int stop() {
    touch(dir_ + "/stop_sched");
    touch(dir_ + "/stop_daemons");
    glob_t g{};
    std::vector<int> pids;
    if (::glob((pid_dir_ + "/*.pid").c_str(), 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        pids.push_back(read_pid(g.gl_pathv[i]));
        ::unlink(g.gl_pathv[i]);
      }
    }
    ::globfree(&g);
    for (int pid : pids)
      if (pid > 0) ::kill(pid, SIGHUP);
    for (int pid : pids) {
      for (int i = 0; i < 600 && alive(pid); ++i) ::usleep(100 * 1000);
      if (alive(pid)) {
        std::cerr << "stop (test double): pid " << pid << " did not end within 60 s\n";
        return 1;
      }
    }
    return 0;
  }

  int status() {
    std::cout << "DAEMON  pid  status      lockfile disabled  commandline\n";
    int n = 0;
    for (const auto& d : daemons_) {
      if (d.host != host_) continue;
      int pid = read_pid(pid_dir_ + "/" + d.pid_file);
      const char* run = !pid ? "           " : alive(pid) ? " running   " : "NOT RUNNING";
      const char* lock = locked(pid_dir_ + "/" + d.lock_file) ? " locked " : "UNLOCKED";
      std::printf("  %2d  %5d %s %s %s   %s\n", ++n, pid, run, lock, d.disabled ? " yes    " : " no     ",
                  d.cmd.c_str());
    }
    return 0;
  }

 private:
  void launch(const Daemon& d) {
    std::cout.flush();
    pid_t first = ::fork();
    if (first < 0) return;
    if (first > 0) {
      ::waitpid(first, nullptr, 0);
      ::usleep(100 * 1000);  // the real start's fork delay
      return;
    }
    ::setsid();
    ::umask(002);
    if (::fork() != 0) ::_exit(0);
    // The lock descriptor is inherited by the daemon: no O_CLOEXEC.
    int lock = ::open((pid_dir_ + "/" + d.lock_file).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0664);
    if (lock < 0 || ::lockf(lock, F_TLOCK, 0) != 0) ::_exit(0);  // already running
    int in = ::open("/dev/null", O_RDONLY);
    int log = ::open((log_dir_ + "/" + d.output).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0664);
    if (in < 0 || log < 0) ::_exit(1);
    ::dup2(in, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    {
      std::ofstream pid(pid_dir_ + "/" + d.pid_file);
      pid << ::getpid() << "\n";
    }
    std::printf("[%s] Executing command: %s\n", timestamp().c_str(), d.cmd.c_str());
    std::fflush(stdout);
    if (::chdir(tmp_dir_.c_str()) != 0) ::_exit(1);
    const char* path = std::getenv("PATH");
    ::setenv("PATH", (bin_dir_ + ":" + (path ? path : "/usr/bin:/bin")).c_str(), 1);
    auto argv_words = words(d.cmd);
    std::vector<char*> argv;
    for (auto& w : argv_words) argv.push_back(w.data());
    argv.push_back(nullptr);
    if (!argv_words.empty()) ::execvp(argv[0], argv.data());
    int err = errno;
    std::fprintf(stderr, "Couldn't execute '%s': [Errno %d] %s\n", d.cmd.c_str(), err, std::strerror(err));
    std::fflush(stderr);
    ::_exit(1);
  }

  std::string dir_, bin_dir_, host_, log_dir_, pid_dir_, tmp_dir_;
  std::vector<Daemon> daemons_;
};

}  // namespace

int main(int, char** argv) {
  try {
    Project project(argv[0]);
    const std::string command = base_name(argv[0]);
    project.record_call(command);
    if (command == "start") return project.start();
    if (command == "stop") return project.stop();
    if (command == "status") return project.status();
    std::cerr << "run me as bin/start, bin/stop or bin/status\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "bin/start (test double): " << e.what() << "\n";
    return 1;
  }
}
