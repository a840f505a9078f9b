#include "mw/bundle.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "mw/error.h"
#include "mw/hash.h"
#include "task/zip_archive.h"
#include "util/fs.h"

namespace mw {
namespace {

using detail::errno_text;
using detail::join_path;

bool is_task_member(std::string_view name) {
  return is_valid_member_name(name) || name == kTaskManifestName || name == kTaskSignatureName;
}

bool is_result_member(std::string_view name) {
  return is_valid_member_name(name) || name == kResultManifestName || name == kStdoutName ||
         name == kStderrName;
}

// RAII file descriptor, enough for this file's needs.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void write_all(int fd, const char* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::io, "cannot write '" + path + "': " + errno_text(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Streams a regular file (never through a link) to `sink`.
void stream_regular_file(const std::string& path, std::uint64_t max_bytes,
                         const std::function<void(const char*, std::size_t)>& sink) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP)
      throw Error(Errc::unsafe_bundle, "'" + path + "' is a symbolic link");
    throw Error(Errc::io, "cannot open '" + path + "': " + errno_text(errno));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(Errc::unsafe_bundle, "'" + path + "' is not a regular file");
  // Uninitialised and no larger than the file: untouched pages cost nothing.
  const std::size_t buf_size = static_cast<std::size_t>(
      std::min<std::uint64_t>(256 * 1024, static_cast<std::uint64_t>(st.st_size) + 1));
  std::unique_ptr<char[]> buf(new char[buf_size]);
  std::uint64_t produced = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.get(), buf_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::io, "cannot read '" + path + "': " + errno_text(errno));
    }
    if (n == 0) break;
    produced += static_cast<std::uint64_t>(n);
    if (produced > max_bytes)
      throw Error(Errc::integrity, "'" + path + "' holds more than " +
                                       std::to_string(max_bytes) + " bytes");
    sink(buf.get(), static_cast<std::size_t>(n));
  }
}

using MemberSizes = std::map<std::string, std::uint64_t, std::less<>>;

// Lists a bundle directory with the same rules the zip reader applies.
MemberSizes list_bundle_directory(
    const std::string& dir, const UnpackLimits& limits,
    const std::function<bool(std::string_view)>& allowed_name) {
  DIR* d = opendir(dir.c_str());
  if (!d) throw Error(Errc::io, "cannot open bundle directory '" + dir + "': " + errno_text(errno));
  MemberSizes members;
  std::uint64_t total = 0;
  std::string problem;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (lstat(join_path(dir, name).c_str(), &st) != 0) continue;
    if (!allowed_name(name)) problem = "entry '" + name + "' is not an allowed member name";
    else if (S_ISLNK(st.st_mode)) problem = "entry '" + name + "' is a symbolic link";
    else if (!S_ISREG(st.st_mode)) problem = "entry '" + name + "' is not a regular file";
    total += static_cast<std::uint64_t>(st.st_size);
    members[name] = static_cast<std::uint64_t>(st.st_size);
    if (members.size() > limits.max_members)
      problem = "holds more than " + std::to_string(limits.max_members) + " entries";
    if (total > limits.max_total_bytes)
      problem = "entries add up to more than " + std::to_string(limits.max_total_bytes) + " bytes";
    if (!problem.empty()) break;
  }
  closedir(d);
  if (!problem.empty()) throw Error(Errc::unsafe_bundle, dir + ": " + problem);
  return members;
}

// Either a zip archive or a directory, read with the same rules.
class MemberSource {
 public:
  MemberSource(const std::string& path, const UnpackLimits& limits,
               const std::function<bool(std::string_view)>& allowed_name)
      : path_(path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
      throw Error(Errc::io, "cannot open bundle '" + path + "': " + errno_text(errno));
    if (S_ISDIR(st.st_mode)) {
      directory_ = list_bundle_directory(path, limits, allowed_name);
    } else {
      zip_.emplace(detail::ZipReader::open(path, limits, allowed_name));
    }
  }

