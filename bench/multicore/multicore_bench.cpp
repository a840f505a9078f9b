// bench_multicore — what the multicore interface costs and how it scales.
//
//   bench_multicore [--quick] [--only function|exec|table1|memory] [--status-server]
//
// Figures (JSON lines): null function tasks/s and us/task with 1 and 2
// workers over 10^5 tasks; null exec tasks (/bin/true) with 2 workers over
// 10^4, and in the same run `xargs -P2` and GNU `parallel -j2` running 10^4
// `true`; the paper's Table 1 (speedup and % of ideal for monte_pi and primes
// at 1, 2, 4, 8, 16 workers, by running the example programs); and master
// memory per queued task with 10^6 queued null tasks. --status-server adds
// null function tasks with MasterOptions::status_listen off and on (issue 22:
// the status server may cost at most 2%).
// Targets (issue 3): >= 50,000 null function tasks/s with 2 workers; exec tasks
// at least as fast as xargs -P2; monte_pi at 2 workers >= 97% of ideal;
// <= 512 bytes of master memory per queued task.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "bench_common.h"
#include "mw/master.h"
#include "mw/multicore.h"
#include "mw/worker.h"

extern char** environ;

void nothing() {}
MW_TASK(nothing);

void block_for(int seconds) { std::this_thread::sleep_for(std::chrono::seconds(seconds)); }
MW_TASK(block_for);

