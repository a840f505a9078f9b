#include "mw/boinc/hierarchy.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include "boinc/md5.h"
#include "mw/error.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

void check_fanout(int fanout) {
  if (fanout < 0)
    throw Error(Errc::usage, "uldl_dir_fanout must be 0 (flat) or positive, not " +
                                 std::to_string(fanout));
}

std::string under(const std::string& root, std::string_view name, int fanout) {
  check_fanout(fanout);
  std::string out = root;
  out += '/';
  if (fanout > 0) {
    out += fanout_dir(name, fanout);
    out += '/';
  }
  out += name;
  return out;
}

}  // namespace

std::string fanout_dir(std::string_view name, int fanout) {
  if (fanout <= 0)
    throw Error(Errc::usage, "a fan-out directory needs a positive fanout, not " +
                                 std::to_string(fanout));
  const std::string hex = detail::md5_hex(name);
  // Seven hex digits fit in 28 bits, so the value is never negative.
  const unsigned long value = std::stoul(hex.substr(1, 7), nullptr, 16);
  char dir[16];
  std::snprintf(dir, sizeof(dir), "%lx", value % static_cast<unsigned long>(fanout));
  return dir;
}

std::string dir_hier_path(std::string_view name, const std::string& root, int fanout) {
  return under(root, name, fanout);
}

std::string dir_hier_url(std::string_view name, const std::string& base_url, int fanout) {
  return under(base_url, name, fanout);
}

std::string make_dir_hier_path(std::string_view name, const std::string& root, int fanout) {
  std::string path = dir_hier_path(name, root, fanout);
  if (fanout == 0) return path;
  const std::string dir = root + "/" + fanout_dir(name, fanout);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      throw Error(Errc::io, "fan-out directory '" + dir + "' exists but is not a directory");
    return path;
  }
  if (::mkdir(dir.c_str(), kFanoutDirMode) != 0) {
    if (errno != EEXIST)
      throw Error(Errc::io, "cannot create fan-out directory '" + dir + "': " +
                                mw::detail::errno_text(errno));
    return path;  // another process made it between our stat and mkdir
  }
  // mkdir applied the umask; BOINC's directories ignore it (the web server's
  // group must be able to write the upload tree), so set the mode explicitly
  // rather than touching the process-wide umask.
  if (::chmod(dir.c_str(), kFanoutDirMode) != 0)
    throw Error(Errc::io, "cannot set the mode of '" + dir + "': " + mw::detail::errno_text(errno));
  return path;
}

}  // namespace mw::boinc
