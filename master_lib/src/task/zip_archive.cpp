#include "task/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::detail {
namespace {

constexpr std::size_t kChunk = 256 * 1024;
// Inflated bytes handed to the sink at a time when the zip layer's checksum is skipped.
constexpr std::size_t kInflateChunk = 1024 * 1024;
constexpr std::uint16_t kUnknownMethod = 0xffff;
// zlib level 1: most of deflate's gain on text at a fraction of its cost; task
// payloads are often already compressed or random and gain nothing from more.
constexpr zip_uint32_t kDeflateLevel = 1;

// A read buffer no larger than the member needs, and left uninitialised: a
// fresh process (the BOINC wrapper is one per task) pays a page fault for each
// page it touches, and most members are small.
class ChunkBuffer {
 public:
  ChunkBuffer(std::size_t cap, std::uint64_t need)
      : size_(static_cast<std::size_t>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(cap, need)))),
        bytes_(new char[size_]) {}
  char* data() { return bytes_.get(); }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> bytes_;
};

// Deflate gains nothing on data that is already compressed or random, and it
// costs at both ends: packing spends its time failing to compress, and every
// reader copies the bytes through inflate. A member whose first 64 KiB
// deflate by less than 3% is stored instead (readers accept both, §14.1).
constexpr std::size_t kProbeBytes = 64 * 1024;
// Below this a member is stored: deflate's state (~256 KiB, allocated and
// zeroed for every member, and the probe's again) costs more than the few
// hundred bytes it could save — 1.6 ms per small bundle of three members on
// this project's VM, where every fresh page is a fault (issue 23).
constexpr std::size_t kSmallMember = 4096;

bool worth_deflating(const char* sample, std::size_t size) {
  if (size < kSmallMember) return false;
  uLongf out_size = compressBound(static_cast<uLong>(size));
  std::unique_ptr<Bytef[]> out(new Bytef[out_size]);
  if (compress2(out.get(), &out_size, reinterpret_cast<const Bytef*>(sample),
                static_cast<uLong>(size), static_cast<int>(kDeflateLevel)) != Z_OK)
    return true;
  return out_size < size / 100 * 97;
}