  const std::string& path() const { return path_; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    if (zip_) {
      for (const auto& m : zip_->members()) out.push_back(m.name);
    } else {
      for (const auto& [name, size] : directory_) out.push_back(name);
    }
    return out;
  }

  // Lets a file outside the container stand in for the absent member `name`.
  void add_separate(const std::string& name, const std::string& file) {
    struct stat st;
    if (lstat(file.c_str(), &st) != 0)
      throw Error(Errc::io, "cannot open the separate file '" + file + "' for '" + name +
                                "': " + errno_text(errno));
    if (!S_ISREG(st.st_mode))
      throw Error(Errc::unsafe_bundle, "the separate file '" + file + "' for '" + name +
                                           "' is not a regular file");
    separate_[name] = {file, static_cast<std::uint64_t>(st.st_size)};
  }

  std::optional<std::uint64_t> size_of(std::string_view name) const {
    if (auto it = separate_.find(name); it != separate_.end()) return it->second.second;
    if (zip_) {
      const auto* m = zip_->find(name);
      if (!m) return std::nullopt;
      return m->size;
    }
    auto it = directory_.find(name);
    if (it == directory_.end()) return std::nullopt;
    return it->second;
  }

  // `check` says whether the caller hashes what it reads (zip members only;
  // files on disk carry no checksum of their own).
  void stream(std::string_view name, std::uint64_t max_bytes,
              const std::function<void(const char*, std::size_t)>& sink,
              detail::ZipReader::Check check = detail::ZipReader::Check::crc32) const {
    if (auto it = separate_.find(name); it != separate_.end()) {
      stream_regular_file(it->second.first, max_bytes, sink);
    } else if (zip_) {
      const auto* m = zip_->find(name);
      if (!m) throw Error(Errc::integrity, path_ + ": member '" + std::string(name) + "' is missing");
      zip_->read(*m, max_bytes, sink, check);
    } else {
      stream_regular_file(join_path(path_, name), max_bytes, sink);
    }
  }

  std::string read_all(std::string_view name, std::uint64_t max_bytes) const {
    std::string out;
    stream(name, max_bytes, [&](const char* d, std::size_t n) { out.append(d, n); });
    return out;
  }

 private:
  std::string path_;
  std::optional<detail::ZipReader> zip_;
  MemberSizes directory_;
  std::map<std::string, std::pair<std::string, std::uint64_t>, std::less<>> separate_;  // path, size
};

// Writes one member into `dir` as a new file, checking size and SHA-256 as the
// bytes go by; a mismatch removes the partial file.
// Streams member `name` into `fd` (`dest` names it in errors), checking it
// against the size and SHA-256 its manifest pins: Errc::integrity on a mismatch.
void write_checked_member(const MemberSource& source, const std::string& name, std::uint64_t size,
                          const std::string& sha256, int fd, const std::string& dest) {
  Sha256 hash;
  std::uint64_t written = 0;
  source.stream(
      name, size,
      [&](const char* data, std::size_t n) {
        hash.update(data, n);
        write_all(fd, data, n, dest);
        written += n;
      },
      detail::ZipReader::Check::caller_hashes);
  if (written != size)
    throw Error(Errc::integrity, source.path() + ": file '" + name + "' has " + std::to_string(written) +
                                     " bytes, its manifest says " + std::to_string(size));
  std::string actual = hash.finish_hex();
  if (actual != sha256)
    throw Error(Errc::integrity, source.path() + ": file '" + name + "' has SHA-256 " + actual +
                                     ", its manifest says " + sha256);
}

void extract_member(const MemberSource& source, const std::string& name, std::uint64_t size,
                    const std::string& sha256, bool executable, const std::string& dir) {
  const std::string dest = join_path(dir, name);
  Fd fd(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               executable ? 0755 : 0644));
  if (fd.get() < 0)
    throw Error(Errc::io, "cannot create '" + dest + "': " + errno_text(errno));
  try {
    write_checked_member(source, name, size, sha256, fd.get(), dest);
  } catch (...) {
    ::unlink(dest.c_str());
    throw;
  }
}

}  // namespace

