#include "tool_common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "mw/error.h"

namespace mw::tools {

int run_tool(const char* tool, const std::function<int()>& body) {
  return mw::cli::run_main(tool, kExitError, [&] {
    try {
      return body();
    } catch (const UsageError& e) {
      std::cerr << tool << ": " << e.what() << std::endl;
      return kExitUsage;
    }
  });
}

std::string read_regular_file(const std::string& path, std::uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw mw::Error(mw::Errc::io, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw mw::Error(mw::Errc::usage, "'" + path + "' is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw mw::Error(mw::Errc::usage, "'" + path + "' is " + std::to_string(st.st_size) +
                                         " bytes, more than the " + std::to_string(max_bytes) +
                                         " a manifest may have");
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int err = errno;
      ::close(fd);
      throw mw::Error(mw::Errc::io, "cannot read '" + path + "': " + std::strerror(err));
    }
    if (got == 0) break;
    data.append(buf, static_cast<std::size_t>(got));
    if (data.size() > max_bytes) {
      ::close(fd);
      throw mw::Error(mw::Errc::usage, "'" + path + "' grew past " + std::to_string(max_bytes) +
                                           " bytes while being read");
    }
  }
  ::close(fd);
  return data;
}

std::string display_quote(const std::string& arg) {
  bool plain = !arg.empty();
  for (char c : arg) {
    bool safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '/' || c == '=' || c == ':' || c == ',';
    if (!safe) plain = false;
  }
  if (plain) return arg;
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return terminal_safe(out + "'");
}

}  // namespace mw::tools
