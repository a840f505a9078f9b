// bench_submit — native bulk create_work against BOINC's own, on a private MariaDB.
//
// Prints JSON lines (see bench/README.md):
//   submit/tasks_per_s, submit/seconds   N tasks, each staging a unique 1 KB input
//   submit/vs_floor                      that rate over the floor's, same N, same run
//   submit_inline/…                      the same 1 KB inputs in the workunits'
//                                        command lines (how inline tasks travel)
//   submit_tasks_inline|_files/…         the product's path (TaskSubmitter): N signed
//                                        tasks with a 1 KB input each, in the
//                                        workunit's command line or as files
//   floor/floor_files_per_s …            N 1 KB files created + one syncfs, the
//                                        simplest durable way (bench_common.h),
//                                        just before each case ("before")
//   insert_only/tasks_per_s              N tasks sharing one staged input
//   libsched_create_work/tasks_per_s     BOINC's create_work() per task, in process
//   memory/rss_kb                        resident size after each N (flat in N?)
//   …/client_cpu_s, …/server_cpu_s       CPU seconds of this process and of
//                                        mariadbd during each submission
//
// The download trees go under --root (default: the build tree, on the
// machine's normal file system, where a BOINC server keeps its project);
// `--root /dev/shm` measures tmpfs. Every line names the file system.
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "bench_common.h"
#include "boinc/create_work_oracle.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/inline_task.h"
#include "mw/boinc/staging.h"
#include "mw/boinc/task_submitter.h"
#include "mw/boinc/work_creator.h"
#include "mw/bundle.h"
#include "mw/signing.h"
#include "support/boinc_project.h"
#include "support/private_mariadb.h"
#include "util/fs.h"

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

// CPU seconds (user + system) of a process, from /proc; -1 if unknown.
double cpu_seconds_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return -1;
  // Fields after the command name (which may hold blanks): state is the 3rd,
  // utime and stime the 14th and 15th.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i >= 14) ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// CPU spent during one submission by this process (all threads; the kernel's
// file work included) and by the MariaDB server: figures the machine's other
// load does not move the way it moves the wall clock.
class CpuMeter {
 public:
  CpuMeter() : server_(mw::test::PrivateMariaDb::shared().pid()) { restart(); }
  void restart() {
    own_ = own_cpu_seconds();
    server_at_ = server_ > 0 ? cpu_seconds_of(server_) : -1;
  }
  void emit(const std::string& metric, const nlohmann::json& params) const {
    mw::bench::emit(metric, "client_cpu_s", own_cpu_seconds() - own_, "s", params);
    if (server_at_ >= 0) mw::bench::emit(metric, "server_cpu_s", cpu_seconds_of(server_) - server_at_, "s", params);
  }

 private:
  pid_t server_;
  double own_ = 0, server_at_ = -1;
};

std::string payload(std::size_t i) {
  std::string p(1024, 'x');
  std::snprintf(p.data(), p.size(), "task %zu input", i);
  return p;
}

// Where the download trees go (--root).
std::string g_root;

std::string file_system_of(const std::string& dir) { return mw::bench::file_system_type(dir); }

// Trees measured and not yet removed. This VM's ext4 has no journal, and
// without one ext4 skips every inode freed in the last minute (or more) when
// it allocates one — scanning past each, ~0.1–0.3 ms per file created after a
// 10^4-file removal. So nothing is removed between a floor and the
// submission compared with it: all of one size's trees go afterwards.
std::vector<std::string> g_measured_trees;

void remove_measured_trees() {
  for (const std::string& tree : g_measured_trees) mw::bench::remove_tree(tree);
  g_measured_trees.clear();
}

// An empty download directory under --root, removed by remove_measured_trees().
std::string fresh_download_dir() {
  static int count = 0;
  const std::string download =
      g_root + "/mw-bench-download-" + std::to_string(::getpid()) + "-" + std::to_string(count++);
  mw::bench::remove_tree(download);
  ::mkdir(download.c_str(), 0755);
  g_measured_trees.push_back(download);
  return download;
}

// A project that has run a while has every fan-out directory; the one-time
// cost of making them (1,024 mkdirs, ~0.5 s on this VM's ext4) is not
// per-submission work, and the floor does not pay it either.
void make_fanout_dirs(const std::string& download, int fanout) {
  for (int d = 0; d < fanout; ++d) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%x", d);
    ::mkdir((download + "/" + hex).c_str(), 0771);
  }
}

