// monte_pi — estimate pi by throwing random points at the unit square: the
// PyMW paper's Listing 1, in C++ on mwkit.
//
//   monte_pi [--tasks 32] [--samples 2000000] [--interface multicore|simulator|mpi|condor|boinc]
//            [--workers N] [--project DIR] [--progress]
//
// The same binary is master and worker: mw::worker_main_if_requested turns it
// into a worker when the multicore interface starts it with --mw-worker.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>

#include "common/example_cli.h"
#include "mw/master.h"
#include "util/command_line.h"
#include "mw/worker.h"

namespace {

// xoshiro256** — fast, and the same stream for a seed on every platform, so a
// task's answer does not depend on the host that ran it.
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

}  // namespace

// The task: how many of `samples` random points fall inside the quarter circle.
std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) {
  Xoshiro256 rng(seed);
  std::uint64_t hits = 0;
  for (std::uint64_t i = 0; i < samples; ++i) {
    double x = rng.next_unit(), y = rng.next_unit();
    hits += (x * x + y * y <= 1.0);
  }
  return hits;
}
MW_TASK(count_hits);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);

  CLI::App app{"Monte Carlo estimate of pi, as independent mwkit tasks", "monte_pi"};
  mw::cli::set_up(app);
  unsigned tasks = 32;
  std::uint64_t samples = 2'000'000;
  app.add_option("--tasks", tasks, "Number of tasks")->check(examples::count_between(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--samples", samples, "Samples per task")
      ->check(examples::count_between(1, 1'000'000'000'000))
      ->capture_default_str();
  examples::BackEndOptions back_end(app);  // function tasks: every interface
  examples::ProgressOption progress(app, "monte_pi");
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;

  return mw::cli::run_main("monte_pi", 2, [&] {
    const auto start = std::chrono::steady_clock::now();
    mw::MasterOptions options;
    progress.apply(options, tasks);
    mw::Master master(back_end.make_interface(), options);
    progress.announce(master);

    mw::TaskOptions each;
    each.estimates.cpu_seconds = static_cast<double>(samples) * 1e-8;  // for the simulator
    for (unsigned i = 0; i < tasks; ++i)
      master.submit(each, mw_task_count_hits, 1000 + i, samples);  // i converted to std::uint64_t

    std::uint64_t hits = 0;
    for (unsigned i = 0; i < tasks; ++i) {
      auto [task, result] = master.get_result();
      hits += result.value<std::uint64_t>();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double total = static_cast<double>(samples) * tasks;
    const double estimate = 4.0 * static_cast<double>(hits) / total;
    const auto status = master.status();
    std::cout << std::setprecision(8) << "pi ~= " << estimate << "  (error "
              << std::abs(estimate - 3.14159265358979) << ")\n"
              << "tasks: " << status.delivered << " of " << tasks << " done, "
              << static_cast<std::uint64_t>(total) << " samples, " << status.details.workers.size()
              << " workers (" << status.interface << ")\n"
              << std::setprecision(3) << "wall time: " << seconds << " s\n";
    return status.delivered == tasks ? 0 : 1;
  });
}
