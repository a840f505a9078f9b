// mw-wrapper on a bare host: a root that holds only the dynamic loader and
// glibc's own libraries (copied from the build machine), plus what an app
// version and a workunit put in a BOINC slot — nothing else of the build
// machine is visible. The app version's libraries are the ones
// mw-project-setup ships (mw::setup::wrapper_needs, the code install uses),
// so a library install forgets makes the wrapper fail here with "error while
// loading shared libraries", as it did on a real volunteer host (issue 17).
//
// The same tests run for aarch64-unknown-linux-gnu (docs/wrapper.md,
// "aarch64"): the cross build's wrapper and programs, a root holding the arm64
// loader and glibc from the arm64 root they were linked against
// (scripts/arm64-sysroot.sh), run by qemu-user through binfmt_misc
// (scripts/qemu-binfmt.sh; its F flag opens qemu before the chroot, so the
// root holds no qemu and the wrapper's own exec of the task program goes
// through qemu too). Without the arm64 root, the cross build or the binfmt
// handler they are skipped, naming what is missing; scripts/test.sh prepares
// all three.
//
// Runs as root only (chroot); CI runs as root. The slot is laid out as the
// client lays it out (reference §8.1): the main program runs as
// ../../projects/DIR/PHYS with LD_LIBRARY_PATH=../../projects/DIR:.:../..,
// and <copy_file/> libraries are copies in the slot under their soname. There
// is no client, so the BOINC API runs standalone (names unresolved,
// stderr.txt), as in wrapper_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <fstream>
#include <thread>

#include "mw/bundle.h"
#include "mw/remote_task.h"
#include "mw/signing.h"
#include "mw/values.h"
#include "setup.h"
#include "support/test_support.h"
#include "util/elf_inspect.h"
#include "util/fs.h"

namespace mw {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kProjectDir = "projects/127.0.0.1_lab";

// A volunteer host's platform and the programs built for it.
struct HostPlatform {
  std::string name;         // test name suffix
  std::string platform;     // BOINC platform
  std::string triplet;      // Debian multiarch directory
  std::string wrapper, probe, lean_worker;
  std::string sysroot;      // where its loader and glibc come from; "" = this machine
};

// What ctest's test names show of the parameter (else its bytes, pointers included).
void PrintTo(const HostPlatform& p, std::ostream* os) { *os << p.platform; }

const HostPlatform kNative{"x86_64", "x86_64-pc-linux-gnu", "x86_64-linux-gnu", MW_WRAPPER,
                           MW_TASK_PROBE_LEAN, MW_LEAN_WORKER, ""};
const HostPlatform kAarch64{"aarch64", "aarch64-unknown-linux-gnu", "aarch64-linux-gnu",
                            MW_AARCH64_BUILD "/client_wrapper/mw-wrapper", MW_AARCH64_BUILD "/task_probe_lean",
                            MW_AARCH64_BUILD "/lean_worker_example", MW_ARM64_SYSROOT};

// Why this machine cannot run `p`'s programs in a bare root; empty: it can.
std::string cannot_run(const HostPlatform& p) {
  if (p.sysroot.empty()) return "";
  if (!detail::path_exists(p.sysroot + "/.mw-sysroot"))
    return "no arm64 root at " + p.sysroot + ": make it with scripts/arm64-sysroot.sh " + p.sysroot;
  for (const auto& program : {p.wrapper, p.probe, p.lean_worker})
    if (!detail::path_exists(program))
      return program + " is not built: cmake -S . -B " MW_AARCH64_BUILD
             " -G Ninja --toolchain cmake/aarch64-linux-gnu.cmake -DMW_ARM64_SYSROOT=" + p.sysroot +
             " && cmake --build " MW_AARCH64_BUILD;
  std::ifstream handler("/proc/sys/fs/binfmt_misc/qemu-aarch64");
  std::string state, line, flags;
  std::getline(handler, state);
  while (std::getline(handler, line))
    if (line.rfind("flags: ", 0) == 0) flags = line.substr(7);
  if (state != "enabled" || flags.find('F') == std::string::npos)
    return "binfmt_misc has no enabled qemu-aarch64 handler with the F flag: run scripts/qemu-binfmt.sh as root";
  return "";
}

void copy_file(const std::string& from, const std::string& to, unsigned mode) {
  detail::write_file_atomic(to, detail::read_file(from), mode);
}

void make_dirs(const std::string& path) {
  std::string at;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    at = path.substr(0, i);
    ::mkdir(at.c_str(), 0755);
  }
}