// How the N workunits of bench_native get their 1 KB input.
enum class Input {
  staged,  // a unique file each, staged in the download hierarchy ("submit")
  inline_, // a unique one each, base64 in the workunit's command line, as an
           // inline task travels ("submit_inline"; mw/boinc/inline_task.h)
  shared,  // one staged file for all: the insert path alone ("insert_only")
};

// N workunits through WorkCreator in one submit. Returns tasks/s; prints
// nothing when `quiet` (the warm-up).
double bench_native(std::size_t n, Input input, bool quiet = false) {
  static const char* const metrics[] = {"submit", "submit_inline", "insert_only"};
  const std::string metric = metrics[static_cast<int>(input)];
  mw::test::BoincTestProjectOptions options;
  const std::string download = fresh_download_dir();
  options.download_dir = download;
  mw::test::BoincTestProject project((quiet ? "b_warmup_" : "b_" + metric + "_") + std::to_string(n), options);
  make_fanout_dirs(download, project.config().uldl_dir_fanout);
  auto db = project.database();
  WorkCreator creator(project.config(), *db, "mw",
                      InputTemplate::parse(mw::test::test_input_template(), "mw_in.xml"),
                      "templates/mw_out.xml");
  const InputTemplate no_files = InputTemplate::parse(
      mw::detail::read_file(project.dir() + "/templates/mw_in_inline.xml"), "mw_in_inline.xml");
  Stager stager(project.config());
  StagedFile shared;
  if (input == Input::shared) {
    shared = stager.stage_bytes("shared_input", payload(0));
    stager.commit();
    stager.forget();
  }
  const long rss_before = rss_kb();
  CpuMeter cpu;
  const auto t0 = Clock::now();
  const std::int64_t batch = creator.create_batch("bench");
  std::size_t i = 0;
  creator.submit(batch, WorkunitSettings{}, [&](JobSpec& job) {
    if (i == n) return false;
    job.name = "bench_" + std::to_string(i);
    switch (input) {
      case Input::staged: {
        StagedFile f = stager.stage_bytes(job.name + ".task.zip", payload(i));
        job.files = {InputFile::known(f.name, f.digest)};
        break;
      }
      case Input::inline_:
        job.files.clear();
        job.command_line = std::string(kInlineTaskOption) + " " + encode_inline_task(payload(i));
        job.input_template = &no_files;
        break;
      case Input::shared:
        job.files = {InputFile::known(shared.name, shared.digest)};
        break;
    }
    ++i;
    return true;
  }, &stager);
  const double s = seconds_since(t0);
  if (quiet) return n / s;
  nlohmann::json params{{"tasks", n}, {"input_bytes", 1024}, {"unique_inputs", input != Input::shared},
                        {"download_fs", file_system_of(download)}};
  mw::bench::emit(metric, "tasks_per_s", n / s, "tasks/s", params);
  mw::bench::emit(metric, "seconds", s, "s", params);
  mw::bench::emit(metric, "rss_growth_kb", static_cast<double>(rss_kb() - rss_before), "KiB", params);
  cpu.emit(metric, params);
  return n / s;
}

