#include "mw/boinc/md5_info.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "mw/error.h"
#include "mw/hash.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// The side file is tiny; anything larger is not one of ours (or BOINC's).
constexpr std::size_t kMaxSideFileBytes = 4096;

bool read_small_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  FdCloser closer{fd};
  char buf[kMaxSideFileBytes + 1];
  std::size_t used = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf + used, sizeof(buf) - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
    if (used > kMaxSideFileBytes) return false;
  }
  out.assign(buf, used);
  return true;
}

bool is_c_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// BOINC reads the side file as: a word, a number, exactly one newline, end of
// file (whitespace between the word and the number may include newlines).
std::optional<FileDigest> parse_side_file(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && is_c_space(text[i])) ++i;
  std::size_t word_start = i;
  while (i < text.size() && !is_c_space(text[i]) && text[i] != '\0') ++i;
  std::size_t word_len = i - word_start;
  // BOINC keeps the word in a 33-byte buffer; a longer one is not a digest.
  if (word_len == 0 || word_len > 32) return std::nullopt;
  while (i < text.size() && is_c_space(text[i])) ++i;
  if (i >= text.size()) return std::nullopt;
  std::string rest = text.substr(i);  // NUL-terminated copy for strtod
  char* end = nullptr;
  errno = 0;
  double nbytes = std::strtod(rest.c_str(), &end);
  if (end == rest.c_str()) return std::nullopt;
  std::size_t after = i + static_cast<std::size_t>(end - rest.c_str());
  if (after + 1 != text.size() || text[after] != '\n') return std::nullopt;
  return FileDigest{text.substr(word_start, word_len), nbytes};
}

}  // namespace

FileDigest md5_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(Errc::io, "cannot open '" + path + "': " + mw::detail::errno_text(errno));
  FdCloser closer{fd};
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1)
    throw Error(Errc::system, "OpenSSL could not start an MD5 computation");
  std::string buf(1 << 16, '\0');
  double total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::io, "cannot read '" + path + "': " + mw::detail::errno_text(errno));
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
    total += static_cast<double>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  return FileDigest{to_hex(digest, len), total};
}

std::string md5_info_path(const std::string& path) { return path + ".md5"; }

std::string format_md5_info(const FileDigest& digest) {
  char number[64];
  std::snprintf(number, sizeof(number), "%.15e", digest.nbytes);
  return digest.md5 + " " + number + "\n";
}

std::optional<FileDigest> read_md5_info(const std::string& path) {
  const std::string side = md5_info_path(path);
  struct stat data_st {};
  struct stat side_st {};
  if (::stat(path.c_str(), &data_st) != 0) return std::nullopt;
  if (::stat(side.c_str(), &side_st) != 0) return std::nullopt;
  std::string text;
  if (!read_small_file(side, text)) return std::nullopt;
  auto digest = parse_side_file(text);
  if (!digest) return std::nullopt;
  // Whole seconds, as BOINC compares them: a side file written in the same
  // second as its data file still counts.
  if (side_st.st_mtime < data_st.st_mtime) {
    ::unlink(side.c_str());
    return std::nullopt;
  }
  return digest;
}

void write_md5_info(const std::string& path, const FileDigest& digest) {
  const std::string side = md5_info_path(path);
  struct stat st {};
  if (::stat(side.c_str(), &st) == 0) return;
  const std::string tmp = mw::detail::temp_path_beside(side);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return;
  const std::string text = format_md5_info(digest);
  bool ok;
  {
    FdCloser closer{fd};
    ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  // link() refuses to replace an existing name, so a side file another
  // process wrote meanwhile wins, as BOINC's "never replace" rule requires.
  if (ok) (void)::link(tmp.c_str(), side.c_str());
  ::unlink(tmp.c_str());
}

FileDigest staged_file_digest(const std::string& path, bool use_cache) {
  if (use_cache) {
    if (auto cached = read_md5_info(path)) return *cached;
  }
  FileDigest digest = md5_file(path);
  if (use_cache) write_md5_info(path, digest);
  return digest;
}

}  // namespace mw::boinc