// ---------------------------------------------------------------- TaskBuilder

TaskBuilder::TaskBuilder(std::string task_name) { base_.name = std::move(task_name); }

void TaskBuilder::add_source(Source source) {
  const std::string& name = source.entry.name;
  if (!is_valid_member_name(name))
    throw Error(Errc::usage, "task '" + base_.name + "': '" + name +
                                 "' is not a valid file name (1-128 of A-Z a-z 0-9 . _ -, "
                                 "not starting with '.' or '-', not reserved)");
  for (const auto& s : sources_)
    if (s.entry.name == name)
      throw Error(Errc::usage, "task '" + base_.name + "': file '" + name + "' added twice");
  sources_.push_back(std::move(source));
}

TaskBuilder& TaskBuilder::bundled_program(const std::string& path, std::string member_name) {
  file(path, FileRole::program, std::move(member_name));
  sources_.back().entry.executable = true;
  base_.program.bundled_file = sources_.back().entry.name;
  base_.program.host_path.clear();
  return *this;
}

TaskBuilder& TaskBuilder::host_program(std::string absolute_path) {
  base_.program.host_path = std::move(absolute_path);
  base_.program.bundled_file.clear();
  return *this;
}

TaskBuilder& TaskBuilder::function(std::string function_name) {
  base_.program.function = std::move(function_name);
  return *this;
}

TaskBuilder& TaskBuilder::arg(std::string value) {
  base_.args.push_back(std::move(value));
  return *this;
}

TaskBuilder& TaskBuilder::env(std::string name, std::string value) {
  base_.env.push_back({std::move(name), std::move(value)});
  return *this;
}

TaskBuilder& TaskBuilder::args(const std::vector<std::string>& values) {
  base_.args.insert(base_.args.end(), values.begin(), values.end());
  return *this;
}

TaskBuilder& TaskBuilder::file(const std::string& path, FileRole role, std::string member_name) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    throw Error(Errc::io, "cannot read '" + path + "': " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error(Errc::usage, "'" + path + "' is not a regular file");
  Source s;
  s.entry.name = member_name.empty() ? detail::base_name(path) : std::move(member_name);
  s.entry.role = role;
  s.entry.sha256 = sha256_file_hex(path);
  s.entry.size = static_cast<std::uint64_t>(st.st_size);
  s.path = path;
  add_source(std::move(s));
  return *this;
}

TaskBuilder& TaskBuilder::file_bytes(std::string member_name, std::string bytes, FileRole role) {
  Source s;
  s.entry.name = std::move(member_name);
  s.entry.role = role;
  s.entry.sha256 = sha256_hex(bytes);
  s.entry.size = bytes.size();
  s.bytes = std::move(bytes);
  add_source(std::move(s));
  return *this;
}

TaskBuilder& TaskBuilder::output(std::string name, std::uint64_t max_bytes, bool optional) {
  base_.outputs.push_back({std::move(name), max_bytes, optional});
  return *this;
}

TaskBuilder& TaskBuilder::limits(const Limits& limits) {
  base_.limits = limits;
  return *this;
}

TaskBuilder& TaskBuilder::estimates(const Estimates& estimates) {
  base_.estimates = estimates;
  return *this;
}

TaskManifest TaskBuilder::manifest() const {
  TaskManifest m = base_;
  for (const auto& s : sources_) m.files.push_back(s.entry);
  validate_task(m, "task '" + m.name + "'");
  return m;
}

void TaskBuilder::write_bundle(const std::string& zip_path, const PrivateKey& key) const {
  write_zip(zip_path, &key);
}

void TaskBuilder::write_unsigned_bundle(const std::string& zip_path) const {
  write_zip(zip_path, nullptr);
}

void TaskBuilder::write_bundle_without_programs(const std::string& zip_path,
                                                const PrivateKey& key) const {
  write_zip(zip_path, &key, false);
}