// The product's path (mw::boinc::TaskSubmitter, as mw::boinc::Local and
// mw-work-generator use it): N tasks of /bin/echo, each with a unique 1 KB
// input file in its bundle, built, signed and submitted. `inline_tasks`: the
// project has templates/mw_in_inline*.xml, so each bundle (~1.7 KB) travels
// in its workunit's command line; else each is a staged file, as before.
// Returns tasks/s.
double bench_task_submitter(std::size_t n, bool inline_tasks) {
  mw::test::BoincTestProjectOptions options;
  const std::string download = fresh_download_dir();
  options.download_dir = download;
  mw::test::BoincTestProject project("b_tasks_" + std::to_string(n) + (inline_tasks ? "_i" : "_f"), options);
  make_fanout_dirs(download, project.config().uldl_dir_fanout);
  if (!inline_tasks)
    for (const char* name : {"mw_in_inline.xml", "mw_in_inline_program.xml"})
      ::unlink((project.dir() + "/templates/" + name).c_str());
  auto db = project.database();
  auto key = std::make_shared<const mw::PrivateKey>(mw::PrivateKey::generate());
  TaskSubmitter submitter(project.config(), *db, "mw", key);
  CpuMeter cpu;
  const auto t0 = Clock::now();
  const std::int64_t batch = submitter.creator().create_batch("bench");
  std::size_t i = 0;
  submitter.submit(batch, WorkunitSettings{}, [&](PendingTask& pending) {
    if (i == n) return false;
    pending.wu_name = "task_" + std::to_string(i);
    auto task = std::make_shared<mw::TaskBuilder>(pending.wu_name);
    task->host_program("/bin/echo").arg("in.dat").file_bytes("in.dat", payload(i));
    pending.builder = std::move(task);
    ++i;
    return true;
  });
  const double s = seconds_since(t0);
  nlohmann::json params{{"tasks", n}, {"input_bytes", 1024}, {"inline", inline_tasks},
                        {"download_fs", file_system_of(download)}};
  const std::string metric = inline_tasks ? "submit_tasks_inline" : "submit_tasks_files";
  mw::bench::emit(metric, "tasks_per_s", n / s, "tasks/s", params);
  mw::bench::emit(metric, "seconds", s, "s", params);
  cpu.emit(metric, params);
  return n / s;
}

