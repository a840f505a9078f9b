#include "slot_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdio>
#include <sstream>

#include "mw/error.h"
#include "mw/hash.h"
#include "util/fs.h"

namespace mw::wrapper {
namespace {

constexpr const char* kMarkerPrefix = "mw-wrapper verified ";
constexpr const char* kBootPrefix = "boot ";

// Changes at every boot; empty where the kernel does not say.
std::string current_boot_id() {
  try {
    std::string id = detail::read_file("/proc/sys/kernel/random/boot_id", 128);
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
  } catch (const Error&) {
    return "";
  }
}

// SHA-256 of the regular file at `path` (never through a link) if its size is
// `size`; empty otherwise.
std::string hash_if_size(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "";
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != size)
    return "";
  Sha256 hash;
  std::vector<char> buf(1 << 20);
  std::uint64_t seen = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "";
    if (n == 0) break;
    hash.update(buf.data(), static_cast<std::size_t>(n));
    seen += static_cast<std::uint64_t>(n);
  }
  return seen == size ? hash.finish_hex() : "";
}

}  // namespace

SlotState::SlotState(std::string slot_dir)
    : slot_dir_(std::move(slot_dir)),
      work_dir_(detail::join_path(slot_dir_, "mw_work")),
      marker_path_(detail::join_path(slot_dir_, "mw_work.verified")),
      state_path_(detail::join_path(slot_dir_, "mw_wrapper_state")) {}

SlotState::Marker SlotState::read_marker() const {
  Marker marker;
  std::string text;
  try {
    text = detail::read_file(marker_path_, 4096);
  } catch (const Error&) {
    return marker;
  }
  std::istringstream in(text);
  std::string line;
  const std::string prefix = kMarkerPrefix, boot = kBootPrefix;
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) marker.manifest_sha256 = line.substr(prefix.size());
    else if (line.compare(0, boot.size(), boot) == 0) marker.boot_id = line.substr(boot.size());
  }
  return marker;
}

void SlotState::write_marker(const TaskBundle& bundle) const {
  std::string text = kMarkerPrefix + bundle.manifest_sha256() + "\n";
  if (const std::string boot = current_boot_id(); !boot.empty()) text += kBootPrefix + boot + "\n";
  // No fsync: see the header. A marker lost in a crash only costs an unpack.
  detail::replace_file(marker_path_, text);
}

bool SlotState::sizes_match(const TaskBundle& bundle) const {
  for (const auto& f : bundle.manifest().files) {
    struct stat st;
    const std::string path = detail::join_path(work_dir_, f.name);
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != f.size)
      return false;
  }
  return true;
}

bool SlotState::hashes_match(const TaskBundle& bundle) const {
  for (const auto& f : bundle.manifest().files)
    if (hash_if_size(detail::join_path(work_dir_, f.name), f.size) != f.sha256) return false;
  return true;
}

Preparation SlotState::prepare(const TaskBundle& bundle) {
  const Marker marker = read_marker();
  if (marker.manifest_sha256 == bundle.manifest_sha256()) {
    const std::string boot = current_boot_id();
    if (!boot.empty() && marker.boot_id == boot) {
      if (sizes_match(bundle)) return Preparation::reused;
    } else if (hashes_match(bundle)) {
      write_marker(bundle);
      return Preparation::reverified;
    }
  }
  clear();
  if (mkdir(work_dir_.c_str(), 0700) != 0)
    throw Error(Errc::io, "cannot create '" + work_dir_ + "': " + detail::errno_text(errno));
  bundle.extract_to(work_dir_);
  write_marker(bundle);
  return Preparation::unpacked;
}

PriorRuns SlotState::prior_runs() const {
  PriorRuns prior;
  try {
    std::istringstream in(detail::read_file(state_path_, 4096));
    in.imbue(std::locale::classic());
    PriorRuns read;
    if (in >> read.elapsed_seconds >> read.cpu_seconds && read.elapsed_seconds >= 0 &&
        read.cpu_seconds >= 0)
      prior = read;
  } catch (const Error&) {
    // No checkpoint yet: nothing ran before, as far as the task is concerned.
  }
  return prior;
}

void SlotState::record_checkpoint(const PriorRuns& totals) const {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << totals.elapsed_seconds << ' ' << totals.cpu_seconds << '\n';
  detail::write_file_atomic(state_path_, out.str());
}

void SlotState::clear() const {
  ::unlink(marker_path_.c_str());
  ::unlink(state_path_.c_str());
  detail::remove_tree(work_dir_);
}

}  // namespace mw::wrapper
