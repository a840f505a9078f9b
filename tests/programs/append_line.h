// Helpers for the master programs the tests kill and start again.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace mw::test {

// Appends `line` and a newline to `path` and fsyncs it: a line a test reads
// after a SIGKILL was written before the kill. Aborts on any error.
inline void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  const std::string text = line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
  ::fsync(fd);
  ::close(fd);
}

}  // namespace mw::test
