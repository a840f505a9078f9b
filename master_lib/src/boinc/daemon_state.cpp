#include "boinc/daemon_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "util/fs.h"

namespace mw::boinc::detail {

namespace {

std::vector<std::string> split_words(const std::string& cmd) {
  std::vector<std::string> words;
  std::istringstream in(cmd);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

bool is_problem_line(const std::string& line) {
  return line.find("[CRITICAL]") != std::string::npos || line.find("[warning]") != std::string::npos ||
         line.find("Couldn't execute") != std::string::npos || line.find("Couldn't start") != std::string::npos;
}

}  // namespace

std::string short_hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  std::string s = name;
  return s.substr(0, s.find('.'));
}

bool is_app_daemon(const std::string& cmd, const std::string& program, const std::string& app) {
  auto words = split_words(cmd);
  if (words.empty() || mw::detail::base_name(words[0]) != program) return false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    if ((words[i] == "--app" || words[i] == "-app") && i + 1 < words.size() && words[i + 1] == app)
      return true;
    if (words[i] == "--app=" + app) return true;
  }
  return false;
}

std::string last_lines(const std::string& path, std::size_t n) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += "\n    " + lines[i];
  return out;
}

std::string reason_from_log(const std::string& log) {
  std::ifstream in(log);
  if (!in) return "no log " + log + " (bin/start has not started it)";
  std::string last, telling;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    last = line;
    if (line.find("Couldn't execute") != std::string::npos || line.find("[CRITICAL]") != std::string::npos ||
        line.find("Couldn't start") != std::string::npos)
      telling = line;
  }
  if (!telling.empty()) return log + ": " + telling;
  return last.empty() ? "its log " + log + " is empty" : log + " ends: " + last;
}

std::vector<std::string> recent_problem_lines(const std::string& path, std::size_t n, std::size_t window_bytes) {
  std::vector<std::string> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return out;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {  // a FIFO or device would block or never end
    ::close(fd);
    return out;
  }
  const off_t start = st.st_size > static_cast<off_t>(window_bytes) ? st.st_size - window_bytes : 0;
  std::string text(static_cast<std::size_t>(st.st_size - start), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t r = ::pread(fd, text.data() + got, text.size() - got, start + static_cast<off_t>(got));
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  text.resize(got);
  std::istringstream in(text);
  std::string line;
  if (start > 0) std::getline(in, line);  // the window cut it
  std::vector<std::string> found;
  while (std::getline(in, line))
    if (is_problem_line(line)) found.push_back(line);
  const std::size_t from = found.size() > n ? found.size() - n : 0;
  out.assign(found.begin() + static_cast<std::ptrdiff_t>(from), found.end());
  return out;
}

DaemonState daemon_state(const std::string& project_dir, const ProjectConfig& config, const DaemonConfig& d,
                         const std::string& this_host) {
  DaemonState r;
  const std::string host = d.host.empty() ? config.host : d.host;
  r.log = join(join(project_dir, "log_" + this_host), d.output_or_default());
  const std::string lock = join(join(project_dir, "pid_" + this_host), d.lock_file_or_default());
  int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
      r.running = true;
      r.pid = fl.l_pid;
    }
    ::close(fd);
  }
  if (r.running) return r;
  if (host != this_host)
    r.why = "its host in config.xml is '" + host + "' but this machine is '" + this_host +
            "': bin/start runs a daemon only where <host> is the short hostname (set <host>" + this_host +
            "</host> in config.xml)";
  else if (d.disabled)
    r.why = "it is <disabled> in config.xml";
  else
    r.why = reason_from_log(r.log);
  return r;
}

}  // namespace mw::boinc::detail
