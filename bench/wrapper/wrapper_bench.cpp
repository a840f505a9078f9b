// bench_wrapper — what mw-wrapper adds to a task: a null task with a 1 KB and a
// 10 MB bundle, run through the wrapper in BOINC standalone mode, against
// exec'ing the same program directly.
//
//   bench_wrapper [--quick] [--repeats N]
//
// Figures (JSON lines, medians): start_to_exec_ms — from fork of the wrapper
// (or the program) to the program's first instruction, as the program itself
// records it; to_finish_ms — fork to the wrapper's call of boinc_finish (the
// modification time of boinc_finish_called, so file-timestamp granularity,
// a few ms); total_ms — fork to exit; overhead_ms — wrapper to_finish minus
// direct total. The BOINC API (7.20) sleeps 2 s inside boinc_finish before it
// exits, in standalone mode too; that fixed cost is in total_ms, not in
// overhead_ms. Target (issue 7): overhead <= 20 ms with the 10 MB bundle.
// Times are CLOCK_REALTIME, to compare with file timestamps.
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

struct Timing {
  double start_to_exec_ms = 0;
  double total_ms = 0;
  long long start_ns = 0;
};

// Runs argv in `cwd` (exec, no shell, output to /dev/null); the program writes
// its own start time to `stamp_file`.
Timing run_timed(const std::vector<std::string>& argv, const std::string& cwd,
                 const std::string& stamp_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::unlink(stamp_file.c_str());
  const long long start = realtime_ns();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  const long long end = realtime_ns();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(argv[0] + std::string(" failed in ") + cwd);
  long long exec_ns = 0;
  std::ifstream(stamp_file) >> exec_ns;
  if (exec_ns == 0) throw std::runtime_error("the null task left no start time in " + stamp_file);
  return Timing{static_cast<double>(exec_ns - start) / 1e6, static_cast<double>(end - start) / 1e6,
                start};
}

// Milliseconds from `start_ns` to the last modification of `path`.
double ms_until_written(const std::string& path, long long start_ns) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error("no " + path);
  const long long written =
      static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return static_cast<double>(written - start_ns) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
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

void bench_size(std::size_t payload, const std::string& label, int repeats) {
  mw::bench::BenchDir dir;
  const std::string slot = dir / "slot";
  const std::string stamp = dir / "stamp";
  mkdir(slot.c_str(), 0700);
  write_random(dir / "payload.bin", payload);

  const mw::PrivateKey key = mw::PrivateKey::generate();
  std::ofstream(slot + "/mw_task_public.pem") << key.public_key().to_pem();
  mw::TaskBuilder task("null");
  task.bundled_program(MW_NULL_TASK, "null_task").arg(stamp).file(dir / "payload.bin");
  task.write_bundle(slot + "/task.zip", key);

  std::vector<double> wrapped_exec, wrapped_finish, wrapped_total, direct_exec, direct_total;
  for (int i = 0; i < repeats; ++i) {
    for (const char* left : {"result.zip", "boinc_finish_called", "stderr.txt"})
      ::unlink((slot + "/" + left).c_str());
    Timing w = run_timed({MW_WRAPPER}, slot, stamp);
    Timing d = run_timed({MW_NULL_TASK, stamp}, dir.path(), stamp);
    wrapped_exec.push_back(w.start_to_exec_ms);
    wrapped_finish.push_back(ms_until_written(slot + "/boinc_finish_called", w.start_ns));
    wrapped_total.push_back(w.total_ms);
    direct_exec.push_back(d.start_to_exec_ms);
    direct_total.push_back(d.total_ms);
  }
  const nlohmann::json wrapped = {{"bundle", label}, {"payload_bytes", payload}, {"mode", "wrapper"},
                                  {"repeats", repeats}};
  const nlohmann::json direct = {{"bundle", label}, {"payload_bytes", payload}, {"mode", "direct"},
                                 {"repeats", repeats}};
  emit("wrapper", "start_to_exec_ms", median(wrapped_exec), "ms", wrapped);
  emit("wrapper", "to_finish_ms", median(wrapped_finish), "ms", wrapped);
  emit("wrapper", "total_ms", median(wrapped_total), "ms", wrapped);
  emit("wrapper", "start_to_exec_ms", median(direct_exec), "ms", direct);
  emit("wrapper", "total_ms", median(direct_total), "ms", direct);
  emit("wrapper", "overhead_ms", median(wrapped_finish) - median(direct_total), "ms",
       {{"bundle", label}, {"payload_bytes", payload}, {"repeats", repeats}});
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 11;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      repeats = 3;
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_wrapper [--quick] [--repeats N]\n");
      return 2;
    }
  }
  try {
    bench_size(1000, "1KB", repeats);
    bench_size(10 * 1000 * 1000, "10MB", repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_wrapper: %s\n", e.what());
    return 1;
  }
  return 0;
}
