// bench_wrapper — what mw-wrapper adds to a task: a null task with a 1 KB and a
// 10 MB bundle, run through the wrapper in BOINC standalone mode, against
// exec'ing the same program directly. Each repeat runs the two back to back.
//
//   bench_wrapper [--quick] [--repeats N] [--wrapper PATH]
//
// --wrapper runs another build of mw-wrapper (e.g. the one before a change)
// under the same settings.
//
// Instants (CLOCK_REALTIME, so that separate processes agree): fork; the
// task's first and last instruction (null_task records both); the wrapper's
// call of boinc_finish (stamped by finish_stamp, preloaded into the wrapper);
// the process reaped. Figures, JSON lines, medians over the repeats:
//
//   wrapper start_to_exec_ms    fork -> the task's first instruction
//   wrapper exit_to_finish_ms   the task's last instruction -> boinc_finish:
//                               result bundle written and synced, slot cleaned
//   wrapper boinc_finish_ms     boinc_finish -> reaped: the BOINC API's own
//                               exit (7.20 sleeps 2 s in it, standalone too)
//   wrapper total_ms            fork -> reaped
//   direct  start_to_exec_ms, exit_to_reaped_ms, total_ms
//   start_to_exec_overhead_ms   wrapper start_to_exec - direct start_to_exec
//   overhead_ms                 (wrapper fork -> boinc_finish) - direct total:
//                               everything the wrapper adds, BOINC's exit aside
//
// Differences are taken within each back-to-back pair; each line gives the
// median as its value and the best run as "min".
// Target (issue 7): overhead_ms <= 20 with the 10 MB bundle.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"
#include "mw/bundle.h"
#include "mw/signing.h"

