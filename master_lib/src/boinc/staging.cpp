#include "mw/boinc/staging.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "boinc/md5.h"
#include "mw/boinc/hierarchy.h"
#include "mw/error.h"
#include "mw/hash.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

using mw::detail::errno_text;

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw Error(Errc::io, what + " '" + path + "': " + errno_text(err));
}

// Creates `path` (which must not exist) holding `bytes`; removes it on failure.
void write_new_file(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) io_error("cannot create", path, errno);
  try {
    mw::detail::write_all(fd, bytes, path);
  } catch (...) {
    ::close(fd);
    ::unlink(path.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    io_error("cannot write", path, err);
  }
}

// Compares the file at `path` with `bytes` without reading more than needed.
bool file_has_bytes(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_error("cannot read", path, errno);
  struct stat st {};
  bool same = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) == bytes.size();
  std::size_t offset = 0;
  char buf[65536];
  while (same && offset < bytes.size()) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, bytes.size() - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || std::memcmp(buf, bytes.data() + offset, static_cast<std::size_t>(n)) != 0) same = false;
    offset += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  ::close(fd);
  return same;
}

std::string hidden_temp_beside(const std::string& final_path) {
  static std::atomic<unsigned long> counter{0};
  const auto slash = final_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : final_path.substr(0, slash);
  const std::string base = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
  static const std::string pid = std::to_string(::getpid());
  return dir + "/.mwstage." + base + "." + pid + "." + std::to_string(counter.fetch_add(1));
}

}  // namespace