// BOINC's create_work() per task: stage the file, then one call (one INSERT).
void bench_libsched(std::size_t n) {
  mw::test::BoincTestProjectOptions options;
  const std::string download = fresh_download_dir();
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
  remove_measured_trees();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Native bulk create_work (mw::boinc::WorkCreator) against libsched's create_work(), "
               "on the tests' private MariaDB, with the small-file floor of the same file system",
               "bench_submit"};
  g_root = mw::bench::default_root();
  std::vector<std::size_t> sizes{100, 1000, 10000, 100000};
  bool quick = false;
  std::vector<std::string> cases{"libsched", "submit", "submit-inline", "tasks-files", "tasks-inline",
                                 "insert-only"};
  int repeats = 1;
  bool warm_up = true;
  app.add_option("--root", g_root, "directory the download trees go under (its file system is measured)")
      ->capture_default_str();
  std::string db_root;
  app.add_option("--db-root", db_root,
                 "directory the private MariaDB's datadir goes under, e.g. the --root file system as on a "
                 "real server (default: $TMPDIR, else /tmp)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--sizes", sizes, "submission sizes (tasks) for the unique-input figures")
      ->capture_default_str()->delimiter(',');
  app.add_flag("--quick", quick, "sizes up to 10^4 only");
  app.add_flag("!--no-warm-up", warm_up,
               "take the first figure from a server that has just started (by default 10^4 workunits "
               "are submitted first, not timed)");
  app.add_option("--repeats", repeats, "runs of each size, floor and submission alternated")
      ->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--cases", cases,
                 "what to measure: libsched (create_work() per task, 10^2 and 10^3), submit (WorkCreator, "
                 "a staged 1 KB input per task), submit-inline (the same 1 KB in each workunit's command "
                 "line), tasks-files / tasks-inline (TaskSubmitter: signed tasks "
                 "as files / in the command line), insert-only (one shared input, 10^4 and 10^5)")
      ->capture_default_str()->delimiter(',')
      ->check(CLI::IsMember({"libsched", "submit", "submit-inline", "tasks-files", "tasks-inline", "insert-only"}));
  if (const int rc = mw::bench::parse_options(app, argc, argv); rc >= 0) return rc;
  // The private MariaDB as a stock server runs (durable commits, default
  // buffer pool), so the per-task reference pays what it pays on a real one.
  ::setenv("MW_TEST_MARIADB_SERVER_DEFAULTS", "1", 0);
  if (!db_root.empty()) ::setenv("MW_TEST_MARIADB_ROOT", db_root.c_str(), 1);
  try {
    ::mkdir(g_root.c_str(), 0755);
    const std::string db_fs = file_system_of(mw::test::PrivateMariaDb::shared().directory());
    std::fprintf(stderr, "bench_submit: download trees under %s (%s), the server's datadir in %s (%s)\n",
                 g_root.c_str(), file_system_of(g_root).c_str(),
                 mw::test::PrivateMariaDb::shared().directory().c_str(), db_fs.c_str());
    mw::bench::emit_object({{"bench", "submit"}, {"metric", "db_file_system"}, {"value", db_fs},
                            {"db_dir", mw::test::PrivateMariaDb::shared().directory()}});
    auto want = [&](const char* c) { return std::find(cases.begin(), cases.end(), c) != cases.end(); };
    const nlohmann::json fs{{"download_fs", file_system_of(g_root)}, {"db_fs", db_fs}};
    auto vs_floor = [&](const char* bench, double rate, const mw::bench::FileFloor& floor, std::size_t n) {
      nlohmann::json params = fs;
      params["tasks"] = n;
      mw::bench::emit(bench, "vs_floor", rate / floor.files_per_s, "ratio", params);
    };
    // A server that has just started pays for its first rows' memory (the
    // buffer pool's pages are touched for the first time, each a page fault):
    // the first 10^4-task submission of a run took 3x as long as the next
    // ones. A project's server has been running; so has this one before any
    // figure is taken.
    if (warm_up) {
      std::fprintf(stderr, "bench_submit: warming the server up (10^4 workunits, not timed)\n");
      bench_native(10000, Input::inline_, true);
      remove_measured_trees();
    }
    if (want("libsched"))
      for (std::size_t n : {100u, 1000u}) bench_libsched(n);
    for (std::size_t n : sizes) {
      if (quick && n > 10000) continue;
      for (int r = 0; r < repeats; ++r) {
        // The floor just before each case, and nothing removed in between:
        // the file system's state (above all the inodes freed lately) moves
        // within a minute, so a floor taken once would be compared with
        // submissions that met another one.
        auto floor_of = [&](const char* bench, const char* name, const mw::bench::FloorShape& shape) {
          std::string floor_tree;
          const auto floor = mw::bench::measure_file_floor(g_root, n, 1024, 1024, &floor_tree, shape);
          g_measured_trees.push_back(floor_tree);
          mw::bench::emit_file_floor(name, floor, g_root, n, 1024, {{"tasks", n}, {"before", bench}}, shape);
          return floor;
        };
        auto measured = [&](const char* c, const char* bench, const std::function<double()>& run) {
          if (!want(c)) return;
          // The staged path makes two files per task (the input and the
          // NAME.md5 BOINC's file_deleter expects), each under a temp name
          // first: besides the floor of one file per task, the floors of the
          // same two files, plain and renamed into place as it must do.
          mw::bench::FileFloor pair, pair_renamed;
          const bool staged = std::string(bench) == "submit";
          if (staged) {
            const std::size_t side = format_md5_info(FileDigest{std::string(32, '0'), 1024}).size();
            pair = floor_of(bench, "floor_pair", {side, false});
            pair_renamed = floor_of(bench, "floor_pair_renamed", {side, true});
          }
          const auto floor = floor_of(bench, "floor", {});
          const double rate = run();
          vs_floor(bench, rate, floor, n);
          if (staged) {
            nlohmann::json params = fs;
            params["tasks"] = n;
            mw::bench::emit(bench, "vs_floor_pair", rate / pair.files_per_s, "ratio", params);
            mw::bench::emit(bench, "vs_floor_pair_renamed", rate / pair_renamed.files_per_s, "ratio", params);
          }
        };
        measured("submit", "submit", [&] {
          const double rate = bench_native(n, Input::staged);
          mw::bench::emit("memory", "rss_kb", static_cast<double>(rss_kb()), "KiB", {{"after_tasks", n}});
          return rate;
        });
        measured("submit-inline", "submit_inline", [&] { return bench_native(n, Input::inline_); });
        measured("tasks-files", "submit_tasks_files", [&] { return bench_task_submitter(n, false); });
        measured("tasks-inline", "submit_tasks_inline", [&] { return bench_task_submitter(n, true); });
        remove_measured_trees();
      }
    }
    if (want("insert-only"))
      for (std::size_t n : {10000u, 100000u}) {
        if (quick && n > 10000) break;
        bench_native(n, Input::shared);
        remove_measured_trees();
      }
  } catch (const std::exception& e) {
    remove_measured_trees();
    std::fprintf(stderr, "bench_submit: %s\n", e.what());
    return 1;
  }
  return 0;
}
