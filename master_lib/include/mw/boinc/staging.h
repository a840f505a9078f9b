// mw/boinc/staging.h — putting input files into a project's download hierarchy.
//
// BOINC clients cache files by name, so a staged name must never denote other
// bytes: staging a name that exists with other bytes is an error, with the
// same bytes a no-op. Files are staged in groups so that 10^5 of them cost
// two file-system syncs, not an fsync each:
//   stage_*()  writes each file (and its NAME.md5 side file, when config.xml
//              sets cache_md5_info, as BOINC does: BOINC's file_deleter then
//              deletes NAME.md5 with NAME and logs a critical error for every
//              one that is missing) under a hidden temp name in its fan-out
//              directory;
//   commit()   makes every written byte durable (syncfs), renames the temp
//              files to their final names (never over an existing file: one
//              that appeared meanwhile must hold the same bytes) and makes the
//              renames durable (syncfs again) — call it just before the
//              database commit that makes workunits refer to the files;
//   discard()  removes every temp file and every file commit() put in place
//              (rollback), except shared ones (content-addressed program files,
//              which another batch may already use — harmless to keep: their
//              name is their content).
// A crash before commit() leaves only hidden `.mwstage.*` temp files; a crash
// after it leaves complete files that no workunit refers to.
//
// What is pending is listed in unlinked temp files, not in memory, so staging
// 10^6 files does not grow the process.
#pragma once

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "mw/boinc/md5_info.h"
#include "mw/boinc/project_config.h"

namespace mw::boinc {

struct StagedFile {
  std::string name;   // physical name in the download hierarchy
  std::string path;   // where it is
  FileDigest digest;  // MD5 and size, for workunit.xml_doc
  bool created = false;  // false: the file was already there with these bytes
};

class Stager {
 public:
  // Stages into config.download_dir with config.uldl_dir_fanout.
  explicit Stager(const ProjectConfig& config);
  ~Stager();
  Stager(const Stager&) = delete;
  Stager& operator=(const Stager&) = delete;

  // Stages `bytes` as `name`. Errc::usage for a name BOINC cannot carry
  // (see valid_physical_name), Errc::integrity when `name` exists with other
  // bytes, Errc::io (naming the path) when writing fails, e.g. a full disk.
  StagedFile stage_bytes(const std::string& name, std::string_view bytes);
  // Stages a copy of the file at `source` as `name` (same errors; Errc::io
  // naming `source` when it cannot be read).
  StagedFile stage_copy(const std::string& name, const std::string& source);
  // Stages `source` under the name `prefix` + SHA-256 hex of its bytes, marked
  // shared: kept by discard(). Used for program files.
  StagedFile stage_content_addressed(const std::string& prefix, const std::string& source);
  StagedFile stage_content_addressed_bytes(const std::string& prefix, std::string_view bytes);

  // Durable and renamed into place (see above). Errc::io or Errc::integrity
  // on failure, in which case the caller should discard().
  void commit();
  // Removes what this Stager wrote since construction or the last forget(),
  // shared files excepted. Never throws.
  void discard() noexcept;
  // Forgets what was written: the files now belong to committed workunits.
  void forget();

  // Files staged and not yet committed.
  std::size_t pending() const { return pending_; }

 private:
  StagedFile stage(const std::string& name, std::string_view bytes, bool shared);
  // syncfs of the download directory's file system; Errc::io saying `when`.
  void sync_download_file_system(const char* when);

  const ProjectConfig& config_;
  std::size_t pending_ = 0;
  std::FILE* staged_list_ = nullptr;   // "TEMP\tFINAL\tSHARED\n" per staged file
  std::FILE* placed_list_ = nullptr;   // "FINAL\n" per file commit() renamed into place
  int download_fd_ = -1;               // for syncfs()
  std::set<std::string> made_dirs_;    // fan-out directories known to exist (≤ fanout)
};

// True when `name` is safe as a BOINC physical name and workunit name part:
// 1–160 characters of [A-Za-z0-9._-], not starting with '.', no "..".
bool valid_physical_name(std::string_view name);

}  // namespace mw::boinc
