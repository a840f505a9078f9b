// A TEST DOUBLE of HTCondor's condor_submit, condor_rm and condor_release,
// for the tests of mw::Condor on machines without HTCondor (Debian 12 does not
// package it). Never installed, never shipped.
//
// Built three times (FAKE_CONDOR_TOOL = submit, rm, release):
//
//   fake_condor_submit FILE.sub   parses the submit description (vanilla
//       universe, executable, arguments, initialdir, transfer_input_files,
//       output, error, log, `queue [N]`, variables changed between queues),
//       writes the 000 events, prints "N job(s) submitted to cluster C." and
//       leaves a background process that runs the cluster's jobs one after the
//       other, each in a sandbox holding its transferred input files, copies
//       the new files back to initialdir (ON_EXIT) and appends the events to
//       the job event log in HTCondor's format (001, 005, 009, 012, 013).
//   fake_condor_rm C.P | C        marks jobs removed, kills a running one;
//       the job gets a 009 "aborted" event.
//   fake_condor_release C.P       releases a held job (013, then it runs).
//
// Faults on request, through submit-description attributes (real HTCondor
// would just carry them as job ClassAd attributes):
//   +FakeCondorHold = "reason"    the job is held (012 with the reason) before
//                                 it runs, once; released, it runs.
//   +FakeCondorAbort = "reason"   the job is aborted (009) without running.
//   +FakeCondorEvict = True       the job is evicted once (001, 004) before
//                                 it runs to the end, as after a preemption.
// Execute machines: job P of a cluster runs on the (P mod N)-th name of
//   +FakeCondorHosts = "a.example.org b.example.org"   (default: this host's name)
// (an evicted first attempt on the next one), at 127.0.0.<index + 1>. Its 001
// event is written as HTCondor 8.9+ writes it: the startd's sinful string
// with addrs= and alias= in the header, then the slot name and the slot's
// resources in the body (condor_event.cpp, ExecuteEvent::formatBody).
// A missing input file holds the job, as HTCondor's file transfer does.
//
// State shared by the three tools lives in $FAKE_CONDOR_SPOOL (default
// $TMPDIR/mw-fake-condor-UID): a cluster counter and per-job marker files.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mw/error.h"
#include "runner/process.h"
#include "util/fs.h"

#ifndef FAKE_CONDOR_TOOL
#error "define FAKE_CONDOR_TOOL as submit, rm or release"
#endif
#define FAKE_STR2(x) #x
#define FAKE_STR(x) FAKE_STR2(x)

namespace {

using Vars = std::map<std::string, std::string>;  // lower-case name -> value

std::string spool_dir() {
  const char* env = std::getenv("FAKE_CONDOR_SPOOL");
  std::string dir = env && *env ? env : mw::detail::default_temp_root() + "/mw-fake-condor-" + std::to_string(::getuid());
  ::mkdir(dir.c_str(), 0700);
  return dir;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string unquote(const std::string& s) {
  return s.size() >= 2 && s.front() == '"' && s.back() == '"' ? s.substr(1, s.size() - 2) : s;
}

[[noreturn]] void die(const std::string& message) {
  std::cerr << "ERROR: " << message << "\n";
  std::exit(1);
}

// HTCondor's argument syntax: "new" (double-quoted, whitespace-separated,
// single quotes group, '' is a literal quote) or "old" (whitespace-separated).
std::vector<std::string> split_arguments(const std::string& value) {
  std::vector<std::string> out;
  if (value.empty()) return out;
  if (value.front() != '"') {
    std::istringstream in(value);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }
  if (value.size() < 2 || value.back() != '"') die("arguments: unterminated double quote in " + value);
  const std::string s = value.substr(1, value.size() - 2);
  std::string cur;
  bool in_word = false, quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\'') {
      if (quoted && i + 1 < s.size() && s[i + 1] == '\'') {
        cur += '\'';
        ++i;
      } else {
        quoted = !quoted;
      }
      in_word = true;
    } else if (!quoted && (c == ' ' || c == '\t')) {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quoted) die("arguments: unterminated single quote in " + value);
  if (in_word) out.push_back(cur);
  return out;
}

std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  std::stringstream in(value);
  for (std::string item; std::getline(in, item, ',');)
    if (!trim(item).empty()) out.push_back(trim(item));
  return out;
}

std::string absolute(const std::string& path, const std::string& base) {
  return !path.empty() && path.front() == '/' ? path : base + "/" + path;
}

