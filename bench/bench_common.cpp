#include "bench_common.h"

#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

extern char** environ;

namespace mw::bench {

void emit(const std::string& bench, const std::string& metric, double value,
          const std::string& unit, nlohmann::json params) {
  nlohmann::json line = {{"bench", bench}, {"metric", metric}, {"value", value}, {"unit", unit}};
  for (auto& [k, v] : params.items()) line[k] = v;
  emit_object(line);
}

void emit_object(const nlohmann::json& line) { std::cout << line.dump() << std::endl; }

double median_seconds(int repeats, const std::function<void()>& body,
                      const std::function<void()>& setup) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    setup();
    auto start = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void run_quiet(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(argv[0] + " failed");
}

void remove_tree(const std::string& path) { detail::remove_tree(path); }

BenchDir::BenchDir() : path_(detail::make_temp_dir(detail::default_temp_root(), "mwbench.")) {}

BenchDir::~BenchDir() { detail::remove_tree(path_); }

}  // namespace mw::bench