std::string TaskBuilder::bundle_bytes_without_programs(const PrivateKey& key) const {
  std::string bytes;
  write_zip("the bundle of task '" + base_.name + "'", &key, false, &bytes);
  return bytes;
}

std::vector<TaskBuilder::ProgramFile> TaskBuilder::program_files() const {
  std::vector<ProgramFile> programs;
  for (const auto& s : sources_)
    if (s.entry.role == FileRole::program) programs.push_back({s.entry.name, s.path, s.bytes});
  return programs;
}

void TaskBuilder::write_zip(const std::string& zip_path, const PrivateKey* key, bool with_programs,
                            std::string* bytes) const {
  const std::string xml = task_to_xml(manifest());
  const std::string sig = key ? key->sign(xml).to_text() : "";
  detail::ZipWriter zip = bytes ? detail::ZipWriter(detail::ZipWriter::InMemory{}, zip_path)
                                : detail::ZipWriter(zip_path);
  zip.add_bytes(kTaskManifestName, xml, true);
  if (key) zip.add_bytes(kTaskSignatureName, sig, false);
  for (const auto& s : sources_) {
    if (!with_programs && s.entry.role == FileRole::program) continue;
    if (s.path.empty()) zip.add_bytes(s.entry.name, s.bytes, true);
    else zip.add_file(s.entry.name, s.path, true);
  }
  if (bytes) *bytes = zip.commit_to_bytes();
  else zip.commit();
}

void TaskBuilder::write_directory(const std::string& dir, const PrivateKey& key) const {
  const std::string xml = task_to_xml(manifest());
  const std::string sig = key.sign(xml).to_text();
  if (detail::path_exists(dir))
    throw Error(Errc::usage, "'" + dir + "' already exists; a task directory is written once");
  // Built beside the target and renamed, so a reader never sees half a task.
  const std::string tmp = detail::temp_path_beside(dir);
  if (mkdir(tmp.c_str(), 0755) != 0)
    throw Error(Errc::io, "cannot create '" + tmp + "': " + errno_text(errno));
  try {
    for (const auto& s : sources_) {
      const std::string dest = join_path(tmp, s.entry.name);
      if (s.path.empty()) {
        detail::write_file_atomic(dest, s.bytes, s.entry.executable ? 0755 : 0644);
      } else {
        Fd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      s.entry.executable || s.entry.role == FileRole::program ? 0755 : 0644));
        if (out.get() < 0) throw Error(Errc::io, "cannot create '" + dest + "': " + errno_text(errno));
        stream_regular_file(s.path, s.entry.size, [&](const char* d, std::size_t n) {
          write_all(out.get(), d, n, dest);
        });
        if (fsync(out.get()) != 0)
          throw Error(Errc::io, "cannot fsync '" + dest + "': " + errno_text(errno));
      }
    }
    detail::write_file_atomic(join_path(tmp, kTaskManifestName), xml);
    detail::write_file_atomic(join_path(tmp, kTaskSignatureName), sig);
    if (rename(tmp.c_str(), dir.c_str()) != 0)
      throw Error(Errc::io, "cannot rename '" + tmp + "' to '" + dir + "': " + errno_text(errno));
  } catch (...) {
    detail::remove_tree(tmp);
    throw;
  }
}

// ----------------------------------------------------------------- TaskBundle

struct TaskBundle::Impl {
  MemberSource source;
  std::string manifest_bytes;
  TaskManifest manifest;
  std::optional<Signature> signature;
  std::string signature_problem;
};

TaskBundle TaskBundle::open(const std::string& path, const UnpackLimits& limits) {
  return open(path, limits, "");
}

