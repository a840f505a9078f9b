// Internal file-system helpers shared by the bundle code, the runner and the tools.
// All of them throw mw::Error(Errc::io) naming the path and the OS error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace mw::detail {

std::string errno_text(int err);

// Reads a whole file; refuses files larger than max_bytes (Errc::usage naming the path).
std::string read_file(const std::string& path, std::uint64_t max_bytes = UINT64_MAX);
// Writes all of `bytes` to fd (retrying short writes); `path` names it in errors.
void write_all(int fd, std::string_view bytes, const std::string& path);
// Writes `bytes` to path via a temp file in the same directory, fsync, rename, fsync dir.
void write_file_atomic(const std::string& path, std::string_view bytes, unsigned mode = 0644);
// The same with the content written by fill(fd, temp_path), which throws on
// failure (the temp file is then removed). With `replace` false an existing
// `path` is left as it is and the write fails with Errc::usage "'PATH' exists",
// decided atomically (two writers cannot both succeed).
void write_file_atomic_with(const std::string& path, const std::function<void(int fd, const std::string& temp)>& fill,
                            bool replace = true, unsigned mode = 0644);
// The same without the fsyncs: while the system runs, readers see the old
// content or the new, never a mix; after a crash either may be lost. For
// files whose loss is harmless and whose cost is paid on a hot path.
void replace_file(const std::string& path, std::string_view bytes, unsigned mode = 0644);
// fsync a directory so a rename inside it is durable.
void fsync_directory(const std::string& dir);
// Creates a unique temp path "<path>.tmp.<pid>.<n>" next to `path`.
std::string temp_path_beside(const std::string& path);
// Makes a fresh private directory under `parent` (mkdtemp, mode 0700).
std::string make_temp_dir(const std::string& parent, const std::string& prefix);
// Removes a tree without following symlinks; ignores a missing path. Works
// for any tree a task can leave: any depth (at most two descriptors open),
// directories without read/search/write permission for the owner (it gives
// them back), and files inside those.
void remove_tree(const std::string& path) noexcept;
// $TMPDIR or /tmp.
std::string default_temp_root();
std::string base_name(std::string_view path);
std::string join_path(std::string_view dir, std::string_view name);
bool path_exists(const std::string& path);
// This program's executable (/proc/self/exe).
std::string self_program_path();
// An installed helper program of mwkit's (mw-mpi-worker): LIBEXEC/mwkit/NAME
// found relative to where this code was loaded from (the shared libmw, or the
// program a static libmw is linked into: PREFIX/lib or PREFIX/bin, next to
// PREFIX/libexec), else in the install prefix this library was built for.
// Empty when neither exists.
std::string installed_helper_program(const std::string& name);

// Removes a directory tree when it goes out of scope (unless released).
class TempDir {
 public:
  TempDir(const std::string& parent, const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace mw::detail