bool valid_physical_name(std::string_view name) {
  if (name.empty() || name.size() > 160 || name.front() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Stager::Stager(const ProjectConfig& config) : config_(config) {
  download_fd_ = ::open(config_.download_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (download_fd_ < 0) io_error("cannot open the download directory", config_.download_dir, errno);
  staged_list_ = std::tmpfile();
  placed_list_ = std::tmpfile();
  if (!staged_list_ || !placed_list_) {
    int err = errno;
    if (staged_list_) std::fclose(staged_list_);
    if (placed_list_) std::fclose(placed_list_);
    ::close(download_fd_);
    io_error("cannot create the staging lists in", mw::detail::default_temp_root(), err);
  }
}

Stager::~Stager() {
  // Uncommitted temp files are never referenced by anything: always remove them.
  if (pending_ > 0) discard();
  std::fclose(staged_list_);
  std::fclose(placed_list_);
  ::close(download_fd_);
}

namespace {

struct ListedFile {
  std::string temp, final_path;
  bool shared = false;
};

// Reads the staged list written by Stager::stage (tab-separated, one per line).
template <typename F>
void for_each_listed(std::FILE* list, F&& f) {
  std::fflush(list);
  std::rewind(list);
  char line[8192];
  while (std::fgets(line, sizeof line, list)) {
    std::string text(line);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    const auto t1 = text.find('\t'), t2 = text.find('\t', t1 + 1);
    if (t1 == std::string::npos || t2 == std::string::npos) continue;
    f(ListedFile{text.substr(0, t1), text.substr(t1 + 1, t2 - t1 - 1), text.substr(t2 + 1) == "1"});
  }
}

void append_line(std::FILE* list, const std::string& line) {
  if (std::fputs(line.c_str(), list) < 0 || std::fputc('\n', list) == EOF)
    throw Error(Errc::io, "cannot record a staged file in the staging list (disk full?)");
}

bool files_equal(const std::string& a, const std::string& b) {
  const std::string x = mw::detail::read_file(a);
  return file_has_bytes(b, x);
}

}  // namespace

StagedFile Stager::stage(const std::string& name, std::string_view bytes, bool shared) {
  if (!valid_physical_name(name))
    throw Error(Errc::usage, "'" + name + "' cannot be a BOINC file name: use 1-160 characters of "
                             "[A-Za-z0-9._-], not starting with '.', without '..'");
  StagedFile staged;
  staged.name = name;
  // The fan-out directory is checked (and made) once per Stager, not per file.
  const std::string dir = fanout_dir(name, config_.uldl_dir_fanout);
  if (made_dirs_.insert(dir).second) {
    staged.path = make_dir_hier_path(name, config_.download_dir, config_.uldl_dir_fanout);
  } else {
    staged.path = dir_hier_path(name, config_.download_dir, config_.uldl_dir_fanout);
  }
  staged.digest = FileDigest{detail::md5_hex(bytes), static_cast<double>(bytes.size())};

  struct stat st {};
  if (::lstat(staged.path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode) || !file_has_bytes(staged.path, bytes))
      throw Error(Errc::integrity, "'" + staged.path + "' already exists with other bytes; a staged "
                                   "name must never change its content (clients cache files by name)");
    return staged;  // already there, identical
  }
  if (errno != ENOENT) io_error("cannot inspect", staged.path, errno);

  const std::string temp = hidden_temp_beside(staged.path);
  write_new_file(temp, bytes);
  try {
    if (config_.cache_md5_info) write_new_file(md5_info_path(temp), format_md5_info(staged.digest));
    append_line(staged_list_, temp + "\t" + staged.path + "\t" + (shared ? "1" : "0"));
  } catch (...) {
    ::unlink(temp.c_str());
    ::unlink(md5_info_path(temp).c_str());
    throw;
  }
  ++pending_;
  staged.created = true;
  return staged;
}

StagedFile Stager::stage_bytes(const std::string& name, std::string_view bytes) {
  return stage(name, bytes, false);
}

StagedFile Stager::stage_copy(const std::string& name, const std::string& source) {
  return stage(name, mw::detail::read_file(source), false);
}

StagedFile Stager::stage_content_addressed(const std::string& prefix, const std::string& source) {
  const std::string bytes = mw::detail::read_file(source);
  return stage(prefix + sha256_hex(bytes), bytes, true);
}

StagedFile Stager::stage_content_addressed_bytes(const std::string& prefix, std::string_view bytes) {
  return stage(prefix + sha256_hex(bytes), bytes, true);
}

void Stager::commit() {
  if (pending_ == 0) return;
  // Barrier 1: every temp file durable before any gets its final name, so a
  // final name never denotes a partly written file.
  sync_download_file_system("before renaming the staged files into place");
  for_each_listed(staged_list_, [&](const ListedFile& f) {
    if (::renameat2(AT_FDCWD, f.temp.c_str(), AT_FDCWD, f.final_path.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno != EEXIST) io_error("cannot rename into place", f.final_path, errno);
      // Staged twice in this submission, or by someone else meanwhile.
      const bool same = files_equal(f.temp, f.final_path);
      ::unlink(f.temp.c_str());
      ::unlink(md5_info_path(f.temp).c_str());
      if (!same)
        throw Error(Errc::integrity, "'" + f.final_path + "' was staged twice with different bytes; a "
                                     "staged name must never change its content");
      return;
    }
    if (!f.shared) append_line(placed_list_, f.final_path);
    // After the data file, so the side file is never older than it.
    if (config_.cache_md5_info &&
        ::rename(md5_info_path(f.temp).c_str(), md5_info_path(f.final_path).c_str()) != 0)
      io_error("cannot rename into place", md5_info_path(f.final_path), errno);
  });
  if (std::fflush(placed_list_) != 0) throw Error(Errc::io, "cannot write the staging list (disk full?)");
  // Barrier 2: the renames durable before the database commit that makes
  // workunits refer to the final names.
  sync_download_file_system("after renaming the staged files into place");
}

// Why syncfs and not an fsync per file and directory: on ext4 each fsync
// ends in a journal commit and a cache flush of its own, and a submission
// touches up to fanout (1,024) directories and one file per task. Measured
// on this project's VM (ext4, 10^4 files of 1 KB, bench/README.md): one
// syncfs 0.10–0.18 s; fdatasync of each file from 32–64 threads 0.5–0.6 s;
// fsync of 1,024 directories ~0.5 s. syncfs also waits for other writers'
// dirty pages on the same file system (with a 3 GB dd running: 1.5 s, and
// 1.0 s for the threaded fdatasyncs), so a busy server keeps download/ on a
// file system of its own (docs/boinc-conventions.md).
void Stager::sync_download_file_system(const char* when) {
  if (::syncfs(download_fd_) != 0)
    io_error(std::string("cannot make the staged files durable ") + when +
                 ": syncfs failed on the file system of",
             config_.download_dir, errno);
}

void Stager::discard() noexcept {
  for_each_listed(staged_list_, [&](const ListedFile& f) {
    ::unlink(f.temp.c_str());  // gone already once renamed
    ::unlink(md5_info_path(f.temp).c_str());
  });
  std::fflush(placed_list_);
  std::rewind(placed_list_);
  char line[4096];
  while (std::fgets(line, sizeof line, placed_list_)) {
    std::size_t n = std::strlen(line);
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    ::unlink(line);
    ::unlink(md5_info_path(line).c_str());
  }
  forget();
}

void Stager::forget() {
  for (std::FILE* list : {staged_list_, placed_list_}) {
    std::fflush(list);
    if (::ftruncate(::fileno(list), 0) == 0) std::rewind(list);
  }
  pending_ = 0;
}

}  // namespace mw::boinc
