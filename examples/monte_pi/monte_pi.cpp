// monte_pi — estimate pi by throwing random points at the unit square
// (the PyMW paper's Listing 1), split into independent tasks.
//
// One binary plays both parts: run plainly it is the master, which builds one
// signed task bundle per slice of samples and runs them on all cores through
// mwkit's runner; with --worker it is the task program that counts the hits of
// one slice. (Once mw::Master exists the master part becomes a few lines of it.)
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <thread>
#include <vector>

#include "mw/bundle.h"
#include "mw/runner.h"
#include "mw/signing.h"

namespace {

// xoshiro256** — fast, good enough for Monte Carlo, and the same on every
// platform for a given seed (so a task's answer does not depend on the host).
class Xoshiro256 {
 public:
  explicit Xoshiro256(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix(seed);
  }
  double next_unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  std::uint64_t s_[4];
};

std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) {
  Xoshiro256 rng(seed);
  std::uint64_t hits = 0;
  for (std::uint64_t i = 0; i < samples; ++i) {
    double x = rng.next_unit(), y = rng.next_unit();
    hits += (x * x + y * y <= 1.0);
  }
  return hits;
}

int worker(std::uint64_t seed, std::uint64_t samples, const std::string& out) {
  std::ofstream f(out);
  f << count_hits(seed, samples) << " " << samples << "\n";
  return f ? 0 : 1;
}

std::string self_path() {
  std::vector<char> buf(4096);
  ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) throw std::runtime_error("cannot find this program's own path");
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

int master(unsigned tasks, std::uint64_t samples, unsigned workers) {
  const auto start = std::chrono::steady_clock::now();
  char dir_template[] = "/tmp/monte_pi.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const auto key = mw::PrivateKey::generate();
  const std::vector<mw::PublicKey> trusted{key.public_key()};
  const std::string program = self_path();

  std::atomic<unsigned> next{0};
  std::atomic<std::uint64_t> hits{0}, total{0};
  std::atomic<unsigned> failed{0};
  auto run_slices = [&] {
    for (unsigned i = next++; i < tasks; i = next++) {
      const std::string name = "pi_" + std::to_string(i);
      const std::string bundle = dir + "/" + name + ".zip";
      const std::string result_path = dir + "/" + name + ".result.zip";
      mw::TaskBuilder task(name);
      task.host_program(program)
          .args({"--worker", "--seed", std::to_string(1000 + i), "--samples",
                 std::to_string(samples), "--out", "hits.txt"})
          .output("hits.txt", 1024)
          .write_bundle(bundle, key);
      mw::ResultManifest r = mw::run_task_bundle(bundle, trusted, result_path);
      if (!r.ok()) {
        std::cerr << name << " failed: " << r.reason << "\n";
        ++failed;
        continue;
      }
      std::istringstream line(mw::ResultBundle::open(result_path).read_output("hits.txt"));
      std::uint64_t h = 0, n = 0;
      line >> h >> n;
      hits += h;
      total += n;
      unlink(bundle.c_str());
      unlink(result_path.c_str());
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < workers; ++w) pool.emplace_back(run_slices);
  for (auto& t : pool) t.join();
  rmdir(dir.c_str());

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double estimate = total ? 4.0 * static_cast<double>(hits) / static_cast<double>(total) : 0;
  std::cout << std::setprecision(8) << "pi ~= " << estimate << "  (error "
            << std::abs(estimate - 3.14159265358979) << ")\n"
            << "tasks: " << tasks - failed << " of " << tasks << " done, " << total
            << " samples, " << workers << " workers\n"
            << std::setprecision(3) << "wall time: " << seconds << " s\n";
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Monte Carlo estimate of pi, as independent mwkit tasks", "monte_pi"};
  bool is_worker = false;
  std::uint64_t seed = 1, samples = 2'000'000;
  unsigned tasks = 32, workers = std::max(1u, std::thread::hardware_concurrency());
  std::string out = "hits.txt";
  app.add_flag("--worker", is_worker, "Count the hits of one slice (the task program)");
  app.add_option("--seed", seed, "Worker: random seed of the slice");
  app.add_option("--samples", samples, "Samples per task")->check(CLI::PositiveNumber);
  app.add_option("--out", out, "Worker: file to write 'HITS SAMPLES' to");
  app.add_option("--tasks", tasks, "Master: number of tasks")->check(CLI::PositiveNumber);
  app.add_option("--workers", workers, "Master: tasks run at once (default: all cores)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    return is_worker ? worker(seed, samples, out) : master(tasks, samples, workers);
  } catch (const std::exception& e) {
    std::cerr << "monte_pi: " << e.what() << "\n";
    return 2;
  }
}