// The procs of a submit description, each with the variables in force at its `queue`.
std::vector<Vars> parse_submit(const std::string& path) {
  const std::string text = mw::detail::read_file(path, 16 << 20);
  std::vector<Vars> procs;
  Vars vars;
  std::istringstream in(text);
  int row = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++row;
    const std::string line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const std::string l = lower(line);
    if (l == "queue" || l.rfind("queue ", 0) == 0) {
      const std::string n = trim(line.substr(5));
      const long count = n.empty() ? 1 : std::atol(n.c_str());
      if (count <= 0) die(path + ":" + std::to_string(row) + ": unsupported queue statement '" + line + "'");
      for (long i = 0; i < count; ++i) procs.push_back(vars);
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) die(path + ":" + std::to_string(row) + ": not 'name = value': '" + line + "'");
    vars[lower(trim(line.substr(0, eq)))] = trim(line.substr(eq + 1));
  }
  if (procs.empty()) die(path + ": no queue statement");
  for (const auto& p : procs) {
    auto get = [&](const char* k) { auto it = p.find(k); return it == p.end() ? std::string() : it->second; };
    if (lower(get("universe")) != "vanilla") die(path + ": this double runs only universe = vanilla");
    if (get("executable").empty()) die(path + ": no executable");
    if (get("log").empty()) die(path + ": no log (the double needs the job event log)");
    if (lower(get("should_transfer_files")) != "yes") die(path + ": this double needs should_transfer_files = YES");
    if (lower(get("when_to_transfer_output")) != "on_exit") die(path + ": this double needs when_to_transfer_output = ON_EXIT");
  }
  return procs;
}

std::string job_name(long cluster, long proc) { return std::to_string(cluster) + "." + std::to_string(proc); }

