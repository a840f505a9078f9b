// The hosts of delivered workunits — see mw/boinc/delivery_hosts.h.
#include "mw/boinc/delivery_hosts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

// Volunteers name their hosts: a tab or newline in a name must not split a line.
void put_escaped(std::string& out, const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f || c == '%') {
      out += '%';
      out += hex[b >> 4];
      out += hex[b & 15];
    } else {
      out += c;
    }
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string unescaped(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const auto tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

}  // namespace

std::string format_delivered_host(const DeliveredHost& host) {
  std::string line;
  put_escaped(line, host.wu_name);
  line += host.canonical ? "\tcanonical\t" : "\terror\t";
  line += std::to_string(host.hostid);
  for (const std::string* text : {&host.domain_name, &host.os_name, &host.p_model}) {
    line += '\t';
    put_escaped(line, *text);
  }
  line += '\n';
  return line;
}

void append_delivered_hosts(const std::string& path, const std::string& lines) {
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(Errc::io, "cannot open '" + path + "': " + detail::errno_text(errno));
  try {
    struct stat st {};
    char last = '\n';
    if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) != 1) last = '\n';
    detail::write_all(fd, last == '\n' ? lines : "\n" + lines, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void DeliveredHostsReader::read_more() {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // none yet: an older assimilator, or nothing delivered
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(offset_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    offset_ += static_cast<std::uint64_t>(n);
    partial_.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::size_t start = 0;
  for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
    const auto fields = split_tabs(partial_.substr(start, nl - start));
    start = nl + 1;
    // All six fields, or it is a line a crash cut short (its hostid may be cut too).
    if (fields.size() < 6 || (fields[1] != "canonical" && fields[1] != "error")) continue;
    DeliveredHost h;
    h.wu_name = unescaped(fields[0]);
    h.canonical = fields[1] == "canonical";
    char* end = nullptr;
    h.hostid = std::strtoll(fields[2].c_str(), &end, 10);
    if (fields[2].empty() || *end != '\0' || h.hostid <= 0) continue;
    h.domain_name = unescaped(fields[3]);
    h.os_name = unescaped(fields[4]);
    h.p_model = unescaped(fields[5]);
    auto& seen = by_wu_[h.wu_name];
    bool again = false;
    for (const auto& s : seen) again = again || (s.hostid == h.hostid && s.canonical == h.canonical);
    if (!again) seen.push_back(std::move(h));
  }
  partial_.erase(0, start);
}

std::vector<DeliveredHost> DeliveredHostsReader::take(const std::string& wu_name) {
  read_more();
  auto it = by_wu_.find(wu_name);
  if (it == by_wu_.end()) return {};
  std::vector<DeliveredHost> hosts = std::move(it->second);
  by_wu_.erase(it);
  return hosts;
}

}  // namespace mw::boinc
