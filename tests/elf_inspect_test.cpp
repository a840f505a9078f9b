// util/elf_inspect: our own ELF64 reader against programs the build made and
// the build machine's libraries, and against damaged files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <elf.h>

#include "mw/error.h"
#include "support/test_support.h"
#include "util/elf_inspect.h"
#include "util/fs.h"

namespace mw::detail {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(ElfInspectTest, ReadsNeededSonameAndVersionsOfARealLibrary) {
  auto dirs = system_library_dirs();
  LibraryClosure c = library_closure(MW_TASK_PROBE, {}, dirs);
  ASSERT_FALSE(c.files.empty());
  const ElfInfo& probe = c.files[0];
  EXPECT_EQ(probe.machine, EM_X86_64);
  EXPECT_TRUE(probe.dynamic);
  EXPECT_THAT(probe.needed, Contains("libc.so.6"));
  EXPECT_THAT(probe.needed, Contains("libstdc++.so.6"));  // a C++ program built without -static-libstdc++
  EXPECT_THAT(probe.interpreter, HasSubstr("ld-linux"));
  ASSERT_TRUE(probe.version_needs.count("libc.so.6"));
  EXPECT_FALSE(highest_version(probe, "GLIBC_").empty());
  // libstdc++ is beyond glibc and found in the system's directories; its soname is read.
  bool found = false;
  for (const auto& l : c.libraries) {
    if (l.soname != "libstdc++.so.6") continue;
    found = true;
    EXPECT_EQ(inspect_elf(l.path).soname, "libstdc++.so.6");
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(c.missing.empty());
  EXPECT_FALSE(c.glibc_floor.empty());
}

TEST(ElfInspectTest, ALibraryNotShippedAndNotSearchedIsMissingByName) {
  LibraryClosure c = library_closure(MW_TASK_PROBE, {}, {});
  EXPECT_TRUE(c.libraries.empty());
  EXPECT_THAT(c.missing, Contains("libstdc++.so.6 (needed by task_probe)"));
  for (const auto& m : c.missing) EXPECT_THAT(m, ::testing::Not(HasSubstr("libc.so.6")));
}

TEST(ElfInspectTest, VersionsCompareNumerically) {
  EXPECT_LT(compare_versions("2.9", "2.34"), 0);
  EXPECT_GT(compare_versions("2.34", "2.33"), 0);
  EXPECT_EQ(compare_versions("3.4.29", "3.4.29"), 0);
  EXPECT_LT(compare_versions("3.4", "3.4.1"), 0);
  ElfInfo i;
  i.version_needs["libc.so.6"] = {"GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_PRIVATE", "GLIBC_2.4"};
  i.version_needs["libstdc++.so.6"] = {"GLIBCXX_3.4.29", "CXXABI_1.3.9"};
  EXPECT_EQ(highest_version(i, "GLIBC_"), "2.34");
  EXPECT_EQ(highest_version(i, "GLIBCXX_"), "3.4.29");
}

TEST(ElfInspectTest, BaselineIsGlibcOnly) {
  EXPECT_TRUE(is_glibc_library("libc.so.6"));
  EXPECT_TRUE(is_glibc_library("ld-linux-x86-64.so.2"));
  EXPECT_FALSE(is_glibc_library("libstdc++.so.6"));
  EXPECT_FALSE(is_glibc_library("libzip.so.4"));
  EXPECT_FALSE(is_glibc_library("libcrypt.so.1"));  // libxcrypt, not glibc
  EXPECT_EQ(platform_machine("x86_64-pc-linux-gnu"), EM_X86_64);
  EXPECT_EQ(platform_machine("aarch64-unknown-linux-gnu"), EM_AARCH64);
  EXPECT_EQ(machine_name(EM_AARCH64), "aarch64");
}

TEST(ElfInspectTest, AProgramForVolunteersIsWarnedAboutWithWhatItNeeds) {
  // task_probe links libstdc++ shared: named, with the versions it asks for.
  std::string w = volunteer_program_warning(MW_TASK_PROBE);
  EXPECT_THAT(w, HasSubstr(std::string(MW_TASK_PROBE) + " may not run on volunteer hosts"));
  EXPECT_THAT(w, HasSubstr("it needs libstdc++.so.6"));
  EXPECT_THAT(w, ::testing::Not(HasSubstr("libc.so.6")));
  EXPECT_THAT(w, HasSubstr("GLIBC_2."));
  EXPECT_THAT(w, HasSubstr("GLIBCXX_3.4"));
  EXPECT_THAT(w, HasSubstr("mw_add_lean_worker"));
  // A script is no ELF program: said so, naming it.
  test::ScratchDir dir;
  test::write_text(dir / "run.sh", "#!/bin/sh\n");
  EXPECT_THAT(volunteer_program_warning(dir / "run.sh"), HasSubstr("not an ELF file"));
  EXPECT_THAT(volunteer_program_warning(dir / "absent"), HasSubstr("cannot open"));
}

// Debian's cross toolchain (g++-aarch64-linux-gnu, scripts/install-deps.sh)
// brings real aarch64 libraries: the reader's second platform.
const std::string kArm64Lib = "/usr/aarch64-linux-gnu/lib";

TEST(ElfInspectTest, ReadsAnAarch64LibraryAndWalksOnlyAarch64Libraries) {
  const std::string cxx = kArm64Lib + "/libstdc++.so.6";
  if (!path_exists(cxx)) GTEST_SKIP() << cxx << " is missing: install g++-aarch64-linux-gnu (scripts/install-deps.sh)";
  ElfInfo info = inspect_elf(cxx);
  EXPECT_EQ(info.machine, EM_AARCH64);
  EXPECT_EQ(machine_name(info.machine), "aarch64");
  EXPECT_EQ(info.soname, "libstdc++.so.6");
  EXPECT_THAT(info.needed, Contains("libgcc_s.so.1"));
  EXPECT_THAT(info.needed, Contains("libc.so.6"));
  EXPECT_FALSE(highest_version(info, "GLIBC_").empty());
  // This machine's x86_64 libgcc_s comes first in the search and is passed
  // over, as the loader would; the aarch64 one is taken.
  LibraryClosure c = library_closure(cxx, {}, {"/usr/lib/x86_64-linux-gnu", kArm64Lib});
  ASSERT_EQ(c.libraries.size(), 1u);
  EXPECT_EQ(c.libraries[0].path, kArm64Lib + "/libgcc_s.so.1");
  EXPECT_THAT(c.missing, ::testing::IsEmpty());
  EXPECT_THAT(c.wrong_machine, ::testing::IsEmpty());
}

TEST(ElfInspectTest, ALibraryOfTheOtherArchitectureIsNamedWithBoth) {
  const std::string arm_gcc = kArm64Lib + "/libgcc_s.so.1";
  if (!path_exists(arm_gcc)) GTEST_SKIP() << arm_gcc << " is missing: install g++-aarch64-linux-gnu (scripts/install-deps.sh)";
  // An x86_64 program shipped with an aarch64 library...
  LibraryClosure c = library_closure(MW_TASK_PROBE, {arm_gcc}, system_library_dirs());
  ASSERT_EQ(c.wrong_machine.size(), 1u);
  EXPECT_EQ(c.wrong_machine[0], "libgcc_s.so.1 (" + arm_gcc + ") is built for aarch64, task_probe for x86_64");
  // ... and an aarch64 one with this machine's x86_64 library.
  LibraryClosure d = library_closure(kArm64Lib + "/libstdc++.so.6", {"/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"}, {});
  ASSERT_EQ(d.wrong_machine.size(), 1u);
  EXPECT_EQ(d.wrong_machine[0],
            "libgcc_s.so.1 (/usr/lib/x86_64-linux-gnu/libgcc_s.so.1) is built for x86_64, libstdc++.so.6 for aarch64");
  // A program of the other architecture about to be shipped by this master: both named.
  EXPECT_THAT(volunteer_program_warning(arm_gcc), HasSubstr("it is built for aarch64, this machine is x86_64"));
}

TEST(ElfInspectTest, DamagedFilesAreFormatErrorsNamingTheFile) {
  test::ScratchDir dir;
  const std::string text = dir / "script.sh";
  test::write_text(text, "#!/bin/sh\necho hi\n");
  try {
    inspect_elf(text);
    FAIL() << "a shell script is not ELF";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::format);
    EXPECT_THAT(e.what(), HasSubstr(text));
  }
  // A real program cut short: its program headers point past the end.
  std::string bytes = test::read_text(MW_TASK_PROBE);
  const std::string cut = dir / "cut";
  test::write_text(cut, bytes.substr(0, 200));
  EXPECT_THROW(inspect_elf(cut), Error);
  // Every truncation of the first 4 KB fails cleanly (no crash, no hang).
  for (std::size_t n : {0u, 16u, 63u, 64u, 100u, 1000u, 4096u}) {
    test::write_text(cut, bytes.substr(0, n));
    EXPECT_THROW(inspect_elf(cut), Error) << n;
  }
  EXPECT_THROW(inspect_elf(dir / "absent"), Error);
}

}  // namespace
}  // namespace mw::detail
