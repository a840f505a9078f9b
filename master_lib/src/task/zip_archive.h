// Internal: a thin, safe face over libzip for bundle reading and writing.
//
// The reader refuses, before anything is extracted: member names that are not
// plain file names (so no "..", no absolute paths, no subdirectories), links,
// devices and other non-regular members, encrypted members, duplicates, and
// counts, sizes or compression ratios beyond the caller's limits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mw/bundle.h"

struct zip;
struct zip_source;

namespace mw::detail {

class ZipReader {
 public:
  struct Member {
    std::string name;
    std::uint64_t size = 0;             // uncompressed, as the archive declares it
    std::uint64_t compressed_size = 0;
    std::uint64_t index = 0;
    std::uint16_t method = 0;           // ZIP_CM_STORE, ZIP_CM_DEFLATE, ...
    static constexpr std::uint64_t kNoOffset = UINT64_MAX;
    std::uint64_t data_offset = kNoOffset;  // where its bytes start (not for zip64)
  };

  // `allowed_name` decides which member names are acceptable.
  static ZipReader open(const std::string& path, const UnpackLimits& limits,
                        const std::function<bool(std::string_view)>& allowed_name);
  ~ZipReader();
  ZipReader(ZipReader&&) noexcept;
  ZipReader& operator=(ZipReader&&) noexcept;

  const std::string& path() const { return path_; }
  const std::vector<Member>& members() const { return members_; }
  const Member* find(std::string_view name) const;

  // Who vouches for a member's bytes. zip's CRC-32 costs about as much as the
  // SHA-256 every declared file is checked against anyway (docs/task-format.md),
  // so a caller that hashes what it reads may skip it.
  enum class Check { crc32, caller_hashes };

  // Streams a member's bytes to `sink` in chunks. Stops with Errc::integrity if
  // the member yields more than `max_bytes` (a lying header) or is corrupt.
  void read(const Member& member, std::uint64_t max_bytes,
            const std::function<void(const char*, std::size_t)>& sink,
            Check check = Check::crc32) const;
  std::string read_all(const Member& member, std::uint64_t max_bytes) const;

 private:
  ZipReader() = default;
  std::string path_;
  zip* archive_ = nullptr;
  std::vector<Member> members_;
  std::unique_ptr<char[]> bytes_;  // a small archive's bytes, read once (libzip borrows them)
  std::uint64_t byte_count_ = 0;
  void read_raw(const Member& member, std::uint64_t max_bytes,
                const std::function<void(const char*, std::size_t)>& sink) const;
};

// Writes an archive to a temp file beside the target; commit() makes it durable
// and renames it into place. Dropping the writer without commit leaves nothing.
// Or, built with InMemory, to memory: commit_to_bytes() returns the archive
// (for bytes that go straight to a peer, where a file and its fsyncs would
// only cost time).
class ZipWriter {
 public:
  explicit ZipWriter(std::string final_path);
  struct InMemory {};
  // `label` names the archive in errors.
  ZipWriter(InMemory, std::string label);
  ~ZipWriter();
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  // The data behind add_bytes must stay alive until commit(). With `compress`
  // a member is deflated unless a sample of it shows deflate would not pay
  // (already compressed or random bytes): then it is stored.
  void add_bytes(const std::string& name, std::string_view data, bool compress);
  void add_file(const std::string& name, const std::string& path, bool compress);
  void commit();
  // The archive's bytes (InMemory writers only).
  std::string commit_to_bytes();

 private:
  void add_source(const std::string& name, void* source, bool compress);
  std::string final_path_;  // or the label of an in-memory archive
  std::string temp_path_;   // empty for an in-memory archive
  zip* archive_ = nullptr;
  zip_source* buffer_ = nullptr;  // an in-memory archive's bytes
};

// Adds or replaces one stored member of an existing archive. libzip writes the
// new archive beside the old one and renames it over; this adds the fsyncs that
// make the swap durable.
void replace_zip_member(const std::string& path, const std::string& name, std::string_view data);

}  // namespace mw::detail