TaskBundle TaskBundle::open(const std::string& path, const UnpackLimits& limits,
                            const std::string& program_path) {
  MemberSource source(path, limits, is_task_member);
  if (!source.size_of(kTaskManifestName))
    throw Error(Errc::format, path + ": no " + std::string(kTaskManifestName) + " in the bundle");
  std::string bytes = source.read_all(kTaskManifestName, limits.max_manifest_bytes);
  TaskManifest manifest = parse_task_xml(bytes, path + ":" + kTaskManifestName);
  const std::string& program = manifest.program.bundled_file;
  if (!program_path.empty() && !program.empty() && !source.size_of(program))
    source.add_separate(program, program_path);

  // Every member is either fixed or declared, and every declared file is there
  // with the size the manifest pins: checked now, before anything is written.
  std::set<std::string> declared;
  for (const auto& f : manifest.files) {
    declared.insert(f.name);
    auto size = source.size_of(f.name);
    if (!size)
      throw Error(Errc::integrity, path + ": file '" + f.name + "' is declared in " +
                                       kTaskManifestName + " but missing from the bundle");
    if (*size != f.size)
      throw Error(Errc::integrity, path + ": file '" + f.name + "' is " + std::to_string(*size) +
                                       " bytes, " + kTaskManifestName + " says " +
                                       std::to_string(f.size));
  }
  for (const auto& name : source.names())
    if (name != kTaskManifestName && name != kTaskSignatureName && !declared.count(name))
      throw Error(Errc::unsafe_bundle, path + ": member '" + name + "' is not declared in " +
                                           kTaskManifestName);

  auto impl = std::make_unique<Impl>(Impl{std::move(source), std::move(bytes),
                                          std::move(manifest), std::nullopt, ""});
  if (!impl->source.size_of(kTaskSignatureName)) {
    impl->signature_problem = path + ": the bundle is not signed (no task.sig)";
  } else {
    try {
      impl->signature = Signature::parse(impl->source.read_all(kTaskSignatureName, 4096),
                                         path + ":" + kTaskSignatureName);
    } catch (const Error& e) {
      impl->signature_problem = e.what();
    }
  }
  return TaskBundle(std::move(impl));
}

TaskBundle::TaskBundle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TaskBundle::~TaskBundle() = default;
TaskBundle::TaskBundle(TaskBundle&&) noexcept = default;
TaskBundle& TaskBundle::operator=(TaskBundle&&) noexcept = default;

const TaskManifest& TaskBundle::manifest() const { return impl_->manifest; }
const std::string& TaskBundle::manifest_bytes() const { return impl_->manifest_bytes; }
std::string TaskBundle::manifest_sha256() const { return sha256_hex(impl_->manifest_bytes); }

const Signature& TaskBundle::signature() const {
  if (!impl_->signature) throw Error(Errc::signature, impl_->signature_problem);
  return *impl_->signature;
}

void TaskBundle::verify_signature(const std::vector<PublicKey>& trusted) const {
  verify_with_any(trusted, impl_->manifest_bytes, signature(),
                  impl_->source.path() + ":" + kTaskManifestName);
}

void TaskBundle::verify_files() const {
  for (const auto& f : impl_->manifest.files) {
    Sha256 hash;
    std::uint64_t seen = 0;
    impl_->source.stream(
        f.name, f.size,
        [&](const char* data, std::size_t n) {
          hash.update(data, n);
          seen += n;
        },
        detail::ZipReader::Check::caller_hashes);
    std::string actual = hash.finish_hex();
    if (seen != f.size || actual != f.sha256)
      throw Error(Errc::integrity, impl_->source.path() + ": file '" + f.name +
                                       "' does not match the size and SHA-256 in task.xml");
  }
}

void TaskBundle::extract_to(const std::string& dir) const {
  for (const auto& f : impl_->manifest.files)
    extract_member(impl_->source, f.name, f.size, f.sha256,
                   f.executable || f.role == FileRole::program, dir);
}

void sign_bundle(const std::string& zip_path, const PrivateKey& key) {
  struct stat st;
  if (stat(zip_path.c_str(), &st) != 0)
    throw Error(Errc::io, "cannot open bundle '" + zip_path + "': " + errno_text(errno));
  if (S_ISDIR(st.st_mode))
    throw Error(Errc::usage, "'" + zip_path + "' is a directory; sign_bundle signs zip bundles");
  // Opening validates the container and the manifest: nobody signs a bundle
  // that a runner would refuse.
  TaskBundle bundle = TaskBundle::open(zip_path);
  // A signature vouches for every file through its hash: one over a bundle
  // whose files do not match would certify content nobody checked.
  bundle.verify_files();
  const std::string sig = key.sign(bundle.manifest_bytes()).to_text();
  detail::replace_zip_member(zip_path, kTaskSignatureName, sig);
}

