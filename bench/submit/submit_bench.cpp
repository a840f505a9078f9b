// bench_submit — native bulk create_work against BOINC's own, on a private MariaDB.
//
// Prints JSON lines (see bench/README.md):
//   submit/tasks_per_s, submit/seconds   N tasks, each staging a unique 1 KB input
//   insert_only/tasks_per_s              N tasks sharing one staged input
//   libsched_create_work/tasks_per_s     BOINC's create_work() per task, in process
//   memory/rss_kb                        resident size after each N (flat in N?)
//
//   bench_submit [--quick] [--download-root DIR | --download-root-default]
//     --quick: 10^2..10^4 only; --download-root: where the download trees go
//     (default /dev/shm); --download-root-default: under $TMPDIR instead
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "bench_common.h"
#include "boinc/create_work_oracle.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/staging.h"
#include "mw/boinc/work_creator.h"
#include "support/boinc_project.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace mw::boinc;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::string payload(std::size_t i) {
  std::string p(1024, 'x');
  std::snprintf(p.data(), p.size(), "task %zu input", i);
  return p;
}

// Where the download trees go: --download-root DIR (default /dev/shm, a
// tmpfs, when it exists: file creation on this class of VM's ext4 costs about
// 0.5 ms of kernel CPU per file and would measure the disk, not mwkit).
std::string g_download_root;

std::string file_system_of(const std::string& dir) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0) return "unknown";
  return st.f_type == TMPFS_MAGIC ? "tmpfs" : st.f_type == EXT4_SUPER_MAGIC ? "ext4" : "other";
}

// N tasks, each with its own staged 1 KB input, in one submit.
void bench_native(std::size_t n, bool unique_inputs) {
  mw::bench::BenchDir download_parent;  // removed afterwards
  mw::test::BoincTestProjectOptions options;
  std::string download = g_download_root.empty() ? download_parent / "download"
                                                  : g_download_root + "/mw-bench-download";
  mw::bench::remove_tree(download);
  ::mkdir(download.c_str(), 0755);
  options.download_dir = download;
  mw::test::BoincTestProject project("b_submit_" + std::to_string(n) + (unique_inputs ? "_u" : "_s"),
                                     options);
  auto db = project.database();
  WorkCreator creator(project.config(), *db, "mw",
                      InputTemplate::parse(mw::test::test_input_template(), "mw_in.xml"),
                      "templates/mw_out.xml");
  Stager stager(project.config());
  StagedFile shared;
  if (!unique_inputs) {
    shared = stager.stage_bytes("shared_input", payload(0));
    stager.commit();
    stager.forget();
  }
  const long rss_before = rss_kb();
  const auto t0 = Clock::now();
  const std::int64_t batch = creator.create_batch("bench");
  std::size_t i = 0;
  creator.submit(batch, WorkunitSettings{}, [&](JobSpec& job) {
    if (i == n) return false;
    job.name = "bench_" + std::to_string(i);
    if (unique_inputs) {
      StagedFile f = stager.stage_bytes(job.name + ".task.zip", payload(i));
      job.files = {InputFile::known(f.name, f.digest)};
    } else {
      job.files = {InputFile::known(shared.name, shared.digest)};
    }
    ++i;
    return true;
  }, &stager);
  const double s = seconds_since(t0);
  const std::string metric = unique_inputs ? "submit" : "insert_only";
  nlohmann::json params{{"tasks", n}, {"input_bytes", 1024}, {"unique_inputs", unique_inputs},
                        {"download_fs", file_system_of(download)}};
  mw::bench::emit(metric, "tasks_per_s", n / s, "tasks/s", params);
  mw::bench::emit(metric, "seconds", s, "s", params);
  mw::bench::emit(metric, "rss_growth_kb", static_cast<double>(rss_kb() - rss_before), "KiB", params);
  mw::bench::remove_tree(download);
}

// BOINC's create_work() per task: stage the file, then one call (one INSERT).
void bench_libsched(std::size_t n) {
  mw::bench::BenchDir download_parent;
  mw::test::BoincTestProjectOptions options;
  const std::string download = g_download_root.empty() ? download_parent / "download"
                                                        : g_download_root + "/mw-bench-download";
  mw::bench::remove_tree(download);
  ::mkdir(download.c_str(), 0755);
  options.download_dir = download;
  mw::test::BoincTestProject project("b_libsched_" + std::to_string(n), options);
  std::string why;
  if (oracle::open_project(project.dir(), why) != 0) throw std::runtime_error("libsched: " + why);
  const std::string tmpl = mw::test::test_input_template();
  auto db = project.database();
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    oracle::CreateWorkJob job;
    job.appid = static_cast<int>(project.app_id());
    job.name = "boinc_" + std::to_string(i);
    const std::string file = job.name + ".task.zip";
    // Staging as BOINC's tools do it: write the file into the hierarchy.
    std::ofstream(make_dir_hier_path(file, project.config().download_dir, 1024), std::ios::binary)
        << payload(i);
    job.infiles = {file};
    if (oracle::create_work(job, tmpl, "templates/mw_out.xml", project.dir()) != 0)
      throw std::runtime_error("libsched create_work failed for " + job.name);
  }
  const double s = seconds_since(t0);
  oracle::close_project();
  nlohmann::json params{{"tasks", n}, {"input_bytes", 1024}, {"unique_inputs", true},
                        {"download_fs", file_system_of(download)}};
  mw::bench::emit("libsched_create_work", "tasks_per_s", n / s, "tasks/s", params);
  mw::bench::emit("libsched_create_work", "seconds", s, "s", params);
  mw::bench::remove_tree(download);
}

}  // namespace

int main(int argc, char** argv) {
  // The private MariaDB as a stock server runs (durable commits, default
  // buffer pool), so the per-task reference pays what it pays on a real one.
  ::setenv("MW_TEST_MARIADB_SERVER_DEFAULTS", "1", 0);
  bool quick = false;
  struct stat st {};
  if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)) g_download_root = "/dev/shm";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--download-root") == 0 && i + 1 < argc) g_download_root = argv[++i];
    else if (std::strcmp(argv[i], "--download-root-default") == 0) g_download_root.clear();
  }
  try {
    for (std::size_t n : {100u, 1000u}) bench_libsched(n);
    for (std::size_t n : {100u, 1000u, 10000u, 100000u}) {
      if (quick && n > 10000) break;
      bench_native(n, true);
      mw::bench::emit("memory", "rss_kb", static_cast<double>(rss_kb()), "KiB", {{"after_tasks", n}});
    }
    for (std::size_t n : {10000u, 100000u}) {
      if (quick && n > 10000) break;
      bench_native(n, false);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_submit: %s\n", e.what());
    return 1;
  }
  return 0;
}
