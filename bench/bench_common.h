// Shared by the benchmarks: JSON-line output, timing, running reference commands.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace mw::bench {

// Parses a benchmark's command line the way mwkit's programs do
// (util/command_line.h): returns -1 to go on, else the exit status to return
// at once — 0 after --help (which shows every default) or --version, 64
// (EX_USAGE) after one line on stderr naming what was wrong.
int parse_options(CLI::App& app, int argc, char** argv);

// Prints one figure as a JSON line on stdout.
void emit(const std::string& bench, const std::string& metric, double value,
          const std::string& unit, nlohmann::json params = nlohmann::json::object());
// Prints a whole object as one JSON line, for benchmarks whose layout is a table row.
void emit_object(const nlohmann::json& line);

// Seconds taken by `body`, the median over `repeats` runs (after `setup` each time).
double median_seconds(int repeats, const std::function<void()>& body,
                      const std::function<void()>& setup = [] {});

// Runs argv (exec, no shell) with stdout/stderr to /dev/null; throws unless it exits 0.
void run_quiet(const std::vector<std::string>& argv);

// A fresh directory under $TMPDIR, removed on destruction.
class BenchDir {
 public:
  BenchDir();
  ~BenchDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void remove_tree(const std::string& path);

// Where benchmarks put the trees they measure by default: $MW_BENCH_ROOT, else
// the directory holding the benchmark program (the build tree), which lives on
// the machine's normal file system — a BOINC server's project is on a disk,
// not on tmpfs. Created if missing.
std::string default_root();
// The file system type of `dir` as `df -T` names it ("ext4", "tmpfs", "xfs",
// …), or "0x<magic>" for one this list does not know.
std::string file_system_type(const std::string& dir);

// The floor for making small files durable on a file system, done the
// simplest way: `files` files of `bytes` bytes each created and written
// (open, write, close) in `fanout` subdirectories of a fresh directory under
// `root`, then one syncfs of that file system. Removed afterwards, unless
// `kept` is given: then its path goes there and the caller removes it (on an
// ext4 without a journal, files created within a minute or so of a removal
// pay for skipping the freed inodes, so a bench removes its trees only after
// the figures that are compared with each other).
//
// A FloorShape asks for more than one plain file per unit, to compare a path
// that must make more (the staged submission: the input and its NAME.md5, each
// written under a hidden temp name, made durable, renamed into place, the
// renames made durable) with the least that same work costs.
struct FloorShape {
  std::size_t side_bytes = 0;  // > 0: each file gets a side file NAME.md5 of this size
  bool renamed = false;        // written under temp names, syncfs, renamed, syncfs again
};
struct FileFloor {
  double seconds = 0;          // creation + the barrier(s)
  double barrier_seconds = 0;  // the syncfs (both, when renamed)
  double files_per_s = 0;      // files / seconds (a file and its side file count as one)
  double cpu_seconds = 0;      // this thread's CPU (user + kernel) over `seconds`
};
FileFloor measure_file_floor(const std::string& root, std::size_t files, std::size_t bytes,
                             std::size_t fanout = 1024, std::string* kept = nullptr,
                             const FloorShape& shape = {});
// Prints a FileFloor as the lines {"bench": bench, "metric": "floor_files_per_s" …},
// with `params` plus the file system, the file count and size, and the shape.
void emit_file_floor(const std::string& bench, const FileFloor& floor, const std::string& root,
                     std::size_t files, std::size_t bytes, nlohmann::json params = nlohmann::json::object(),
                     const FloorShape& shape = {});

}  // namespace mw::bench