// --------------------------------------------------------------- ResultBundle

void write_result_bundle(const std::string& zip_path, const ResultManifest& result,
                         const std::string& files_dir) {
  const std::string xml = result_to_xml(result);
  detail::ZipWriter zip(zip_path);
  zip.add_bytes(kResultManifestName, xml, true);
  for (const auto& out : result.outputs) {
    const std::string path = join_path(files_dir, out.name);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != out.size)
      throw Error(Errc::usage, "result of task '" + result.task_name + "': output '" + out.name +
                                   "' in '" + files_dir +
                                   "' is missing, not a regular file, or not the size recorded");
    zip.add_file(out.name, path, true);
  }
  zip.commit();
}

struct ResultBundle::Impl {
  MemberSource source;
  ResultManifest manifest;
};

ResultBundle ResultBundle::open(const std::string& path, const UnpackLimits& limits) {
  MemberSource source(path, limits, is_result_member);
  if (!source.size_of(kResultManifestName))
    throw Error(Errc::format, path + ": no " + std::string(kResultManifestName) + " in the bundle");
  ResultManifest manifest = parse_result_xml(
      source.read_all(kResultManifestName, limits.max_manifest_bytes),
      path + ":" + kResultManifestName);
  std::set<std::string> declared;
  for (const auto& out : manifest.outputs) {
    declared.insert(out.name);
    auto size = source.size_of(out.name);
    if (!size || *size != out.size)
      throw Error(Errc::integrity, path + ": output '" + out.name + "' is " +
                                       (size ? std::to_string(*size) + " bytes, " : "missing, ") +
                                       kResultManifestName + " says " + std::to_string(out.size) +
                                       " bytes");
  }
  for (const auto& name : source.names())
    if (name != kResultManifestName && !declared.count(name))
      throw Error(Errc::unsafe_bundle, path + ": member '" + name + "' is not declared in " +
                                           kResultManifestName);
  return ResultBundle(std::make_unique<Impl>(Impl{std::move(source), std::move(manifest)}));
}

ResultBundle::ResultBundle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultBundle::~ResultBundle() = default;
ResultBundle::ResultBundle(ResultBundle&&) noexcept = default;
ResultBundle& ResultBundle::operator=(ResultBundle&&) noexcept = default;

const ResultManifest& ResultBundle::manifest() const { return impl_->manifest; }

std::string ResultBundle::read_output(std::string_view name) const {
  const OutputFile* out = impl_->manifest.find_output(name);
  if (!out)
    throw Error(Errc::usage, impl_->source.path() + ": no output named '" + std::string(name) + "'");
  std::string data = impl_->source.read_all(name, out->size);
  if (data.size() != out->size || sha256_hex(data) != out->sha256)
    throw Error(Errc::integrity, impl_->source.path() + ": output '" + out->name +
                                     "' does not match its size or SHA-256 in result.xml");
  return data;
}

void ResultBundle::write_output(std::string_view name, const std::string& path, bool replace) const {
  const OutputFile* out = impl_->manifest.find_output(name);
  if (!out)
    throw Error(Errc::usage, impl_->source.path() + ": no output named '" + std::string(name) + "'");
  detail::write_file_atomic_with(
      path,
      [&](int fd, const std::string& temp) {
        write_checked_member(impl_->source, out->name, out->size, out->sha256, fd, temp);
      },
      replace);
}

void ResultBundle::extract_to(const std::string& dir) const {
  for (const auto& out : impl_->manifest.outputs)
    extract_member(impl_->source, out.name, out.size, out.sha256, false, dir);
}

}  // namespace mw