std::string real(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? buf : path;
}

class BareHostTest : public ::testing::TestWithParam<HostPlatform> {
 protected:
  const HostPlatform& host = GetParam();
  const std::string wrapper_physical = "mw_1.00_" + host.platform + "_mw-wrapper";
  test::ScratchDir root_dir;
  PrivateKey key = PrivateKey::generate();
  std::string root;
  std::string slot;
  std::vector<std::pair<std::string, std::string>> libraries;  // (file, soname) the app version ships

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root (CI runs as root)";
    if (auto why = cannot_run(host); !why.empty()) GTEST_SKIP() << why;
    root = root_dir.path();
    slot = root + "/slots/0";
    // What install ships with this wrapper: found the way mw-project-setup finds it.
    auto search = host.sysroot.empty() ? detail::system_library_dirs()
                                       : setup::root_library_dirs(host.sysroot, host.platform);
    auto needs = setup::wrapper_needs(host.wrapper, host.platform, {}, search);
    ASSERT_TRUE(needs.problems.empty()) << needs.problems.front();
    libraries = needs.libraries;
    build_glibc_root();
  }

  // The dynamic loader where the wrapper's PT_INTERP says, and each of glibc's
  // own libraries where the build machine (or the platform's root) has it
  // (the loader's default directories), as real files. Nothing else.
  void build_glibc_root() {
    const std::string interp = detail::inspect_elf(host.wrapper).interpreter;
    ASSERT_FALSE(interp.empty());
    make_dirs(root + interp.substr(0, interp.rfind('/')));
    copy_file(real(host.sysroot + interp), root + interp, 0755);
    for (const auto& name : detail::glibc_baseline()) {
      for (const auto& dir : {"/lib/" + host.triplet, "/usr/lib/" + host.triplet}) {
        const std::string from = host.sysroot + dir + "/" + name;
        if (!detail::path_exists(from)) continue;
        make_dirs(root + dir);
        copy_file(real(from), root + dir + "/" + name, 0755);
      }
    }
    // A host has /dev/null and /proc; the runner uses both.
    make_dirs(root + "/dev");
    make_dirs(root + "/proc");
    ASSERT_EQ(::mknod((root + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0)
        << detail::errno_text(errno);
    make_dirs(root + "/" + kProjectDir);
    make_dirs(slot);
  }

  // The app version as the client installs it: the main program in the
  // project directory, each <copy_file/> library copied into the slot.
  void install_app_version(const std::string& leave_out = "") {
    copy_file(host.wrapper, root + "/" + kProjectDir + "/" + wrapper_physical, 0755);
    for (const auto& [file, soname] : libraries)
      if (soname != leave_out) copy_file(file, slot + "/" + soname, 0755);
    test::write_text(slot + "/mw_task_public.pem", key.public_key().to_pem());
  }

  struct Run {
    int exit_code = -1;
    std::string stderr_txt;  // the wrapper's stderr.txt (BOINC API, standalone)
    std::string early;       // what the loader wrote before the wrapper ran
  };

  // fork; in the child: a private mount namespace with /proc, chroot to the
  // root, cd into the slot, exec the wrapper as the client does (argv, no shell).
  Run run_wrapper() {
    const std::string early_path = root_dir / "loader.txt";
    pid_t pid = ::fork();
    if (pid == 0) {
      int out = ::open(early_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      if (::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
        ::mount("proc", (root + "/proc").c_str(), "proc", 0, nullptr);
      if (::chroot(root.c_str()) != 0 || ::chdir("/slots/0") != 0) _exit(120);
      const std::string program = "../../" + kProjectDir + "/" + wrapper_physical;
      const std::string ld_path = "LD_LIBRARY_PATH=../../" + kProjectDir + ":.:../..";
      char* const argv[] = {const_cast<char*>(program.c_str()), nullptr};
      char* const envp[] = {const_cast<char*>(ld_path.c_str()), const_cast<char*>("PATH=/nonexistent"), nullptr};
      ::execve(program.c_str(), argv, envp);
      _exit(121);
    }
    Run r;
    const auto give_up = std::chrono::steady_clock::now() + 120s;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > give_up) {
        ADD_FAILURE() << "mw-wrapper did not finish within 120 s";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    r.early = detail::path_exists(early_path) ? test::read_text(early_path) : "";
    r.stderr_txt = detail::path_exists(slot + "/stderr.txt") ? test::read_text(slot + "/stderr.txt") : "";
    return r;
  }

  // The loader refuses to start the wrapper and names `soname`; no result, no task.
  void probe_missing_library(const std::string& soname) {
    TaskBuilder t("bare-missing");
    t.bundled_program(host.probe, "task_probe").args({"out", "ran"});
    t.write_bundle(slot + "/task.zip", key);
    Run r = run_wrapper();
    EXPECT_EQ(r.exit_code, 127) << r.early << r.stderr_txt;
    EXPECT_THAT(r.early, HasSubstr("error while loading shared libraries: " + soname)) << r.early;
    EXPECT_FALSE(detail::path_exists(slot + "/result.zip"));
  }
};

TEST_P(BareHostTest, ExecTaskRunsWithOnlyGlibcOnTheHost) {
  install_app_version();
  // The task's own program must run there too: task_probe_lean has libstdc++ and libgcc linked in.
  ASSERT_THAT(detail::library_closure(host.probe, {}, {}).missing, ::testing::IsEmpty());
  TaskBuilder t("bare-exec");
  t.bundled_program(host.probe, "task_probe")
      .args({"write", "out.txt", "hello from a bare host", "out", "to stdout"})
      .output("out.txt", 100);
  t.write_bundle(slot + "/task.zip", key);
  Run r = run_wrapper();
  ASSERT_EQ(r.exit_code, 0) << r.early << r.stderr_txt;
  ResultBundle result = ResultBundle::open(slot + "/result.zip");
  EXPECT_EQ(result.manifest().status, ResultStatus::success) << result.manifest().reason;
  EXPECT_EQ(result.read_output("out.txt"), "hello from a bare host");
  EXPECT_EQ(result.read_output("mw.stdout"), "to stdout\n");
  EXPECT_THAT(r.stderr_txt, HasSubstr("task ended: success"));
}

TEST_P(BareHostTest, FunctionTaskOfALeanWorkerRunsWithOnlyGlibcOnTheHost) {
  install_app_version();
  const std::string warning = detail::volunteer_program_warning(host.lean_worker);
  if (host.sysroot.empty())
    EXPECT_EQ(warning, "") << "masters ship it without a warning";
  else  // only because this (x86_64) machine is not its architecture
    EXPECT_THAT(warning, HasSubstr("it is built for aarch64, this machine is x86_64; newest"));
  auto lean = detail::library_closure(host.lean_worker, {}, {});
  ASSERT_THAT(lean.missing, ::testing::IsEmpty()) << "a lean worker needs nothing beyond glibc";
  // Its glibc floor stays at the toolchain's lowest (docs/wrapper.md): 2.35 with GCC 12.
  EXPECT_LE(detail::compare_versions(lean.glibc_floor, "2.35"), 0)
      << "GLIBC_" << lean.glibc_floor << " from " << lean.glibc_floor_from;
  // As BOINC ships it: the program a separate (sticky) file, mw_program in the slot.
  TaskBuilder t("bare-function");
  t.bundled_program(host.lean_worker).function("sum_of_squares");
  t.file_bytes(kArgsMember, encode_values(std::uint64_t{1000}), FileRole::input);
  t.output(kValueMember, 1 << 20);
  t.write_bundle_without_programs(slot + "/task.zip", key);
  copy_file(host.lean_worker, slot + "/mw_program", 0755);
  Run r = run_wrapper();
  ASSERT_EQ(r.exit_code, 0) << r.early << r.stderr_txt;
  ResultBundle result = ResultBundle::open(slot + "/result.zip");
  ASSERT_EQ(result.manifest().status, ResultStatus::success) << result.manifest().reason;
  EXPECT_EQ(decode_value<std::uint64_t>(result.read_output(kValueMember), "value.bin"),
            std::uint64_t{1000} * 1001 * 2001 / 6);
}

// The proof that the root is bare: leave one shipped library out and the
// wrapper cannot even start — the failure volunteers saw.
TEST_P(BareHostTest, ALibraryMissingFromTheAppVersionStopsTheWrapper) {
  install_app_version("libzip.so.4");
  probe_missing_library("libzip.so.4");
}

TEST_P(BareHostTest, TheCppRuntimeMissingFromTheAppVersionStopsTheWrapper) {
  install_app_version("libstdc++.so.6");
  probe_missing_library("libstdc++.so.6");
}

INSTANTIATE_TEST_SUITE_P(Hosts, BareHostTest, ::testing::Values(kNative, kAarch64),
                         [](const ::testing::TestParamInfo<HostPlatform>& i) { return i.param.name; });

}  // namespace
}  // namespace mw
