#include "util/fs.h"

#include <dlfcn.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "mw/error.h"

namespace mw::detail {
namespace {

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int err) {
  throw Error(Errc::io, what + " '" + path + "': " + errno_text(err));
}

}  // namespace

void write_all(int fd, std::string_view bytes, const std::string& path) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io("cannot write", path, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

namespace {

// One directory being emptied by remove_tree: how to get back to it from a
// child (its identity, checked after "..") and the subdirectories still to go.
struct Level {
  std::string name;  // its name in the parent level ("" for the root)
  dev_t dev = 0;
  ino_t ino = 0;
  std::vector<std::string> subdirs;
};

// Lets the owner list, enter and empty a directory whatever mode the task
// left on it (0000 directories are the usual way to defeat a naive removal).
void make_removable(int dir_fd) noexcept { fchmod(dir_fd, S_IRWXU); }

// Unlinks every non-directory in the directory open at `fd` and returns the
// names of its subdirectories. Reads through a duplicate, so `fd` stays ours.
std::vector<std::string> unlink_files_list_subdirs(int fd) noexcept {
  std::vector<std::string> subdirs;
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return subdirs;
  DIR* dir = fdopendir(dup_fd);
  if (!dir) {
    close(dup_fd);
    return subdirs;
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    (is_dir ? subdirs : files).emplace_back(e->d_name);
  }
  closedir(dir);
  for (const auto& f : files) unlinkat(fd, f.c_str(), 0);
  return subdirs;
}

bool open_level(int parent_fd, const char* name, Level& level, int& fd) noexcept {
  fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES) {
    // A directory without search permission for us: give it back, then retry.
    // fchmodat follows links, so only after checking this is a directory.
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        fchmodat(parent_fd, name, S_IRWXU, 0) == 0)
      fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    fd = -1;
    return false;
  }
  make_removable(fd);
  level.dev = st.st_dev;
  level.ino = st.st_ino;
  level.subdirs = unlink_files_list_subdirs(fd);
  return true;
}

// Depth-first removal that holds two descriptors at most, whatever the depth:
// a recursive walk keeping one open directory per level ran out of
// descriptors on a few-thousand-deep tree under `ulimit -n 1024` and left it
// behind. Going back up is through "..", checked against the device and inode
// recorded on the way down, so a directory moved meanwhile stops the walk
// rather than sending it elsewhere.
void remove_tree_iterative(const char* path) noexcept {
  std::vector<Level> stack(1);
  int fd = -1;
  if (!open_level(AT_FDCWD, path, stack.back(), fd)) {
    // Not a directory (or a link to one): unlink the entry itself.
    unlinkat(AT_FDCWD, path, 0);
    return;
  }
  for (;;) {
    Level& top = stack.back();
    if (!top.subdirs.empty()) {
      Level child;
      child.name = std::move(top.subdirs.back());
      top.subdirs.pop_back();
      int child_fd = -1;
      if (!open_level(fd, child.name.c_str(), child, child_fd)) {
        unlinkat(fd, child.name.c_str(), AT_REMOVEDIR);  // best effort; never retried
        continue;
      }
      close(fd);
      fd = child_fd;
      stack.push_back(std::move(child));
      continue;
    }
    if (stack.size() == 1) break;
    int parent_fd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    fd = -1;
    if (parent_fd < 0) return;
    struct stat st;
    const Level& parent = stack[stack.size() - 2];
    if (fstat(parent_fd, &st) != 0 || st.st_dev != parent.dev || st.st_ino != parent.ino) {
      close(parent_fd);
      return;
    }
    unlinkat(parent_fd, top.name.c_str(), AT_REMOVEDIR);
    stack.pop_back();
    fd = parent_fd;
  }
  close(fd);
  rmdir(path);
}

}  // namespace

std::string errno_text(int err) { return std::strerror(err); }

std::string read_file(const std::string& path, std::uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io("cannot open", path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    throw_io("cannot stat", path, err);
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    close(fd);
    throw Error(Errc::usage, "'" + path + "' is " + std::to_string(st.st_size) +
                                 " bytes, more than the " + std::to_string(max_bytes) +
                                 " allowed");
  }
  std::string data;
  data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      throw_io("cannot read", path, err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > max_bytes) {
      close(fd);
      throw Error(Errc::usage, "'" + path + "' grew past the " + std::to_string(max_bytes) +
                                   " bytes allowed while being read");
    }
  }
  close(fd);
  return data;
}

