#include "util/elf_inspect.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::detail {
namespace {

// Reads pieces of one file by offset, each bounds-checked against its size:
// a header that points outside the file is a format error, never a crash.
class FileReader {
 public:
  explicit FileReader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(Errc::io, "cannot open " + path + ": " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      int e = errno;
      ::close(fd_);
      throw Error(Errc::io, "cannot stat " + path + ": " + errno_text(e));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~FileReader() { ::close(fd_); }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::uint64_t size() const { return size_; }

  template <typename T>
  T read(std::uint64_t offset, const char* what) const {
    T value;
    read_into(&value, offset, sizeof value, what);
    return value;
  }
  void read_into(void* out, std::uint64_t offset, std::uint64_t n, const char* what) const {
    if (offset > size_ || n > size_ - offset)
      throw Error(Errc::format, path_ + ": not a valid ELF file (" + what + " lies outside the file)");
    auto* p = static_cast<char*>(out);
    while (n > 0) {
      ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw Error(Errc::io, "cannot read " + path_ + ": " + errno_text(got < 0 ? errno : EIO));
      p += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::uint64_t>(got);
    }
  }
  // A NUL-terminated string at `offset`, within `limit` bytes.
  std::string c_string(std::uint64_t offset, std::uint64_t limit, const char* what) const {
    std::string s;
    char buf[256];
    while (s.size() < limit) {
      std::uint64_t n = std::min<std::uint64_t>({sizeof buf, limit - s.size(), size_ > offset ? size_ - offset : 0});
      if (n == 0) break;
      read_into(buf, offset, n, what);
      const void* nul = std::memchr(buf, 0, n);
      if (nul != nullptr) return s + std::string(buf, static_cast<const char*>(nul) - buf);
      s.append(buf, n);
      offset += n;
    }
    throw Error(Errc::format, path_ + ": not a valid ELF file (" + what + " is not terminated)");
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace

ElfInfo inspect_elf(const std::string& path) {
  FileReader f(path);
  ElfInfo info;
  info.path = path;
  if (f.size() < sizeof(Elf64_Ehdr)) throw Error(Errc::format, path + ": not an ELF file (too short)");
  auto eh = f.read<Elf64_Ehdr>(0, "the ELF header");
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) throw Error(Errc::format, path + ": not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64)
    throw Error(Errc::format, path + ": a 32-bit ELF file; only 64-bit programs are supported");
  // Every BOINC Linux platform mwkit builds for (x86_64, aarch64) is little-endian.
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
    throw Error(Errc::format, path + ": a big-endian ELF file; only little-endian programs are supported");
  info.machine = eh.e_machine;
  if (eh.e_phentsize != sizeof(Elf64_Phdr) && eh.e_phnum != 0)
    throw Error(Errc::format, path + ": not a valid ELF file (program header size " +
                                  std::to_string(eh.e_phentsize) + ")");

  // The program headers are what the loader itself reads, so they are used
  // rather than section headers (which strip may remove).
  std::vector<Elf64_Phdr> loads;
  std::optional<Elf64_Phdr> dynamic;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    auto ph = f.read<Elf64_Phdr>(eh.e_phoff + std::uint64_t{i} * sizeof(Elf64_Phdr), "a program header");
    if (ph.p_type == PT_LOAD) loads.push_back(ph);
    if (ph.p_type == PT_DYNAMIC) dynamic = ph;
    if (ph.p_type == PT_INTERP) info.interpreter = f.c_string(ph.p_offset, ph.p_filesz, "PT_INTERP");
  }
  if (!dynamic) return info;
  info.dynamic = true;

  // Dynamic entries hold addresses; the file offset is found through the PT_LOAD that maps it.
  auto offset_of = [&](std::uint64_t vaddr, const char* what) -> std::uint64_t {
    for (const auto& l : loads)
      if (vaddr >= l.p_vaddr && vaddr - l.p_vaddr < l.p_filesz) return l.p_offset + (vaddr - l.p_vaddr);
    throw Error(Errc::format, path + ": not a valid ELF file (" + what + " is not in a loaded segment)");
  };
  std::uint64_t strtab = 0, strsz = 0, verneed = 0, verneednum = 0;
  std::vector<std::uint64_t> needed, runpath, rpath;
  std::optional<std::uint64_t> soname;
  const std::uint64_t count = dynamic->p_filesz / sizeof(Elf64_Dyn);
  for (std::uint64_t i = 0; i < count; ++i) {
    auto d = f.read<Elf64_Dyn>(dynamic->p_offset + i * sizeof(Elf64_Dyn), "the dynamic section");
    if (d.d_tag == DT_NULL) break;
    switch (d.d_tag) {
      case DT_STRTAB: strtab = d.d_un.d_ptr; break;
      case DT_STRSZ: strsz = d.d_un.d_val; break;
      case DT_NEEDED: needed.push_back(d.d_un.d_val); break;
      case DT_SONAME: soname = d.d_un.d_val; break;
      case DT_RUNPATH: runpath.push_back(d.d_un.d_val); break;
      case DT_RPATH: rpath.push_back(d.d_un.d_val); break;
      case DT_VERNEED: verneed = d.d_un.d_ptr; break;
      case DT_VERNEEDNUM: verneednum = d.d_un.d_val; break;
      default: break;
    }
  }
  if (strtab == 0) {
    if (needed.empty() && !soname && verneed == 0) return info;
    throw Error(Errc::format, path + ": not a valid ELF file (dynamic section without DT_STRTAB)");
  }
  const std::uint64_t str_off = offset_of(strtab, "the dynamic string table");
  auto str = [&](std::uint64_t index) {
    if (index >= strsz) throw Error(Errc::format, path + ": not a valid ELF file (string index out of range)");
    return f.c_string(str_off + index, strsz - index, "a dynamic string");
  };
  for (auto n : needed) info.needed.push_back(str(n));
  if (soname) info.soname = str(*soname);
  for (auto r : runpath.empty() ? rpath : runpath) {
    std::string all = str(r);
    for (std::size_t start = 0;;) {
      auto colon = all.find(':', start);
      std::string one = all.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!one.empty()) info.runpath.push_back(one);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  if (verneed != 0) {
    std::uint64_t at = offset_of(verneed, "the version needs");
    // Bounded by the entry count and by the file size (each entry is 16 bytes).
    for (std::uint64_t i = 0; i < verneednum && i < f.size() / sizeof(Elf64_Verneed); ++i) {
      auto vn = f.read<Elf64_Verneed>(at, "a version need");
      auto& versions = info.version_needs[str(vn.vn_file)];
      std::uint64_t aux = at + vn.vn_aux;
      for (unsigned j = 0; j < vn.vn_cnt; ++j) {
        auto va = f.read<Elf64_Vernaux>(aux, "a version need");
        versions.push_back(str(va.vna_name));
        if (va.vna_next == 0) break;
        aux += va.vna_next;
      }
      if (vn.vn_next == 0) break;
      at += vn.vn_next;
    }
  }
  return info;
}

std::string machine_name(std::uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_PPC64: return "ppc64";
    case EM_RISCV: return "riscv";
    default: return "machine " + std::to_string(machine);
  }
}

std::uint16_t platform_machine(const std::string& platform) {
  auto starts = [&](const char* p) { return platform.rfind(p, 0) == 0; };
  if (starts("x86_64-")) return EM_X86_64;
  if (starts("aarch64-")) return EM_AARCH64;
  if (starts("i686-") || starts("i386-")) return EM_386;
  return 0;
}

const std::vector<std::string>& glibc_baseline() {
  // The sonames glibc 2.34+ installs itself (libcrypt and libnsl left glibc:
  // they are not here). The loaders of every platform are listed.
  static const std::vector<std::string> names = {
      "libc.so.6",          "libm.so.6",       "libpthread.so.0",    "libdl.so.2",
      "librt.so.1",         "libutil.so.1",    "libresolv.so.2",     "libanl.so.1",
      "libmvec.so.1",       "libBrokenLocale.so.1", "libthread_db.so.1", "libc_malloc_debug.so.0",
      "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux.so.2"};
  return names;
}

bool is_glibc_library(const std::string& soname) {
  const auto& b = glibc_baseline();
  return std::find(b.begin(), b.end(), soname) != b.end();
}

int compare_versions(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    unsigned long x = 0, y = 0;
    while (i < a.size() && a[i] != '.') x = x * 10 + static_cast<unsigned long>(a[i++] - '0');
    while (j < b.size() && b[j] != '.') y = y * 10 + static_cast<unsigned long>(b[j++] - '0');
    if (x != y) return x < y ? -1 : 1;
    ++i;
    ++j;
  }
  return 0;
}

std::string highest_version(const ElfInfo& info, const std::string& prefix) {
  std::string best;
  for (const auto& [lib, versions] : info.version_needs) {
    for (const auto& v : versions) {
      if (v.rfind(prefix, 0) != 0) continue;
      std::string number = v.substr(prefix.size());
      if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos) continue;
      if (best.empty() || compare_versions(number, best) > 0) best = number;
    }
  }
  return best;
}

std::vector<std::string> system_library_dirs() {
  std::vector<std::string> dirs;
  for (const char* d : {"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                        "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib"}) {
    struct stat st {};
    if (::stat(d, &st) == 0 && S_ISDIR(st.st_mode)) dirs.push_back(d);
  }
  return dirs;
}

LibraryClosure library_closure(const std::string& program, const std::vector<std::string>& shipped,
                               const std::vector<std::string>& search_dirs) {
  LibraryClosure c;
  // What the shipped files answer to: their name on the host and their soname.
  std::map<std::string, std::string> by_name;
  for (const auto& s : shipped) {
    by_name.emplace(base_name(s), s);
    auto info = inspect_elf(s);
    if (!info.soname.empty()) by_name.emplace(info.soname, s);
  }
  const std::uint16_t machine = inspect_elf(program).machine;
  // As the loader does, a library of another architecture in a searched
  // directory is passed over; a shipped one is the caller's choice and is
  // reported (wrong_machine) instead.
  auto find = [&](const std::string& soname) -> std::string {
    if (auto it = by_name.find(soname); it != by_name.end()) return it->second;
    for (const auto& d : search_dirs) {
      std::string p = join_path(d, soname);
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      try {
        if (inspect_elf(p).machine == machine) return p;
      } catch (const Error&) {
        // Not an ELF64 file (a linker script, a 32-bit library): not this one.
      }
    }
    return "";
  };
  std::set<std::string> seen;
  std::vector<std::pair<std::string, std::string>> queue = {{program, ""}};  // path, soname
  for (std::size_t i = 0; i < queue.size(); ++i) {
    ElfInfo info = inspect_elf(queue[i].first);
    const std::string who = queue[i].second.empty() ? base_name(program) : queue[i].second;
    if (info.machine != machine)
      c.wrong_machine.push_back(who + " (" + queue[i].first + ") is built for " + machine_name(info.machine) + ", " +
                                base_name(program) + " for " + machine_name(machine));
    std::string floor = highest_version(info, "GLIBC_");
    if (!floor.empty() && (c.glibc_floor.empty() || compare_versions(floor, c.glibc_floor) > 0)) {
      c.glibc_floor = floor;
      c.glibc_floor_from = who;
    }
    for (const auto& n : info.needed) {
      if (is_glibc_library(n) || !seen.insert(n).second) continue;
      std::string path = find(n);
      if (path.empty()) {
        c.missing.push_back(n + " (needed by " + who + ")");
        continue;
      }
      c.libraries.push_back({n, path, who});
      queue.emplace_back(path, n);
    }
    c.files.push_back(std::move(info));
  }
  return c;
}

namespace {

std::uint16_t this_machine() {
  struct utsname u {};
  if (::uname(&u) != 0) return 0;
  const std::string m = u.machine;
  if (m == "x86_64") return EM_X86_64;
  if (m == "aarch64") return EM_AARCH64;
  return 0;
}

}  // namespace

std::string volunteer_program_warning(const std::string& program) {
  std::vector<std::string> why;
  std::string versions;
  try {
    LibraryClosure c = library_closure(program, {}, {});
    const ElfInfo& info = c.files.at(0);
    const std::uint16_t here = this_machine();
    if (here != 0 && info.machine != here)
      why.push_back("it is built for " + machine_name(info.machine) + ", this machine is " + machine_name(here));
    for (const auto& m : c.missing) why.push_back("it needs " + m.substr(0, m.find(' ')));
    std::string glibcxx = highest_version(info, "GLIBCXX_");
    if (!c.glibc_floor.empty()) versions += "GLIBC_" + c.glibc_floor;
    if (!glibcxx.empty()) versions += (versions.empty() ? "" : ", ") + std::string("GLIBCXX_") + glibcxx;
  } catch (const Error& e) {
    why.push_back(e.what());
  }
  if (why.empty()) return "";
  std::string text = program + " may not run on volunteer hosts (only the BOINC client and glibc there): ";
  for (std::size_t i = 0; i < why.size(); ++i) text += (i == 0 ? "" : "; ") + why[i];
  if (!versions.empty()) text += "; newest versions it asks for: " + versions;
  return text + ". Ship a program linked statically but for glibc — for function tasks a lean worker "
                "(mw_add_lean_worker, docs/wrapper.md)";
}

}  // namespace mw::detail