// One event, appended under an exclusive lock so concurrent clusters do not interleave.
void log_event(const std::string& log, int code, long cluster, long proc, const std::string& text,
               const std::vector<std::string>& body) {
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  char head[128];
  std::snprintf(head, sizeof head, "%03d (%03ld.%03ld.000) ", code, cluster, proc);
  std::string ev = std::string(head) + when + " " + text + "\n";
  for (const auto& b : body) ev += "\t" + b + "\n";
  ev += "...\n";
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ::flock(fd, LOCK_EX);
  mw::detail::write_all(fd, ev, log);
  ::flock(fd, LOCK_UN);
  ::close(fd);
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string this_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

bool marker(const std::string& spool, const std::string& name) { return mw::detail::path_exists(spool + "/" + name); }

void copy_file(const std::string& from, const std::string& to) {
  mw::detail::write_file_atomic(to, mw::detail::read_file(from), 0755);
}

// Runs one job; returns when its terminal event is written.
void run_job(const std::string& spool, long cluster, long proc, const Vars& v, const std::string& submit_dir) {
  auto get = [&](const char* k) { auto it = v.find(k); return it == v.end() ? std::string() : it->second; };
  const std::string log = absolute(get("log"), submit_dir);
  const std::string name = job_name(cluster, proc);
  const std::string initialdir = absolute(get("initialdir").empty() ? submit_dir : get("initialdir"), submit_dir);
  auto removed = [&] { return marker(spool, name + ".rm") || marker(spool, std::to_string(cluster) + ".rm"); };
  auto aborted = [&] { log_event(log, 9, cluster, proc, "Job was aborted.", {"via condor_rm (by user fake)"}); };
  // Held: wait for condor_release or condor_rm. Returns false when removed.
  auto hold = [&](const std::string& reason, int code) {
    ::unlink((spool + "/" + name + ".release").c_str());
    log_event(log, 12, cluster, proc, "Job was held.", {reason, "Code " + std::to_string(code) + " Subcode 0"});
    for (int i = 0; i < 30000; ++i) {
      if (removed()) {
        aborted();
        return false;
      }
      if (marker(spool, name + ".release")) {
        ::unlink((spool + "/" + name + ".release").c_str());
        log_event(log, 13, cluster, proc, "Job was released.", {"via condor_release (by user fake)"});
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    aborted();  // nobody came back for it
    return false;
  };

  if (removed()) return aborted();
  if (!get("+fakecondorabort").empty()) {
    log_event(log, 9, cluster, proc, "Job was aborted.", {unquote(get("+fakecondorabort"))});
    return;
  }
  if (!get("+fakecondorhold").empty() && !hold(unquote(get("+fakecondorhold")), 3)) return;

  const std::string sandbox = spool + "/sandbox-" + name;
  mw::detail::remove_tree(sandbox);
  ::mkdir(sandbox.c_str(), 0700);
  std::set<std::string> inputs;
  for (;;) {
    std::string missing;
    for (const auto& f : split_list(get("transfer_input_files"))) {
      const std::string from = absolute(f, initialdir);
      if (!mw::detail::path_exists(from)) {
        missing = from;
        break;
      }
      const std::string base = mw::detail::base_name(f);
      copy_file(from, sandbox + "/" + base);
      inputs.insert(base);
    }
    if (missing.empty()) break;
    if (!hold("Error from slot1@fake: Failed to transfer files: " + missing + " does not exist", 13)) {
      mw::detail::remove_tree(sandbox);
      return;
    }
  }

  std::vector<std::string> hosts;
  for (const auto& h : split_words(unquote(get("+fakecondorhosts")))) hosts.push_back(h);
  if (hosts.empty()) hosts.push_back(this_host_name());
  auto executing = [&](std::size_t index) {
    const std::string& machine = hosts[index % hosts.size()];
    const std::string ip = "127.0.0." + std::to_string(index % hosts.size() + 1);
    log_event(log, 1, cluster, proc,
              "Job executing on host: <" + ip + ":9618?addrs=" + ip + "-9618&alias=" + machine +
                  "&noUDP&sock=startd_" + std::to_string(::getpid()) + "_" + std::to_string(index) + ">",
              {"SlotName: slot1@" + machine, "CondorScratchDir = \"/var/lib/condor/execute/dir_" +
                                                 std::to_string(::getpid()) + "\"",
               "Cpus = 1", "Disk = 1048576", "Memory = 1024"});
  };
  if (!get("+fakecondorevict").empty()) {
    executing(static_cast<std::size_t>(proc) + 1);
    log_event(log, 4, cluster, proc, "Job was evicted.", {"(0) Job was not checkpointed."});
  }
  executing(static_cast<std::size_t>(proc));
  mw::detail::ProcessSpec spec;
  spec.argv = split_arguments(get("arguments"));
  spec.argv.insert(spec.argv.begin(), absolute(get("executable"), submit_dir));
  spec.cwd = sandbox;
  spec.stdout_cap = spec.stderr_cap = 64 << 20;
  const std::string pid_file = spool + "/" + name + ".pid";
  spec.on_started = [&](int pid) { mw::detail::write_file_atomic(pid_file, std::to_string(pid)); };
  const auto out = mw::detail::run_process(spec);
  ::unlink(pid_file.c_str());
  if (removed()) {
    mw::detail::remove_tree(sandbox);
    return aborted();
  }
  if (!get("output").empty()) mw::detail::write_file_atomic(absolute(get("output"), initialdir), out.stdout_data);
  if (!get("error").empty()) mw::detail::write_file_atomic(absolute(get("error"), initialdir), out.stderr_data);
  // ON_EXIT: every new top-level file comes back to initialdir.
  if (DIR* d = ::opendir(sandbox.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string f = e->d_name;
      struct stat st {};
      if (f == "." || f == ".." || inputs.count(f) || ::lstat((sandbox + "/" + f).c_str(), &st) != 0 ||
          !S_ISREG(st.st_mode))
        continue;
      copy_file(sandbox + "/" + f, initialdir + "/" + f);
    }
    ::closedir(d);
  }
  mw::detail::remove_tree(sandbox);
  std::vector<std::string> body;
  if (out.ending == mw::detail::ProcessEnding::exited) {
    body.push_back("(1) Normal termination (return value " + std::to_string(out.exit_code) + ")");
  } else if (out.ending == mw::detail::ProcessEnding::exec_failed) {
    body.push_back("(1) Normal termination (return value 127)");
  } else {
    body.push_back("(0) Abnormal termination (signal " + std::to_string(out.signal ? out.signal : 9) + ")");
  }
  body.insert(body.end(), {"Usr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage",
                           "Usr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage", "0  -  Run Bytes Sent By Job",
                           "0  -  Run Bytes Received By Job"});
  log_event(log, 5, cluster, proc, "Job terminated.", body);
}

long next_cluster(const std::string& spool) {
  const std::string path = spool + "/next_cluster";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) die("cannot open " + path);
  ::flock(fd, LOCK_EX);
  char buf[32] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  long cluster = n > 0 ? std::atol(buf) : 0;
  if (cluster <= 0) cluster = 1;
  const std::string next = std::to_string(cluster + 1);
  ::ftruncate(fd, 0);
  ::pwrite(fd, next.data(), next.size(), 0);
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return cluster;
}

int submit(int argc, char** argv) {
  if (argc != 2) die("usage: fake_condor_submit FILE.sub");
  const std::string file = argv[1];
  std::vector<Vars> procs;
  try {
    procs = parse_submit(file);
  } catch (const mw::Error& e) {
    die(e.what());
  }
  const std::string spool = spool_dir();
  const long cluster = next_cluster(spool);
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) die("getcwd failed");
  const std::string submit_dir = cwd;
  for (std::size_t p = 0; p < procs.size(); ++p)
    log_event(absolute(procs[p].at("log"), submit_dir), 0, cluster, static_cast<long>(p),
              "Job submitted from host: <127.0.0.1:0?fake-condor>", {});
  mw::detail::write_file_atomic(spool + "/" + std::to_string(cluster) + ".jobs", std::to_string(procs.size()));
  std::cout << "Submitting job(s)" << std::string(procs.size(), '.') << "\n"
            << procs.size() << " job(s) submitted to cluster " << cluster << ".\n"
            << std::flush;
  // The schedd's part runs detached, so condor_submit's caller is not kept
  // waiting; condor_submit returns only once it has left the caller's process
  // group (the caller's runner kills that group when condor_submit ends).
  int ready[2];
  if (::pipe(ready) != 0) die("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid > 0) {
    ::close(ready[1]);
    char c;
    while (::read(ready[0], &c, 1) < 0 && errno == EINTR) {
    }
    return 0;
  }
  ::close(ready[0]);
  ::setsid();
  ::close(ready[1]);
  const int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(null, 2);
  for (std::size_t p = 0; p < procs.size(); ++p) {
    try {
      run_job(spool, cluster, static_cast<long>(p), procs[p], submit_dir);
    } catch (const std::exception&) {
      log_event(absolute(procs[p].at("log"), submit_dir), 9, cluster, static_cast<long>(p), "Job was aborted.",
                {"fake schedd failed to run the job"});
    }
  }
  std::_Exit(0);
}

// "C.P" or "C" -> (C, P or -1)
std::pair<long, long> parse_job(const std::string& text) {
  const auto dot = text.find('.');
  const long c = std::atol(text.substr(0, dot).c_str());
  const long p = dot == std::string::npos ? -1 : std::atol(text.substr(dot + 1).c_str());
  if (c <= 0 || text.find_first_not_of("0123456789.") != std::string::npos) die("bad job id '" + text + "'");
  return {c, p};
}

int remove_or_release(int argc, char** argv, bool release) {
  if (argc < 2) die(std::string("usage: fake_condor_") + (release ? "release" : "rm") + " CLUSTER[.PROC]...");
  const std::string spool = spool_dir();
  int rc = 0;
  for (int i = 1; i < argc; ++i) {
    const auto [c, p] = parse_job(argv[i]);
    if (!marker(spool, std::to_string(c) + ".jobs")) {
      std::cerr << "Couldn't find/" << (release ? "release" : "remove") << " all jobs matching " << argv[i] << "\n";
      rc = 1;
      continue;
    }
    const std::string name = p < 0 ? std::to_string(c) : job_name(c, p);
    mw::detail::write_file_atomic(spool + "/" + name + (release ? ".release" : ".rm"), "");
    if (!release) {
      // Kill what runs now (the job's process group).
      const long jobs = std::atol(mw::detail::read_file(spool + "/" + std::to_string(c) + ".jobs", 64).c_str());
      for (long proc = p < 0 ? 0 : p; proc < (p < 0 ? jobs : p + 1); ++proc) {
        const std::string pid_file = spool + "/" + job_name(c, proc) + ".pid";
        if (!mw::detail::path_exists(pid_file)) continue;
        const int pid = std::atoi(mw::detail::read_file(pid_file, 64).c_str());
        if (pid > 0) ::kill(-pid, SIGKILL);
      }
    }
    std::cout << (p < 0 ? "All jobs in cluster " + std::to_string(c) : "Job " + name) << " "
              << (release ? "released" : "marked for removal") << "\n";
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tool = FAKE_STR(FAKE_CONDOR_TOOL);
  if (tool == "submit") return submit(argc, argv);
  if (tool == "rm") return remove_or_release(argc, argv, false);
  return remove_or_release(argc, argv, true);
}
