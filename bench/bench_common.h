// Shared by the benchmarks: JSON-line output, timing, running reference commands.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace mw::bench {

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

}  // namespace mw::bench
