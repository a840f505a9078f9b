#include "bench_common.h"

#include "util/command_line.h"
#include "util/fs.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

extern char** environ;

namespace mw::bench {

int parse_options(CLI::App& app, int argc, char** argv) {
  // The programs' own convention (util/command_line.h), --version included.
  mw::cli::set_up(app);
  return mw::cli::parse(app, argc, argv);
}

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

std::string default_root() {
  if (const char* env = std::getenv("MW_BENCH_ROOT"); env && *env) {
    ::mkdir(env, 0755);
    return env;
  }
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return detail::default_temp_root();
  std::string dir(exe, static_cast<std::size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  return dir.empty() ? "/" : dir;
}

std::string file_system_type(const std::string& dir) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case EXT4_SUPER_MAGIC: return "ext4";  // also ext2/ext3: one magic
    case TMPFS_MAGIC: return "tmpfs";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlay";
    case 0x2fc12fc1: return "zfs";
    case NFS_SUPER_MAGIC: return "nfs";
    default: break;
  }
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(st.f_type));
  return hex;
}

namespace {

double thread_cpu_seconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_THREAD, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

void write_new(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error("floor: cannot write " + path + ": " + std::strerror(errno));
  ::close(fd);
}

void syncfs_of(const std::string& dir) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::syncfs(dfd) != 0) throw std::runtime_error("floor: cannot syncfs " + dir);
  ::close(dfd);
}

}  // namespace

FileFloor measure_file_floor(const std::string& root, std::size_t files, std::size_t bytes,
                             std::size_t fanout, std::string* kept, const FloorShape& shape) {
  const std::string dir = detail::make_temp_dir(root, "mwfloor.");
  const std::string data(bytes, 'x');
  const std::string side(shape.side_bytes, 'y');
  FileFloor floor;
  try {
    for (std::size_t d = 0; d < fanout; ++d) {
      const std::string sub = dir + "/" + std::to_string(d);
      if (::mkdir(sub.c_str(), 0755) != 0) throw std::runtime_error("floor: cannot create " + sub);
    }
    auto final_path = [&](std::size_t i) { return dir + "/" + std::to_string(i % fanout) + "/f" + std::to_string(i); };
    auto temp_path = [&](std::size_t i) { return dir + "/" + std::to_string(i % fanout) + "/.t" + std::to_string(i); };
    const double cpu0 = thread_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < files; ++i) {
      const std::string path = shape.renamed ? temp_path(i) : final_path(i);
      write_new(path, data);
      if (shape.side_bytes > 0) write_new(path + ".md5", side);
    }
    auto t1 = std::chrono::steady_clock::now();
    syncfs_of(dir);
    double barrier = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (shape.renamed) {
      for (std::size_t i = 0; i < files; ++i) {
        const std::string from = temp_path(i), to = final_path(i);
        if (::rename(from.c_str(), to.c_str()) != 0 ||
            (shape.side_bytes > 0 && ::rename((from + ".md5").c_str(), (to + ".md5").c_str()) != 0))
          throw std::runtime_error("floor: cannot rename " + from + ": " + std::strerror(errno));
      }
      t1 = std::chrono::steady_clock::now();
      syncfs_of(dir);
      barrier += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    }
    floor.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    floor.cpu_seconds = thread_cpu_seconds() - cpu0;
    floor.barrier_seconds = barrier;
    floor.files_per_s = static_cast<double>(files) / floor.seconds;
  } catch (...) {
    detail::remove_tree(dir);
    throw;
  }
  if (kept)
    *kept = dir;
  else
    detail::remove_tree(dir);
  return floor;
}

void emit_file_floor(const std::string& bench, const FileFloor& floor, const std::string& root,
                     std::size_t files, std::size_t bytes, nlohmann::json params, const FloorShape& shape) {
  params["files"] = files;
  params["file_bytes"] = bytes;
  params["fs"] = file_system_type(root);
  std::string how = shape.side_bytes > 0 ? "a file and its NAME.md5 (" + std::to_string(shape.side_bytes) +
                                               " bytes) per unit, each open+write+close"
                                         : "open+write+close per file";
  how += " in 1024 subdirectories, then one syncfs";
  if (shape.renamed) how = "as the staged path: " + how + ", a rename each from a temp name, syncfs again";
  params["how"] = how;
  emit(bench, "floor_files_per_s", floor.files_per_s, "files/s", params);
  emit(bench, "floor_seconds", floor.seconds, "s", params);
  emit(bench, "floor_barrier_seconds", floor.barrier_seconds, "s", params);
  emit(bench, "floor_cpu_s", floor.cpu_seconds, "s", params);
}

}  // namespace mw::bench
