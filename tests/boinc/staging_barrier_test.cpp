// The durability barriers of a submission (mw/boinc/staging.h) are really
// taken, in the right places: this test binary interposes syncfs(2) — its
// own definition wins over libc's for every caller in the process — to
// count the calls, look at the download tree and the database at each one,
// and fail a chosen one with EIO. A submission whose barrier fails must leave
// no workunit row and no file behind, and say which directory and why.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <set>
#include <string>

#include "mw/boinc/staging.h"
#include "mw/boinc/work_creator.h"
#include "mw/error.h"
#include "support/boinc_project.h"
#include "support/test_support.h"

namespace {

std::atomic<int> g_syncfs_calls{0};
int g_fail_call = 0;                           // 1-based; 0: never fail
std::function<void(int call)> g_at_syncfs;     // runs before the real syncfs

}  // namespace

extern "C" int syncfs(int fd) {
  using Real = int (*)(int);
  static const Real real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "syncfs"));
  const int call = ++g_syncfs_calls;
  if (g_at_syncfs) g_at_syncfs(call);
  if (call == g_fail_call) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

namespace mw::boinc {
namespace {

using mw::test::BoincTestProject;

std::set<std::string> files_below(const std::string& dir) {
  auto files = mw::test::list_files(dir);
  return {files.begin(), files.end()};
}

std::size_t count_containing(const std::set<std::string>& files, const std::string& part) {
  std::size_t n = 0;
  for (const auto& f : files) n += f.find(part) != std::string::npos;
  return n;
}

struct BarrierTest : ::testing::Test {
  void SetUp() override {
    g_syncfs_calls = 0;
    g_fail_call = 0;
    g_at_syncfs = nullptr;
  }
  void TearDown() override {
    g_fail_call = 0;
    g_at_syncfs = nullptr;
  }

  // Submits `n` jobs with one unique staged input each; returns the batch.
  std::int64_t submit(BoincTestProject& project, Database& db, int n) {
    WorkCreator creator(project.config(), db, "mw",
                        InputTemplate::parse(mw::test::test_input_template(), "test input template"),
                        "templates/mw_out.xml");
    batch_ = creator.create_batch("barrier");
    Stager stager(project.config());
    int made = 0;
    creator.submit(batch_, WorkunitSettings{}, [&](JobSpec& job) {
      if (made == n) return false;
      job.name = "barrier_" + std::to_string(made++);
      StagedFile f = stager.stage_bytes(job.name + ".task.zip", std::string(1024, 'a' + made % 26));
      job.files = {InputFile::known(f.name, f.digest)};
      return true;
    }, &stager);
    return batch_;
  }

  std::string rows_of_batch(const BoincTestProject& project) const {
    return project.rows("SELECT COUNT(*) AS n FROM workunit WHERE batch = " + std::to_string(batch_))[0]["n"];
  }

  std::int64_t batch_ = 0;
};

TEST_F(BarrierTest, FilesAreDurableBeforeTheyGetTheirNamesAndNamedBeforeTheCommit) {
  BoincTestProject project("t_barrier_order");
  auto db = project.database();
  const std::string download = project.config().download_dir;
  std::vector<std::set<std::string>> seen;  // the download tree at each syncfs
  std::vector<std::string> rows_seen;       // the batch's rows, from another connection
  g_at_syncfs = [&](int) {
    seen.push_back(files_below(download));
    rows_seen.push_back(rows_of_batch(project));
  };
  submit(project, *db, 50);
  g_at_syncfs = nullptr;
  ASSERT_EQ(g_syncfs_calls.load(), 2) << "one barrier before the renames, one after";
  // First barrier: every file still under its hidden temp name.
  EXPECT_EQ(count_containing(seen[0], ".mwstage."), 100u) << "50 files and their .md5 side files";
  EXPECT_EQ(count_containing(seen[0], ".task.zip"), 100u);
  // Second barrier: every file under its final name, and no row committed yet.
  EXPECT_EQ(count_containing(seen[1], ".mwstage."), 0u);
  EXPECT_EQ(count_containing(seen[1], ".task.zip"), 100u);
  EXPECT_EQ(rows_seen[1], "0") << "the rows must not be committed before the files are durable";
  EXPECT_EQ(rows_of_batch(project), "50");
}

class FailedBarrier : public BarrierTest, public ::testing::WithParamInterface<int> {};
INSTANTIATE_TEST_SUITE_P(Which, FailedBarrier, ::testing::Values(1, 2),
                         [](const auto& info) { return info.param == 1 ? "BeforeRenames" : "AfterRenames"; });

TEST_P(FailedBarrier, IsAClearErrorAndLeavesNoRowAndNoFile) {
  BoincTestProject project("t_barrier_fail_" + std::to_string(GetParam()));
  auto db = project.database();
  const std::string download = project.config().download_dir;
  const auto before = files_below(download);
  g_fail_call = GetParam();
  const std::string msg = mw::test::error_of([&] { submit(project, *db, 50); }, Errc::io);
  EXPECT_NE(msg.find("syncfs"), std::string::npos) << msg;
  EXPECT_NE(msg.find(download), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam() == 1 ? "before renaming" : "after renaming"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Input/output error"), std::string::npos) << msg;
  EXPECT_EQ(rows_of_batch(project), "0");
  EXPECT_EQ(files_below(download), before) << "neither temp files nor final names may be left";
}

}  // namespace
}  // namespace mw::boinc