// The same for a file, from its first bytes; an unreadable file is left to
// libzip, which reports it when it reads the file.
bool worth_deflating_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  std::unique_ptr<char[]> sample(new char[kProbeBytes]);
  std::size_t have = 0;
  while (have < kProbeBytes) {
    const ssize_t n = ::read(fd, sample.get() + have, kProbeBytes - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return worth_deflating(sample.get(), have);
}

using DataOffsets = std::map<std::string, std::uint64_t, std::less<>>;

[[noreturn]] void unsafe(const std::string& path, const std::string& why) {
  throw Error(Errc::unsafe_bundle, path + ": " + why);
}

std::string zip_error_text(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string text = zip_error_strerror(&err);
  zip_error_fini(&err);
  return text;
}

std::uint32_t le32(const unsigned char* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint16_t le16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint64_t le64(const unsigned char* p) { return le32(p) | (static_cast<std::uint64_t>(le32(p + 4)) << 32); }

// Archives up to this size are read into memory with one read(): the checks
// and libzip then cost no further system calls (a result bundle of a few KB
// took about 30 — stats, seeks, small preads — when read through the file).
// Larger ones are read through the file: copying them would cost more than
// the calls it saves.
constexpr std::uint64_t kInMemoryBytes = 256 * 1024;

bool read_at(int fd, void* buf, std::size_t size, std::uint64_t offset) {
  auto* out = static_cast<unsigned char*>(buf);
  while (size > 0) {
    ssize_t n = pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// libzip's consistency check compares local and central headers but not every
// field (the general-purpose flags, for one). A bundle is tamper-evident only
// if no byte can change unnoticed, so the archive must also have no trailing
// comment and every local header must repeat its central entry's fixed fields.
// Zip64 is allowed only where an archive needs it (over 4 GiB, or 65,535
// members and so megabytes of headers) and is then held to the same rules:
// its end records must agree and sit where they belong, and each 0xffffffff
// field must have its 64-bit value in the entry's zip64 field. Anywhere else
// zip64 is refused.
//
// Returns where each member's stored bytes start, by name, so that members
// can be read without libzip (ZipReader::read_raw).
//
// `fd` is the archive open for reading, or -1 when `bytes` (`file_size` of
// them) hold it.
DataOffsets check_headers_agree(const std::string& path, int fd, const char* bytes, std::uint64_t file_size) {
  constexpr std::size_t kEndSize = 22, kCentralSize = 46, kLocalSize = 30;
  constexpr std::size_t kZip64LocatorSize = 20, kZip64EndSize = 56;
  constexpr std::uint32_t kMarker = 0xffffffff;
  // More central directory than this is not a bundle (4,096 members by default).
  constexpr std::uint64_t kMaxCentralBytes = 256ULL << 20;
  auto read_at = [&](void* buf, std::size_t size, std::uint64_t offset) {
    if (fd >= 0) return detail::read_at(fd, buf, size, offset);
    if (offset > file_size || size > file_size - offset) return false;
    std::memcpy(buf, bytes + offset, size);
    return true;
  };
  if (file_size < kEndSize) unsafe(path, "too short to be a zip archive");
  unsigned char end[kEndSize];
  if (!read_at(end, kEndSize, file_size - kEndSize) || le32(end) != 0x06054b50)
    unsafe(path, "has an archive comment or trailing bytes (bundles carry none)");
  if (le16(end + 4) != 0 || le16(end + 6) != 0 || le16(end + 8) != le16(end + 10))
    unsafe(path, "is a multi-disk archive");
  // 65,535 members take at least a central and a local header with a
  // one-byte name each.
  const bool may_need_zip64 =
      file_size > 0xffffffffULL || file_size >= 0xffffULL * (kCentralSize + kLocalSize + 2);
  auto need_zip64 = [&](const std::string& where) {
    if (!may_need_zip64)
      unsafe(path, where + " uses zip64, which an archive of " + std::to_string(file_size) +
                       " bytes does not need (bundles use it only past 4 GiB or 65,535 members)");
  };
  std::uint64_t count = le16(end + 10), central_size = le32(end + 12), central_offset = le32(end + 16);
  std::uint64_t central_end = file_size - kEndSize;  // where the central directory must end
  if (count == 0xffff || central_size == kMarker || central_offset == kMarker) {
    need_zip64("its end record");
    // The zip64 end record, then its locator, then the end record.
    unsigned char locator[kZip64LocatorSize], end64[kZip64EndSize];
    if (file_size < kEndSize + kZip64LocatorSize + kZip64EndSize ||
        !read_at(locator, kZip64LocatorSize, central_end - kZip64LocatorSize) || le32(locator) != 0x07064b50 ||
        le32(locator + 4) != 0 || le32(locator + 16) != 1)
      unsafe(path, "has no zip64 end record locator before its end record");
    const std::uint64_t end64_offset = le64(locator + 8);
    if (end64_offset + kZip64EndSize + kZip64LocatorSize != central_end)
      unsafe(path, "has bytes between its zip64 end record and its locator");
    if (!read_at(end64, kZip64EndSize, end64_offset) || le32(end64) != 0x06064b50 ||
        le64(end64 + 4) != kZip64EndSize - 12)
      unsafe(path, "zip64 end record is damaged or carries extensible data");
    if (le32(end64 + 16) != 0 || le32(end64 + 20) != 0 || le64(end64 + 24) != le64(end64 + 32))
      unsafe(path, "is a multi-disk archive");
    // A 32-bit field holds its value or the marker, nothing else.
    auto agrees = [](std::uint64_t narrow, std::uint64_t marker, std::uint64_t wide) {
      return narrow == marker || narrow == wide;
    };
    if (!agrees(count, 0xffff, le64(end64 + 32)) || !agrees(central_size, kMarker, le64(end64 + 40)) ||
        !agrees(central_offset, kMarker, le64(end64 + 48)))
      unsafe(path, "end record disagrees with its zip64 end record");
    count = le64(end64 + 32);
    central_size = le64(end64 + 40);
    central_offset = le64(end64 + 48);
    central_end = end64_offset;
  }
  if (central_offset > central_end || central_size != central_end - central_offset)
    unsafe(path, "has bytes between its central directory and its end record");
  if (central_size > kMaxCentralBytes) unsafe(path, "central directory is larger than 256 MiB");
  std::vector<unsigned char> central(central_size);
  if (!read_at(central.data(), central.size(), central_offset))
    unsafe(path, "central directory cannot be read");
  // The 64-bit values of the fields a header marks 0xffffffff, from its zip64
  // extra field (id 1), in the order uncompressed size, compressed size, offset.
  auto zip64_values = [&](const unsigned char* extra, std::size_t extra_len, std::vector<std::uint64_t*> fields,
                          const std::string& where) {
    for (std::size_t pos = 0; pos + 4 <= extra_len;) {
      const std::uint16_t id = le16(extra + pos), len = le16(extra + pos + 2);
      if (pos + 4 + len > extra_len) break;
      if (id == 1) {
        if (len < 8 * fields.size()) break;
        for (std::size_t k = 0; k < fields.size(); ++k) *fields[k] = le64(extra + pos + 4 + 8 * k);
        return;
      }
      pos += 4 + len;
    }
    unsafe(path, where + " has a zip64 marker without its zip64 extra field");
  };
  DataOffsets offsets;
  std::size_t pos = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (pos + kCentralSize > central.size() || le32(&central[pos]) != 0x02014b50)
      unsafe(path, "central directory entry #" + std::to_string(i + 1) + " is damaged");
    const unsigned char* c = &central[pos];
    const std::uint16_t name_len = le16(c + 28), extra_len = le16(c + 30),
                        comment_len = le16(c + 32);
    const std::string entry = "central directory entry #" + std::to_string(i + 1);
    if (pos + kCentralSize + name_len + extra_len + comment_len > central.size()) unsafe(path, entry + " is damaged");
    if (comment_len != 0) unsafe(path, entry + " has a comment");
    // Made on Unix (version 6.3 or older), disk 0, no internal attributes but
    // the text flag, no MS-DOS attributes, and a plain file mode: the values
    // every conforming writer uses (docs/task-format.md, "Container").
    const std::uint32_t external = le32(c + 38);
    const std::uint32_t perms = (external >> 16) & 07777;
    if (c[5] != 3 || c[4] > 63 || le16(c + 34) != 0 || (le16(c + 36) & ~1u) != 0 ||
        (external & 0xffff) != 0 || (perms != 0644 && perms != 0755))
      unsafe(path, entry + " has attributes outside the bundle format (made on Unix, disk 0, "
                           "mode 0644 or 0755)");
    std::uint64_t size = le32(c + 24), compressed = le32(c + 20), local_offset = le32(c + 42);
    std::vector<std::uint64_t*> wide;
    for (std::uint64_t* field : {&size, &compressed, &local_offset})
      if (*field == kMarker) wide.push_back(field);
    if (!wide.empty()) {
      need_zip64(entry);
      zip64_values(c + kCentralSize + name_len, extra_len, wide, entry);
    }
    const std::string local_name = "local header #" + std::to_string(i + 1);
    unsigned char local[kLocalSize];
    if (!read_at(local, kLocalSize, local_offset) || le32(local) != 0x04034b50)
      unsafe(path, local_name + " is missing or damaged");
    // version needed, flags, method, time, date, CRC: the same bytes in both;
    // the sizes too, through zip64 where either side marks them.
    const bool flags_have_descriptor = le16(c + 8) & 0x0008;
    if (std::memcmp(local + 4, c + 6, flags_have_descriptor ? 10 : 14) != 0)
      unsafe(path, local_name + " disagrees with its central directory entry");
    const std::uint16_t local_name_len = le16(local + 26), local_extra_len = le16(local + 28);
    if (!flags_have_descriptor) {
      std::uint64_t local_compressed = le32(local + 18), local_size = le32(local + 22);
      if (local_compressed == kMarker || local_size == kMarker) {
        need_zip64(local_name);
        std::vector<unsigned char> extra(local_extra_len);
        if (!read_at(extra.data(), extra.size(), local_offset + kLocalSize + local_name_len))
          unsafe(path, local_name + " is missing or damaged");
        // A local zip64 field holds both sizes.
        zip64_values(extra.data(), extra.size(), {&local_size, &local_compressed}, local_name);
      }
      if (local_compressed != compressed || local_size != size)
        unsafe(path, local_name + " disagrees with its central directory entry");
    }
    // The member's bytes follow its local header and end before the central directory.
    const std::uint64_t data_offset = local_offset + kLocalSize + local_name_len + local_extra_len;
    if (data_offset > central_offset || compressed > central_offset - data_offset)
      unsafe(path, "member #" + std::to_string(i + 1) + " runs into the central directory");
    offsets[std::string(reinterpret_cast<const char*>(c + kCentralSize), name_len)] = data_offset;
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
  if (pos != central.size()) unsafe(path, "central directory has trailing bytes");
  return offsets;
}

}  // namespace

ZipReader ZipReader::open(const std::string& path, const UnpackLimits& limits,
                          const std::function<bool(std::string_view)>& allowed_name) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(Errc::io, "cannot open bundle '" + path + "': " + errno_text(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) throw Error(Errc::io, "cannot open bundle '" + path + "': " + errno_text(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(Errc::io, "cannot open bundle '" + path + "': " +
                              (S_ISDIR(st.st_mode) ? errno_text(EISDIR) : std::string("not a regular file")));
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  ZipReader reader;
  reader.path_ = path;
  int code = 0;
  zip* archive = nullptr;
  if (file_size <= kInMemoryBytes) {
    reader.bytes_.reset(new char[std::max<std::uint64_t>(file_size, 1)]);
    reader.byte_count_ = file_size;
    errno = 0;
    if (!read_at(fd, reader.bytes_.get(), file_size, 0))
      throw Error(Errc::io, "cannot read bundle '" + path + "': " +
                                (errno ? errno_text(errno) : std::string("it shrank while being read")));
    zip_error_t error;
    zip_error_init(&error);
    // The reader owns the bytes; libzip only borrows them (freep = 0).
    if (zip_source_t* source = zip_source_buffer_create(reader.bytes_.get(), file_size, 0, &error)) {
      archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
      if (!archive) zip_source_free(source);
    }
    code = zip_error_code_zip(&error);
    zip_error_fini(&error);
  } else {
    archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  }
  if (!archive) {
    if (code == ZIP_ER_OPEN || code == ZIP_ER_NOENT || code == ZIP_ER_READ || code == ZIP_ER_MEMORY)
      throw Error(Errc::io, "cannot open bundle '" + path + "': " + zip_error_text(code));
    if (code == ZIP_ER_EXISTS) unsafe(path, "two members have the same name");
    unsafe(path, "not a valid zip archive: " + zip_error_text(code));
  }
  reader.archive_ = archive;

  zip_int64_t count = zip_get_num_entries(archive, 0);
  if (count < 0 || static_cast<std::uint64_t>(count) > limits.max_members)
    unsafe(path, "holds " + std::to_string(count) + " members, more than the limit of " +
                     std::to_string(limits.max_members));
  std::set<std::string, std::less<>> seen;
  std::uint64_t total = 0;
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &st) != 0 || !st.name)
      unsafe(path, "member #" + std::to_string(i + 1) + " cannot be read from the directory");
    std::string name = st.name;
    const std::string where = "member '" + name + "'";
    if (!allowed_name(name)) {
      if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
        unsafe(path, where + " has a path; bundles hold plain file names only "
                             "(no directories, no '..', no absolute paths)");
      unsafe(path, where + " is not an allowed member name");
    }
    if (!seen.insert(name).second) unsafe(path, where + " appears twice");
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    if (zip_file_get_external_attributes(archive, static_cast<zip_uint64_t>(i), 0, &opsys,
                                         &attributes) == 0 &&
        opsys == ZIP_OPSYS_UNIX) {
      mode_t mode = static_cast<mode_t>(attributes >> 16);
      if (S_ISLNK(mode)) unsafe(path, where + " is a symbolic link");
      if ((mode & S_IFMT) != 0 && !S_ISREG(mode))
        unsafe(path, where + " is not a regular file (directory, device, fifo or socket)");
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      unsafe(path, where + " is encrypted");
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
      unsafe(path, where + " does not declare its sizes");
    total += st.size;
    if (st.size > limits.max_total_bytes || total > limits.max_total_bytes)
      unsafe(path, "members add up to more than the limit of " +
                       std::to_string(limits.max_total_bytes) + " bytes");
    // A tiny compressed member that inflates enormously is a decompression bomb.
    double ratio = static_cast<double>(st.size) /
                   static_cast<double>(st.comp_size > 0 ? st.comp_size : 1);
    if (st.size > 4096 && ratio > limits.max_compression_ratio)
      unsafe(path, where + " inflates " + std::to_string(static_cast<long long>(ratio)) +
                       "-fold, more than the limit of " +
                       std::to_string(static_cast<long long>(limits.max_compression_ratio)));
    const std::uint16_t method = (st.valid & ZIP_STAT_COMP_METHOD) ? st.comp_method : kUnknownMethod;
    reader.members_.push_back(
        {name, st.size, st.comp_size, static_cast<std::uint64_t>(i), method, Member::kNoOffset});
  }
  const DataOffsets offsets =
      check_headers_agree(path, reader.bytes_ ? -1 : fd, reader.bytes_.get(), file_size);
  for (auto& m : reader.members_)
    if (auto it = offsets.find(m.name); it != offsets.end()) m.data_offset = it->second;
  return reader;
}

ZipReader::~ZipReader() {
  if (archive_) zip_discard(archive_);
}

ZipReader::ZipReader(ZipReader&& other) noexcept
    : path_(std::move(other.path_)),
      archive_(other.archive_),
      members_(std::move(other.members_)),
      bytes_(std::move(other.bytes_)),
      byte_count_(other.byte_count_) {
  other.archive_ = nullptr;
}

ZipReader& ZipReader::operator=(ZipReader&& other) noexcept {
  if (this != &other) {
    if (archive_) zip_discard(archive_);
    path_ = std::move(other.path_);
    archive_ = other.archive_;
    members_ = std::move(other.members_);
    bytes_ = std::move(other.bytes_);  // after the archive that borrowed the old bytes is gone
    byte_count_ = other.byte_count_;
    other.archive_ = nullptr;
  }
  return *this;
}

const ZipReader::Member* ZipReader::find(std::string_view name) const {
  for (const auto& m : members_)
    if (m.name == name) return &m;
  return nullptr;
}

// The member's bytes, read straight from the archive at the offset its local
// header gives and inflated here: libzip would also compute the CRC-32 (for
// stored members even when asked for the raw bytes), which the caller's
// SHA-256 makes redundant and which costs about as much.
void ZipReader::read_raw(const Member& member, std::uint64_t max_bytes,
                         const std::function<void(const char*, std::size_t)>& sink) const {
  const int fd = bytes_ ? -1 : ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (!bytes_ && fd < 0) throw Error(Errc::io, "cannot open bundle '" + path_ + "': " + errno_text(errno));
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};
  const bool deflated = member.method == ZIP_CM_DEFLATE;
  z_stream z{};
  if (deflated && inflateInit2(&z, -MAX_WBITS) != Z_OK)
    throw Error(Errc::system, path_ + ": zlib could not start inflating member '" + member.name + "'");
  struct Ender {
    z_stream* z;
    ~Ender() {
      if (z) inflateEnd(z);
    }
  } ender{deflated ? &z : nullptr};
  auto corrupt = [&](const std::string& why) {
    throw Error(Errc::integrity, path_ + ": member '" + member.name + "' is corrupt: " + why);
  };
  ChunkBuffer in(bytes_ ? 0 : kChunk, member.compressed_size);  // archives in memory are read in place
  ChunkBuffer out(deflated ? kInflateChunk : 0, member.size);
  std::uint64_t produced = 0;
  bool ended = !deflated;
  auto deliver = [&](const char* data, std::size_t n) {
    produced += n;
    if (produced > max_bytes)
      throw Error(Errc::integrity, path_ + ": member '" + member.name + "' holds more than " +
                                       std::to_string(max_bytes) + " bytes");
    sink(data, n);
  };
  for (std::uint64_t done = 0; done < member.compressed_size;) {
    ssize_t n = 0;
    char* chunk = in.data();
    if (bytes_) {
      const std::uint64_t at = member.data_offset + done, left = member.compressed_size - done;
      n = at >= byte_count_ ? 0 : static_cast<ssize_t>(std::min<std::uint64_t>(left, byte_count_ - at));
      chunk = bytes_.get() + at;
    } else {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), member.compressed_size - done));
      n = pread(fd, chunk, want, static_cast<off_t>(member.data_offset + done));
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(Errc::io, "cannot read bundle '" + path_ + "': " + errno_text(errno));
    if (n == 0) corrupt("the archive ends inside it");
    done += static_cast<std::uint64_t>(n);
    if (!deflated) {
      deliver(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (ended) corrupt("bytes after the end of its deflate stream");
    z.next_in = reinterpret_cast<Bytef*>(chunk);
    z.avail_in = static_cast<uInt>(n);
    while (z.avail_in > 0 && !ended) {
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      int rc = inflate(&z, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) ended = true;
      else if (rc != Z_OK) corrupt(z.msg ? z.msg : "bad deflate data");
      deliver(out.data(), out.size() - z.avail_out);
    }
    if (ended && z.avail_in > 0) corrupt("bytes after the end of its deflate stream");
  }
  // Drain what zlib still holds once the input is all in.
  while (!ended) {
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END) ended = true;
    else if (rc != Z_OK && !(rc == Z_BUF_ERROR && z.avail_out == 0))
      corrupt("its deflate stream is truncated");
    deliver(out.data(), out.size() - z.avail_out);
  }
}

void ZipReader::read(const Member& member, std::uint64_t max_bytes,
                     const std::function<void(const char*, std::size_t)>& sink,
                     Check check) const {
  if (check == Check::caller_hashes && member.data_offset != Member::kNoOffset &&
      (member.method == ZIP_CM_STORE || member.method == ZIP_CM_DEFLATE)) {
    read_raw(member, max_bytes, sink);
    return;
  }
  zip_file_t* file = zip_fopen_index(archive_, member.index, 0);
  if (!file)
    unsafe(path_, "member '" + member.name + "' cannot be opened: " + zip_strerror(archive_));
  ChunkBuffer buf(kChunk, member.size + 1);
  std::uint64_t produced = 0;
  for (;;) {
    zip_int64_t n = zip_fread(file, buf.data(), buf.size());
    if (n < 0) {
      std::string why = zip_file_strerror(file);
      zip_fclose(file);
      throw Error(Errc::integrity, path_ + ": member '" + member.name + "' is corrupt: " + why);
    }
    if (n == 0) break;
    produced += static_cast<std::uint64_t>(n);
    if (produced > max_bytes) {
      zip_fclose(file);
      throw Error(Errc::integrity, path_ + ": member '" + member.name + "' holds more than " +
                                       std::to_string(max_bytes) + " bytes");
    }
    try {
      sink(buf.data(), static_cast<std::size_t>(n));
    } catch (...) {
      zip_fclose(file);
      throw;
    }
  }
  // zip_fclose reports a CRC mismatch for the member as a whole.
  int rc = zip_fclose(file);
  if (rc != 0)
    throw Error(Errc::integrity, path_ + ": member '" + member.name +
                                     "' failed its zip checksum: " + zip_error_text(rc));
}

std::string ZipReader::read_all(const Member& member, std::uint64_t max_bytes) const {
  std::string out;
  read(member, max_bytes, [&](const char* data, std::size_t n) { out.append(data, n); });
  return out;
}

ZipWriter::ZipWriter(std::string final_path)
    : final_path_(std::move(final_path)), temp_path_(temp_path_beside(final_path_)) {
  int code = 0;
  archive_ = zip_open(temp_path_.c_str(), ZIP_CREATE | ZIP_EXCL, &code);
  if (!archive_)
    throw Error(Errc::io, "cannot create '" + temp_path_ + "': " + zip_error_text(code));
}

ZipWriter::ZipWriter(InMemory, std::string label) : final_path_(std::move(label)) {
  zip_error_t error;
  zip_error_init(&error);
  buffer_ = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (buffer_) {
    zip_source_keep(buffer_);  // zip_close would free it; its bytes are the result
    archive_ = zip_open_from_source(buffer_, ZIP_CREATE | ZIP_TRUNCATE, &error);
  }
  if (!archive_) {
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (buffer_) zip_source_free(buffer_);
    buffer_ = nullptr;
    throw Error(Errc::io, "cannot build '" + final_path_ + "' in memory: " + why);
  }
  zip_error_fini(&error);
}

ZipWriter::~ZipWriter() {
  if (archive_) zip_discard(archive_);
  if (buffer_) zip_source_free(buffer_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

std::string ZipWriter::commit_to_bytes() {
  if (!buffer_) throw Error(Errc::usage, final_path_ + ": commit_to_bytes on an archive written to a file");
  if (zip_close(archive_) != 0) {
    std::string why = zip_strerror(archive_);
    throw Error(Errc::io, "cannot build '" + final_path_ + "': " + why);
  }
  archive_ = nullptr;
  zip_stat_t st;
  zip_stat_init(&st);
  std::string bytes;
  if (zip_source_stat(buffer_, &st) != 0 || zip_source_open(buffer_) != 0)
    throw Error(Errc::io, "cannot read back '" + final_path_ + "': " + zip_error_strerror(zip_source_error(buffer_)));
  bytes.resize(static_cast<std::size_t>(st.size));
  const zip_int64_t n = zip_source_read(buffer_, bytes.data(), bytes.size());
  zip_source_close(buffer_);
  if (n < 0 || static_cast<zip_uint64_t>(n) != st.size)
    throw Error(Errc::io, "cannot read back '" + final_path_ + "': short read");
  return bytes;
}

void ZipWriter::add_source(const std::string& name, void* raw_source, bool compress) {
  auto* source = static_cast<zip_source_t*>(raw_source);
  zip_int64_t index = zip_file_add(archive_, name.c_str(), source, ZIP_FL_ENC_UTF_8);
  if (index < 0) {
    zip_source_free(source);
    throw Error(Errc::io, final_path_ + ": cannot add member '" + name +
                              "': " + zip_strerror(archive_));
  }
  auto idx = static_cast<zip_uint64_t>(index);
  zip_set_file_compression(archive_, idx, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                           compress ? kDeflateLevel : 0);
  // Regular file, rw-r--r--: readers refuse anything that is not a regular file.
  zip_file_set_external_attributes(archive_, idx, 0, ZIP_OPSYS_UNIX,
                                   static_cast<zip_uint32_t>(S_IFREG | 0644) << 16);
  zip_file_set_mtime(archive_, idx, 0, 0);
}

void ZipWriter::add_bytes(const std::string& name, std::string_view data, bool compress) {
  zip_source_t* source = zip_source_buffer(archive_, data.data(), data.size(), 0);
  if (!source)
    throw Error(Errc::io, final_path_ + ": cannot stage member '" + name +
                              "': " + zip_strerror(archive_));
  add_source(name, source,
             compress && worth_deflating(data.data(), std::min(data.size(), kProbeBytes)));
}

void ZipWriter::add_file(const std::string& name, const std::string& path, bool compress) {
  zip_source_t* source = zip_source_file(archive_, path.c_str(), 0, -1 /* to the end */);
  if (!source)
    throw Error(Errc::io, "cannot read '" + path + "' for member '" + name +
                              "': " + zip_strerror(archive_));
  add_source(name, source, compress && worth_deflating_file(path));
}

void ZipWriter::commit() {
  if (buffer_) throw Error(Errc::usage, final_path_ + ": commit on an in-memory archive");
  if (zip_close(archive_) != 0) {
    std::string why = zip_strerror(archive_);
    throw Error(Errc::io, "cannot write '" + final_path_ + "': " + why);
  }
  archive_ = nullptr;
  int fd = ::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    throw Error(Errc::io, "cannot fsync '" + temp_path_ + "': " + errno_text(err));
  }
  close(fd);
  if (rename(temp_path_.c_str(), final_path_.c_str()) != 0)
    throw Error(Errc::io, "cannot rename '" + temp_path_ + "' to '" + final_path_ +
                              "': " + errno_text(errno));
  auto slash = final_path_.find_last_of('/');
  fsync_directory(slash == std::string::npos ? "." : final_path_.substr(0, slash == 0 ? 1 : slash));
}

void replace_zip_member(const std::string& path, const std::string& name, std::string_view data) {
  int code = 0;
  zip* archive = zip_open(path.c_str(), ZIP_CHECKCONS, &code);
  if (!archive) throw Error(Errc::io, "cannot open '" + path + "': " + zip_error_text(code));
  zip_source_t* source = zip_source_buffer(archive, data.data(), data.size(), 0);
  zip_int64_t index =
      source ? zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) : -1;
  if (index < 0) {
    std::string why = zip_strerror(archive);
    if (source) zip_source_free(source);
    zip_discard(archive);
    throw Error(Errc::io, path + ": cannot add member '" + name + "': " + why);
  }
  auto idx = static_cast<zip_uint64_t>(index);
  zip_set_file_compression(archive, idx, ZIP_CM_STORE, 0);
  zip_file_set_external_attributes(archive, idx, 0, ZIP_OPSYS_UNIX,
                                   static_cast<zip_uint32_t>(S_IFREG | 0644) << 16);
  zip_file_set_mtime(archive, idx, 0, 0);
  if (zip_close(archive) != 0) {
    std::string why = zip_strerror(archive);
    zip_discard(archive);
    throw Error(Errc::io, "cannot rewrite '" + path + "': " + why);
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  auto slash = path.find_last_of('/');
  fsync_directory(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

}  // namespace mw::detail