namespace {

using mw::bench::emit;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Null function tasks per second; with `status_listen`, the master serves its
// status page there and a reader takes /status.json and /metrics once a second
// meanwhile (a browser tab and a Prometheus scrape), so their cost is counted.
double null_function_rate(unsigned workers, unsigned long tasks, const std::string& status_listen = "") {
  mw::MasterOptions options;
  options.status_listen = status_listen;
  mw::Master master(mw::Multicore{workers}, options);
  master.get_result(master.submit_task(mw::fn("nothing"), mw::args()));  // workers started
  std::atomic<bool> done{false};
  std::thread reader;
  if (!status_listen.empty()) {
    reader = std::thread([&, address = master.status_address()] {
      const auto colon = address.rfind(':');
      httplib::Client client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
      while (!done) {
        for (const char* path : {"/status.json", "/metrics"})
          if (auto res = client.Get(path); !res || res->status != 200)
            std::fprintf(stderr, "bench_multicore: GET %s on %s failed\n", path, address.c_str());
        for (int i = 0; i < 100 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  auto start = Clock::now();
  for (unsigned long i = 0; i < tasks; ++i) master.submit_task(mw::fn("nothing"), mw::args());
  for (unsigned long i = 0; i < tasks; ++i) master.get_result();
  const double s = since(start);
  done = true;
  if (reader.joinable()) reader.join();
  return tasks / s;
}

void null_function_tasks(unsigned workers, unsigned long tasks) {
  const double rate = null_function_rate(workers, tasks);
  nlohmann::json p = {{"workers", workers}, {"tasks", tasks}};
  emit("multicore", "null_function_tasks_per_second", rate, "tasks/s", p);
  emit("multicore", "null_function_task_us", 1e6 / rate, "us", p);
}

// The same with the status server off and on, alternating (a shared
// machine's speed drifts; alternating spreads the drift over both), the
// median of `rounds` runs each.
void null_function_tasks_status_server(unsigned workers, unsigned long tasks, int rounds) {
  std::vector<double> off, on;
  for (int r = 0; r < rounds; ++r) {
    off.push_back(null_function_rate(workers, tasks));
    on.push_back(null_function_rate(workers, tasks, "127.0.0.1:0"));
  }
  std::sort(off.begin(), off.end());
  std::sort(on.begin(), on.end());
  const double rate_off = off[off.size() / 2], rate_on = on[on.size() / 2];
  for (const auto& [server, rate] : {std::pair{false, rate_off}, std::pair{true, rate_on}})
    emit("multicore", "null_function_tasks_per_second", rate, "tasks/s",
         {{"workers", workers}, {"tasks", tasks}, {"status_server", server}, {"runs", rounds}});
  emit("multicore", "status_server_loss_percent", 100.0 * (rate_off - rate_on) / rate_off, "%",
       {{"workers", workers}, {"tasks", tasks}, {"runs", rounds}});
}

void null_exec_tasks(unsigned workers, unsigned long tasks) {
  mw::Master master(mw::Multicore{workers});
  auto start = Clock::now();
  for (unsigned long i = 0; i < tasks; ++i) master.submit_task(mw::Exec("/bin/true"));
  for (unsigned long i = 0; i < tasks; ++i) master.get_result();
  double s = since(start);
  nlohmann::json p = {{"workers", workers}, {"tasks", tasks}, {"program", "/bin/true"}};
  emit("multicore", "null_exec_tasks_per_second", tasks / s, "tasks/s", p);
  emit("multicore", "null_exec_task_us", s / tasks * 1e6, "us", p);
}

// Runs argv with stdin from `input_path` and stdout/stderr discarded; seconds taken.
double timed_run(const std::vector<std::string>& argv, const std::string& input_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, input_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto start = Clock::now();
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  posix_spawn_file_actions_destroy(&actions);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? since(start) : -1;
}

void process_per_task_references(unsigned long tasks) {
  mw::bench::BenchDir dir;
  const std::string lines = dir / "lines";
  {
    std::ofstream f(lines);
    for (unsigned long i = 0; i < tasks; ++i) f << "x\n";
  }
  double xargs = timed_run({"xargs", "-P2", "-n1", "true"}, lines);
  if (xargs > 0)
    emit("multicore", "xargs_P2_true_per_second", tasks / xargs, "tasks/s", {{"tasks", tasks}});
  double parallel = timed_run({"parallel", "-j2", "true"}, lines);
  if (parallel > 0)
    emit("multicore", "gnu_parallel_j2_true_per_second", tasks / parallel, "tasks/s", {{"tasks", tasks}});
}

// Runs an example with --workers N and reads its "wall time: X s" / "N s" line.
double example_seconds(const std::string& program, std::vector<std::string> args) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  args.insert(args.begin(), program);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ) != 0) return -1;
  close(pipefd[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(pipefd[0]);
  waitpid(pid, nullptr, 0);
  posix_spawn_file_actions_destroy(&actions);
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(wall time: ([0-9.e+-]+) s)")) ||
      std::regex_search(out, m, std::regex(R"(workers, ([0-9.e+-]+) s)")))
    return std::stod(m[1]);
  return -1;
}

void table1(const std::string& examples_dir, bool quick) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  struct Case {
    std::string name;
    std::vector<std::string> args;
  };
  std::vector<Case> cases = {
      {"monte_pi", {"--tasks", "64", "--samples", quick ? "2000000" : "20000000"}},
      // n = 10^6: at the paper's 10^5 the whole run takes 0.1 s here, mostly starting workers.
      {"primes", {"--no-check", "--n", quick ? "100000" : "1000000"}}};
  for (const auto& c : cases) {
    double base = 0;
    for (unsigned workers : {1u, 2u, 4u, 8u, 16u}) {
      if (quick && workers > 4) break;
      auto args = c.args;
      args.push_back("--workers");
      args.push_back(std::to_string(workers));
      // The median of three runs: a shared virtual machine's timings wander.
      std::vector<double> runs;
      for (int r = 0; r < 3; ++r) runs.push_back(example_seconds(examples_dir + "/" + c.name, args));
      std::sort(runs.begin(), runs.end());
      double s = runs[1];
      if (s <= 0) {
        std::fprintf(stderr, "bench_multicore: %s/%s did not report its time; skipped\n",
                     examples_dir.c_str(), c.name.c_str());
        continue;
      }
      if (workers == 1) base = s;
      const double speedup = base / s;
      const double ideal = std::min(workers, cores);
      nlohmann::json p = {{"example", c.name}, {"workers", workers}, {"cores", cores}};
      emit("table1", "seconds", s, "s", p);
      emit("table1", "speedup", speedup, "x", p);
      emit("table1", "percent_of_ideal", 100.0 * speedup / ideal, "%", p);
    }
  }
}

std::uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

void memory_per_queued_task(unsigned long tasks) {
  mw::Master master(mw::Multicore{1});
  // Occupy the only worker so everything after stays queued.
  master.submit_task(mw::fn("block_for"), mw::args(600));
  master.submit_task(mw::fn("block_for"), mw::args(600));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::uint64_t before = rss_bytes();
  for (unsigned long i = 0; i < tasks; ++i) master.submit_task(mw::fn("nothing"), mw::args());
  const std::uint64_t after = rss_bytes();
  emit("multicore", "master_bytes_per_queued_task",
       static_cast<double>(after - before) / static_cast<double>(tasks), "bytes",
       {{"queued", master.status().waiting}});
  master.cancel_all();
}

}  // namespace

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  CLI::App app{"The multicore interface: null function and exec tasks, Table 1 speedups, "
               "master memory per queued task", "bench_multicore"};
  bool quick = false;
  bool status_server = false;
  std::string only;  // run one section
  app.add_flag("--quick", quick, "fewer tasks in every section");
  app.add_flag("--status-server", status_server,
               "function section: also null function tasks with the master's status server off and on "
               "(alternating, median of 5 each) and the loss in percent");
  app.add_option("--only", only, "run one section")
      ->check(CLI::IsMember({"function", "exec", "table1", "memory"}));
  if (const int rc = mw::bench::parse_options(app, argc, argv); rc >= 0) return rc;
  auto want = [&](const char* section) { return only.empty() || only == section; };
  // The examples are built beside the benchmarks: <build>/bench/.. /examples.
  std::string self = argv[0];
  std::string examples_dir = self.substr(0, self.find_last_of('/')) + "/../examples";

  if (want("function")) {
    null_function_tasks(1, quick ? 20000 : 100000);
    null_function_tasks(2, quick ? 20000 : 100000);
    if (status_server) null_function_tasks_status_server(2, quick ? 20000 : 100000, 5);
  }
  if (want("exec")) {
    null_exec_tasks(2, quick ? 2000 : 10000);
    process_per_task_references(quick ? 2000 : 10000);
  }
  if (want("table1")) table1(examples_dir, quick);
  if (want("memory")) memory_per_queued_task(quick ? 100000 : 1000000);
  return 0;
}