std::string temp_path_beside(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  return path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(++counter);
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_io("cannot open directory", dir, errno);
  if (fsync(fd) != 0 && errno != EINVAL) {
    int err = errno;
    close(fd);
    throw_io("cannot fsync directory", dir, err);
  }
  close(fd);
}

static std::string dir_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

namespace {

// Puts the finished temp file at `path`. Without `replace` an existing path
// wins: renameat2's RENAME_NOREPLACE, or link + unlink on a file system that
// lacks it, so two writers cannot both think they made the file.
void move_into_place(const std::string& tmp, const std::string& path, bool replace) {
  if (replace) {
    if (rename(tmp.c_str(), path.c_str()) != 0) throw_io("cannot rename into place", path, errno);
    return;
  }
  if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno != EINVAL && errno != ENOSYS) {
    if (errno == EEXIST) throw Error(Errc::usage, "'" + path + "' exists; it was left as it was");
    throw_io("cannot rename into place", path, errno);
  }
  if (link(tmp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) throw Error(Errc::usage, "'" + path + "' exists; it was left as it was");
    throw_io("cannot link into place", path, errno);
  }
  unlink(tmp.c_str());
}

void write_via_temp(const std::string& path, const std::function<void(int, const std::string&)>& fill,
                    unsigned mode, bool durable, bool replace) {
  std::string tmp = temp_path_beside(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) throw_io("cannot create", tmp, errno);
  try {
    fill(fd, tmp);
    if (durable && fsync(fd) != 0) throw_io("cannot fsync", tmp, errno);
    const int closed = close(fd);
    fd = -1;
    if (closed != 0) throw_io("cannot close", tmp, errno);
    move_into_place(tmp, path, replace);
  } catch (...) {
    if (fd >= 0) close(fd);
    unlink(tmp.c_str());
    throw;
  }
  if (durable) fsync_directory(dir_name(path));
}

void write_via_temp(const std::string& path, std::string_view bytes, unsigned mode, bool durable) {
  write_via_temp(path, [&](int fd, const std::string& tmp) { write_all(fd, bytes, tmp); }, mode, durable,
                 /*replace=*/true);
}

}  // namespace

void write_file_atomic_with(const std::string& path, const std::function<void(int, const std::string&)>& fill,
                            bool replace, unsigned mode) {
  write_via_temp(path, fill, mode, /*durable=*/true, replace);
}

void write_file_atomic(const std::string& path, std::string_view bytes, unsigned mode) {
  write_via_temp(path, bytes, mode, true);
}

void replace_file(const std::string& path, std::string_view bytes, unsigned mode) {
  write_via_temp(path, bytes, mode, false);
}

std::string make_temp_dir(const std::string& parent, const std::string& prefix) {
  std::string pattern = join_path(parent, prefix + "XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw_io("cannot create a temporary directory in", parent, errno);
  return buf.data();
}

void remove_tree(const std::string& path) noexcept {
  if (path.empty()) return;
  remove_tree_iterative(path.c_str());
}

std::string default_temp_root() {
  const char* tmp = std::getenv("TMPDIR");
  return (tmp && *tmp) ? tmp : "/tmp";
}

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto slash = path.find_last_of('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TempDir::TempDir(const std::string& parent, const std::string& prefix)
    : path_(make_temp_dir(parent, prefix)) {}

TempDir::~TempDir() { remove_tree(path_); }

std::string self_program_path() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error(Errc::system, "cannot find this program's path in /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string installed_helper_program(const std::string& name) {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&installed_helper_program), &info) != 0 && info.dli_fname) {
    char real[PATH_MAX];
    if (::realpath(info.dli_fname, real)) {
      std::string dir(real);
      dir = dir.substr(0, dir.find_last_of('/'));
      const std::string candidate = dir + "/../libexec/mwkit/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
#ifdef MW_INSTALL_LIBEXECDIR
  const std::string installed = std::string(MW_INSTALL_LIBEXECDIR) + "/" + name;
  if (::access(installed.c_str(), X_OK) == 0) return installed;
#endif
  return "";
}

}  // namespace mw::detail
