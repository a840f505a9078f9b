// util/elf_inspect.h — what a program sent to volunteers needs from their host.
//
// A volunteer host has the BOINC client and glibc, nothing else we can count
// on (reference §11.9). Before mwkit ships a program (mw-wrapper in an app
// version, a task's program) it reads the program's ELF64 headers itself —
// the dynamic section's DT_NEEDED/DT_SONAME and the GNU version needs
// (GLIBC_2.34, GLIBCXX_3.4.29, …) — and walks the libraries it needs against
// glibc's own, so a program that would not load there is refused before it
// is staged, naming the library. No readelf/ldd: those may be absent, and
// their output is not an interface.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mw::detail {

struct ElfInfo {
  std::string path;
  std::uint16_t machine = 0;  // e_machine (EM_X86_64 = 62, EM_AARCH64 = 183)
  bool dynamic = false;       // has a dynamic section (else statically linked)
  std::string interpreter;    // PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2
  std::string soname;         // DT_SONAME (libraries)
  std::vector<std::string> needed;   // DT_NEEDED in order
  std::vector<std::string> runpath;  // DT_RUNPATH (else DT_RPATH), split at ':'
  // Versions required per library (.gnu.version_r): "libc.so.6" → {"GLIBC_2.34", …}.
  std::map<std::string, std::vector<std::string>> version_needs;
};

// Reads `path`'s ELF64 little-endian headers. Error(Errc::format) naming the
// file when it is not such an ELF file or a header points outside it;
// Error(Errc::io) when it cannot be read.
ElfInfo inspect_elf(const std::string& path);

// "x86_64", "aarch64", "i386", … or "machine N".
std::string machine_name(std::uint16_t machine);
// The e_machine a BOINC platform's programs have (x86_64-pc-linux-gnu → 62);
// 0 for a platform this reader does not know.
std::uint16_t platform_machine(const std::string& boinc_platform);

// glibc's own libraries and dynamic loaders: every Linux host that runs the
// BOINC client has them, so they are the baseline nothing needs to ship.
const std::vector<std::string>& glibc_baseline();
bool is_glibc_library(const std::string& soname);

// Compares dotted version numbers numerically ("2.9" < "2.34"): <0, 0, >0.
int compare_versions(const std::string& a, const std::string& b);
// The highest "<prefix><number>" version `info` requires from any library
// ("GLIBC_" → "2.34"); empty when none. Non-numeric ones (GLIBC_PRIVATE) are skipped.
std::string highest_version(const ElfInfo& info, const std::string& prefix);

// A program and the shared libraries it needs beyond glibc, walked
// transitively through DT_NEEDED.
struct LibraryClosure {
  struct Library {
    std::string soname;  // the name the loader looks for (DT_NEEDED)
    std::string path;    // the file that provides it
    std::string needed_by;  // base name of the first file that needs it
  };
  std::vector<Library> libraries;  // beyond glibc, in the order found
  std::vector<std::string> missing;  // "libzip.so.4 (needed by mw-wrapper)"
  // Libraries of another architecture than the program (they would not load):
  // "libzip.so.4 (/path) is built for x86_64, mw-wrapper for aarch64".
  std::vector<std::string> wrong_machine;
  std::string glibc_floor;       // highest GLIBC_ version any file needs, e.g. "2.34"
  std::string glibc_floor_from;  // base name of the file that needs it
  std::vector<ElfInfo> files;    // the program first, then each library
};

// `shipped`: library files that go with the program, each known by its base
// name (the name it has on the host) and its DT_SONAME. `search_dirs`: where
// to look for any other library the walk meets (empty: none — it is missing);
// only files of the program's architecture are taken from there.
LibraryClosure library_closure(const std::string& program, const std::vector<std::string>& shipped,
                               const std::vector<std::string>& search_dirs);

// The multiarch library directories of this machine (where Debian keeps
// libzip.so.4, libstdc++.so.6, …), for `search_dirs`.
std::vector<std::string> system_library_dirs();

// Why `program`, about to be shipped to volunteers, might not run on a host
// that has only the BOINC client and glibc: not an ELF64 program, built for
// another architecture than this machine, or needing libraries beyond glibc
// (each named), with the newest GLIBC_/GLIBCXX_ versions it asks for. Empty
// when it needs nothing more. Never throws: an unreadable file is a reason too.
std::string volunteer_program_warning(const std::string& program);

}  // namespace mw::detail
