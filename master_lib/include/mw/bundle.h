// mw/bundle.h — building, packing, reading and safely unpacking task and result bundles.
//
// A bundle is a zip archive (BOINC forbids subdirectories, HTCondor transfers one
// file) whose members are task.xml, task.sig and the task's files, flat. The same
// content may also travel as a plain directory (multicore, MPI on a shared FS);
// TaskBundle::open reads either. Every file is checked against the SHA-256 and
// size its manifest pins while it is being extracted, so nothing is read twice.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mw/signing.h"
#include "mw/task_format.h"

namespace mw {

// Collects a task's program, arguments, files and outputs, hashes each file
// once as it is added, and writes the signed bundle.
class TaskBuilder {
 public:
  explicit TaskBuilder(std::string task_name);

  // Ships the file at `path` as the program (role program, executable).
  // `member_name` defaults to the file's base name.
  TaskBuilder& bundled_program(const std::string& path, std::string member_name = "");
  // Runs a program that already exists on the worker host (absolute path).
  TaskBuilder& host_program(std::string absolute_path);
  // Makes this a function task of an mwkit worker program.
  TaskBuilder& function(std::string function_name);
  TaskBuilder& arg(std::string value);
  TaskBuilder& args(const std::vector<std::string>& values);
  // Declares NAME=VALUE in the task's environment (the <env> of task.xml).
  TaskBuilder& env(std::string name, std::string value);
  // Adds a file from disk; `member_name` defaults to the base name.
  TaskBuilder& file(const std::string& path, FileRole role = FileRole::input,
                    std::string member_name = "");
  // Adds a file from memory.
  TaskBuilder& file_bytes(std::string member_name, std::string bytes,
                          FileRole role = FileRole::input);
  TaskBuilder& output(std::string name, std::uint64_t max_bytes, bool optional = false);
  TaskBuilder& limits(const Limits& limits);
  TaskBuilder& estimates(const Estimates& estimates);

  // The manifest as it will be written; validates it (Errc::format / Errc::usage).
  TaskManifest manifest() const;
  // Writes a signed zip bundle atomically (temp file, fsync, rename).
  void write_bundle(const std::string& zip_path, const PrivateKey& key) const;
  // The same, leaving out the files whose role is program. BOINC ships a
  // program as a separate sticky file that hosts keep across tasks
  // (docs/boinc-conventions.md); task.xml still pins it by SHA-256, so the
  // runner checks the copy it is given like any member.
  void write_bundle_without_programs(const std::string& zip_path, const PrivateKey& key) const;
  // The same bundle's bytes, built in memory: for a bundle that goes straight
  // to a server (BOINC's remote staging), where a file would only cost time.
  std::string bundle_bytes_without_programs(const PrivateKey& key) const;

  // A file of the task whose role is program: where its bytes are.
  struct ProgramFile {
    std::string member_name;
    std::string path;   // on disk, or
    std::string bytes;  // in memory when path is empty
  };
  std::vector<ProgramFile> program_files() const;
  // The same without task.sig, for signing later with sign_bundle (e.g. on the
  // machine that holds the key).
  void write_unsigned_bundle(const std::string& zip_path) const;
  // Writes the same content as a directory (created; must not exist yet).
  void write_directory(const std::string& dir, const PrivateKey& key) const;

 private:
  struct Source {
    TaskFile entry;
    std::string path;   // on disk, or
    std::string bytes;  // in memory when path is empty
  };
  TaskManifest base_;
  std::vector<Source> sources_;
  void add_source(Source source);
  // Into `zip_path`, or into *bytes (in memory; zip_path names it in errors) when given.
  void write_zip(const std::string& zip_path, const PrivateKey* key, bool with_programs = true,
                 std::string* bytes = nullptr) const;
};

// Bounds applied while reading untrusted bundles. Anything beyond them is
// refused with Errc::unsafe_bundle before it is written.
struct UnpackLimits {
  std::uint64_t max_members = 4096;
  std::uint64_t max_total_bytes = 8ULL << 30;  // sum of uncompressed sizes
  std::uint64_t max_manifest_bytes = 1 << 20;  // task.xml / result.xml
  double max_compression_ratio = 1000;         // uncompressed / compressed, per member
};

// A task bundle opened for reading (zip file or directory).
// Opening checks the container: member names, types (no links, no devices, no
// subdirectories), counts and declared sizes against the limits, and parses
// task.xml strictly. It does not check the signature: call verify_signature.
class TaskBundle {
 public:
  static TaskBundle open(const std::string& path, const UnpackLimits& limits = {});
  // The same for a bundle whose program travels as a separate file (BOINC's
  // sticky program file, docs/boinc-conventions.md): when the bundle omits the
  // member that /mw_task/program/bundled_file names, `program_path` supplies
  // it, and it is checked against task.xml's size and SHA-256 like a member.
  // A bundle that holds the member uses its own copy.
  static TaskBundle open(const std::string& path, const UnpackLimits& limits,
                         const std::string& program_path);
  ~TaskBundle();
  TaskBundle(TaskBundle&&) noexcept;
  TaskBundle& operator=(TaskBundle&&) noexcept;

  const TaskManifest& manifest() const;
  const std::string& manifest_bytes() const;  // exact task.xml bytes
  std::string manifest_sha256() const;
  const Signature& signature() const;  // Errc::signature if task.sig is absent or malformed

  // Throws Error(Errc::signature) unless a trusted key signed task.xml.
  void verify_signature(const std::vector<PublicKey>& trusted) const;
  // Streams every declared file through SHA-256 without writing anything;
  // Errc::integrity names the first file whose size or hash differs.
  void verify_files() const;
  // Extracts every declared file into `dir` (which must exist and be empty),
  // hashing as it writes; a size or hash mismatch is Errc::integrity and the
  // partial file is removed. Members not declared in the manifest are refused.
  void extract_to(const std::string& dir) const;

 private:
  struct Impl;
  explicit TaskBundle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Adds or replaces task.sig in the zip bundle at `zip_path`, signing its task.xml
// (which is parsed and validated first) with `key`. Every file is checked
// against its size and SHA-256 first (Errc::integrity, nothing written): the
// signature vouches for them. Atomic: readers see the old bundle or the new one.
void sign_bundle(const std::string& zip_path, const PrivateKey& key);

// Writes a result bundle: result.xml plus each output named in `result.outputs`,
// read from `files_dir`. Sizes and hashes in `result` must match the files.
// Atomic (temp file, fsync, rename).
void write_result_bundle(const std::string& zip_path, const ResultManifest& result,
                         const std::string& files_dir);

// A result bundle opened for reading; every read checks size and SHA-256.
class ResultBundle {
 public:
  static ResultBundle open(const std::string& path, const UnpackLimits& limits = {});
  ~ResultBundle();
  ResultBundle(ResultBundle&&) noexcept;
  ResultBundle& operator=(ResultBundle&&) noexcept;

  const ResultManifest& manifest() const;
  // Reads one output into memory (Errc::usage if it is not listed).
  std::string read_output(std::string_view name) const;
  // Writes one output to `path`: streamed into a temp file beside it, checked
  // against its size and SHA-256 (Errc::integrity, nothing left behind),
  // fsync'd and renamed into place. With `replace` false an existing `path`
  // is left alone and the call fails with Errc::usage. Errc::usage also when
  // the output is not listed.
  void write_output(std::string_view name, const std::string& path, bool replace) const;
  // Extracts every listed output into `dir` (must exist).
  void extract_to(const std::string& dir) const;

 private:
  struct Impl;
  explicit ResultBundle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw
