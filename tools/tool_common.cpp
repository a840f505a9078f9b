#include "tool_common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "mw/error.h"
#include "util/pem_label.h"

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

namespace {

// Key files are a few hundred bytes; the bound only stops a wrong path (a
// device, a huge file) from being read whole.
constexpr std::uint64_t kMaxKeyFileBytes = 64 * 1024;

// mw-sign keygen writes the pair side by side; saying so tells the person
// which file to give instead.
constexpr const char* kKeygenHint =
    "mw-sign keygen writes both: task_sign_public.pem beside task_sign_private.pem";

std::string read_key_file(const std::string& path, const std::string& option) {
  try {
    return read_regular_file(path, kMaxKeyFileBytes);
  } catch (const mw::Error& e) {
    throw UsageError(option + ": " + e.what());
  }
}

}  // namespace

std::vector<PublicKey> load_public_keys(const std::vector<std::string>& paths, const std::string& option) {
  std::vector<PublicKey> keys;
  for (const auto& path : paths) {
    const std::string pem = read_key_file(path, option);
    if (detail::is_private_key_label(detail::pem_label(pem)))
      throw UsageError("'" + path + "' is a private key; " + option + " needs the public key (" +
                       kKeygenHint + ")");
    keys.push_back(PublicKey::from_pem(pem, path));
  }
  return keys;
}

PrivateKey load_private_key(const std::string& path, const std::string& option) {
  const std::string pem = read_key_file(path, option);
  if (detail::is_public_key_label(detail::pem_label(pem)))
    throw UsageError("'" + path + "' is a public key; " + option + " needs the private key (" +
                     kKeygenHint + ")");
  return PrivateKey::from_pem(pem, path);
}

void refuse_to_overwrite(const std::string& path, bool force, const std::string& option) {
  struct stat st;
  if (force || ::lstat(path.c_str(), &st) != 0) return;
  throw UsageError(option + " '" + path + "': file exists (use --force to replace it)");
}

namespace {

// `value` (>= 0) with three significant digits, no exponent, no trailing
// zeros: 31.4, 5, 250, 1.21.
std::string three_significant(double value) {
  const int decimals = value >= 99.95 ? 0 : value >= 9.995 ? 1 : 2;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string text = buf;
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  // 1023.6 KiB would print as "1024 KiB": from there on it is the next unit.
  while (value >= 1023.5 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return three_significant(value) + " " + kUnits[unit];
}

std::string human_seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g s", seconds);
    return buf;
  }
  if (seconds == 0) return "0 s";
  // Each bound is where the smaller unit would round to 1000 of itself.
  if (seconds < 0.0009995) return three_significant(seconds * 1e6) + " µs";
  if (seconds < 0.9995) return three_significant(seconds * 1e3) + " ms";
  if (seconds < 59.95) return three_significant(seconds) + " s";
  if (seconds < 3599.5) {
    const auto whole = static_cast<long long>(std::llround(seconds));
    const long long rest = whole % 60;
    return std::to_string(whole / 60) + " min" + (rest ? " " + std::to_string(rest) + " s" : "");
  }
  const auto minutes = static_cast<long long>(std::llround(seconds / 60));
  const long long rest = minutes % 60;
  return std::to_string(minutes / 60) + " h" + (rest ? " " + std::to_string(rest) + " min" : "");
}

}  // namespace mw::tools
