// mw-wrapper on a bare host: a root that holds only the dynamic loader and
// glibc's own libraries (copied from the build machine), plus what an app
// version and a workunit put in a BOINC slot — nothing else of the build
// machine is visible. The app version's libraries are the ones
// mw-project-setup ships (mw::setup::wrapper_needs, the code install uses),
// so a library install forgets makes the wrapper fail here with "error while
// loading shared libraries", as it did on a real volunteer host (issue 17).
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

const std::string kPlatform = "x86_64-pc-linux-gnu";
const std::string kProjectDir = "projects/127.0.0.1_lab";
const std::string kWrapperPhysical = "mw_1.00_" + kPlatform + "_mw-wrapper";

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

class BareHostTest : public ::testing::Test {
 protected:
  test::ScratchDir root_dir;
  PrivateKey key = PrivateKey::generate();
  std::string root;
  std::string slot;
  std::vector<std::pair<std::string, std::string>> libraries;  // (file, soname) the app version ships

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root (CI runs as root)";
    root = root_dir.path();
    slot = root + "/slots/0";
    // What install ships with this wrapper: found the way mw-project-setup finds it.
    auto needs = setup::wrapper_needs(MW_WRAPPER, kPlatform, {}, detail::system_library_dirs());
    ASSERT_TRUE(needs.problems.empty()) << needs.problems.front();
    libraries = needs.libraries;
    build_glibc_root();
  }

  // The dynamic loader where the wrapper's PT_INTERP says, and each of glibc's
  // own libraries where the build machine has it (the loader's default
  // directories), as real files. Nothing else.
  void build_glibc_root() {
    const std::string interp = detail::inspect_elf(MW_WRAPPER).interpreter;
    ASSERT_FALSE(interp.empty());
    make_dirs(root + interp.substr(0, interp.rfind('/')));
    copy_file(real(interp), root + interp, 0755);
    for (const auto& name : detail::glibc_baseline()) {
      for (const auto& dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"}) {
        const std::string from = std::string(dir) + "/" + name;
        if (!detail::path_exists(from)) continue;
        make_dirs(root + dir);
        copy_file(real(from), root + from, 0755);
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
    copy_file(MW_WRAPPER, root + "/" + kProjectDir + "/" + kWrapperPhysical, 0755);
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
      const std::string program = "../../" + kProjectDir + "/" + kWrapperPhysical;
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
    t.bundled_program(MW_TASK_PROBE_LEAN, "task_probe").args({"out", "ran"});
    t.write_bundle(slot + "/task.zip", key);
    Run r = run_wrapper();
    EXPECT_EQ(r.exit_code, 127) << r.early << r.stderr_txt;
    EXPECT_THAT(r.early, HasSubstr("error while loading shared libraries: " + soname)) << r.early;
    EXPECT_FALSE(detail::path_exists(slot + "/result.zip"));
  }
};

TEST_F(BareHostTest, ExecTaskRunsWithOnlyGlibcOnTheHost) {
  install_app_version();
  // The task's own program must run there too: task_probe_lean has libstdc++ and libgcc linked in.
  ASSERT_THAT(detail::library_closure(MW_TASK_PROBE_LEAN, {}, {}).missing, ::testing::IsEmpty());
  TaskBuilder t("bare-exec");
  t.bundled_program(MW_TASK_PROBE_LEAN, "task_probe")
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

TEST_F(BareHostTest, FunctionTaskOfALeanWorkerRunsWithOnlyGlibcOnTheHost) {
  install_app_version();
  EXPECT_EQ(detail::volunteer_program_warning(MW_LEAN_WORKER), "") << "masters ship it without a warning";
  auto lean = detail::library_closure(MW_LEAN_WORKER, {}, {});
  ASSERT_THAT(lean.missing, ::testing::IsEmpty()) << "a lean worker needs nothing beyond glibc";
  // Its glibc floor stays at the toolchain's lowest (docs/wrapper.md): 2.35 with GCC 12.
  EXPECT_LE(detail::compare_versions(lean.glibc_floor, "2.35"), 0)
      << "GLIBC_" << lean.glibc_floor << " from " << lean.glibc_floor_from;
  // As BOINC ships it: the program a separate (sticky) file, mw_program in the slot.
  TaskBuilder t("bare-function");
  t.bundled_program(MW_LEAN_WORKER).function("sum_of_squares");
  t.file_bytes(kArgsMember, encode_values(std::uint64_t{1000}), FileRole::input);
  t.output(kValueMember, 1 << 20);
  t.write_bundle_without_programs(slot + "/task.zip", key);
  copy_file(MW_LEAN_WORKER, slot + "/mw_program", 0755);
  Run r = run_wrapper();
  ASSERT_EQ(r.exit_code, 0) << r.early << r.stderr_txt;
  ResultBundle result = ResultBundle::open(slot + "/result.zip");
  ASSERT_EQ(result.manifest().status, ResultStatus::success) << result.manifest().reason;
  EXPECT_EQ(decode_value<std::uint64_t>(result.read_output(kValueMember), "value.bin"),
            std::uint64_t{1000} * 1001 * 2001 / 6);
}

// The proof that the root is bare: leave one shipped library out and the
// wrapper cannot even start — the failure volunteers saw.
TEST_F(BareHostTest, ALibraryMissingFromTheAppVersionStopsTheWrapper) {
  install_app_version("libzip.so.4");
  probe_missing_library("libzip.so.4");
}

TEST_F(BareHostTest, TheCppRuntimeMissingFromTheAppVersionStopsTheWrapper) {
  install_app_version("libstdc++.so.6");
  probe_missing_library("libstdc++.so.6");
}

}  // namespace
}  // namespace mw