namespace {

using mw::bench::emit;

long long realtime_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

double ms_between(long long from_ns, long long to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e6;
}

struct Run {
  long long fork_ns = 0;
  long long exec_ns = 0;     // the task's first instruction
  long long task_end_ns = 0; // the task's last instruction
  long long finish_ns = 0;   // boinc_finish called (wrapper runs only)
  long long reaped_ns = 0;
};

// Runs argv in `cwd` (exec, no shell, output to /dev/null) with `env` added;
// the null task writes its start and end times to `stamp_file`.
Run run_timed(const std::vector<std::string>& argv, const std::string& cwd,
              const std::vector<std::string>& env, const std::string& stamp_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::unlink(stamp_file.c_str());
  Run run;
  run.fork_ns = realtime_ns();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  run.reaped_ns = realtime_ns();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(argv[0] + std::string(" failed in ") + cwd);
  std::ifstream(stamp_file) >> run.exec_ns >> run.task_end_ns;
  if (run.exec_ns == 0 || run.task_end_ns == 0)
    throw std::runtime_error("the null task left no times in " + stamp_file);
  return run;
}

long long read_stamp(const std::string& path) {
  long long ns = 0;
  std::ifstream(path) >> ns;
  if (ns == 0) throw std::runtime_error("no time in " + path + " (was finish_stamp preloaded?)");
  return ns;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The median as the figure, the best run beside it: on a shared machine the
// minimum is the closest to what the code itself costs.
void emit_ms(const std::string& metric, const std::vector<double>& v, nlohmann::json params) {
  params["min"] = *std::min_element(v.begin(), v.end());
  emit("wrapper", metric, median(v), "ms", std::move(params));
}

void write_random(const std::string& path, std::size_t size) {
  std::mt19937_64 rng(7);
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(&bytes[i], &v, 8);
  }
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
}

void bench_size(const std::string& wrapper, std::size_t payload, const std::string& label,
                int repeats) {
  mw::bench::BenchDir dir;
  const std::string slot = dir / "slot";
  const std::string stamp = dir / "stamp";
  const std::string finish_stamp = dir / "finish_stamp";
  mkdir(slot.c_str(), 0700);
  write_random(dir / "payload.bin", payload);

  const mw::PrivateKey key = mw::PrivateKey::generate();
  std::ofstream(slot + "/mw_task_public.pem") << key.public_key().to_pem();
  mw::TaskBuilder task("null");
  task.bundled_program(MW_NULL_TASK, "null_task").arg(stamp).file(dir / "payload.bin");
  task.write_bundle(slot + "/task.zip", key);
  const std::vector<std::string> wrapper_env = {std::string("LD_PRELOAD=") + MW_FINISH_STAMP,
                                                "MW_BENCH_FINISH_STAMP=" + finish_stamp};

  std::vector<double> w_exec, w_exit_to_finish, w_finish, w_total;
  std::vector<double> d_exec, d_exit_to_reaped, d_total;
  std::vector<double> exec_overhead, overhead;
  for (int i = 0; i < repeats; ++i) {
    for (const char* left : {"result.zip", "boinc_finish_called", "stderr.txt"})
      ::unlink((slot + "/" + left).c_str());
    ::unlink(finish_stamp.c_str());
    Run w = run_timed({wrapper}, slot, wrapper_env, stamp);
    w.finish_ns = read_stamp(finish_stamp);
    struct stat st;
    if (stat((slot + "/result.zip").c_str(), &st) != 0)
      throw std::runtime_error("the wrapper left no result.zip in " + slot);
    Run d = run_timed({MW_NULL_TASK, stamp}, dir.path(), {}, stamp);

    w_exec.push_back(ms_between(w.fork_ns, w.exec_ns));
    w_exit_to_finish.push_back(ms_between(w.task_end_ns, w.finish_ns));
    w_finish.push_back(ms_between(w.finish_ns, w.reaped_ns));
    w_total.push_back(ms_between(w.fork_ns, w.reaped_ns));
    d_exec.push_back(ms_between(d.fork_ns, d.exec_ns));
    d_exit_to_reaped.push_back(ms_between(d.task_end_ns, d.reaped_ns));
    d_total.push_back(ms_between(d.fork_ns, d.reaped_ns));
    exec_overhead.push_back(w_exec.back() - d_exec.back());
    overhead.push_back(ms_between(w.fork_ns, w.finish_ns) - d_total.back());
  }
  const nlohmann::json common = {{"bundle", label}, {"payload_bytes", payload}, {"repeats", repeats}};
  nlohmann::json wrapped = common, direct = common;
  wrapped["mode"] = "wrapper";
  direct["mode"] = "direct";
  emit_ms("start_to_exec_ms", w_exec, wrapped);
  emit_ms("exit_to_finish_ms", w_exit_to_finish, wrapped);
  emit_ms("boinc_finish_ms", w_finish, wrapped);
  emit_ms("total_ms", w_total, wrapped);
  emit_ms("start_to_exec_ms", d_exec, direct);
  emit_ms("exit_to_reaped_ms", d_exit_to_reaped, direct);
  emit_ms("total_ms", d_total, direct);
  emit_ms("start_to_exec_overhead_ms", exec_overhead, common);
  emit_ms("overhead_ms", overhead, common);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mw-wrapper's cost over exec'ing a null task directly, 1 KB and 10 MB bundles, "
               "in BOINC's standalone mode", "bench_wrapper"};
  int repeats = 11;
  bool quick = false;
  std::string wrapper = MW_WRAPPER;
  app.add_flag("--quick", quick, "3 repeats");
  app.add_option("--repeats", repeats, "runs of each case (the median is reported)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--wrapper", wrapper, "the mw-wrapper to measure")->capture_default_str();
  if (const int rc = mw::bench::parse_options(app, argc, argv); rc >= 0) return rc;
  if (quick) repeats = 3;
  try {
    bench_size(wrapper, 1000, "1KB", repeats);
    bench_size(wrapper, 10 * 1000 * 1000, "10MB", repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_wrapper: %s\n", e.what());
    return 1;
  }
  return 0;
}
