// primes — count the primes of the form n^2 + 1 for n in [1, N] with the
// Miller–Rabin test (k = 50 rounds), three tasks per worker, and check the
// total against a sequential run (the PyMW paper's second benchmark).
//
//   primes [--n 100000] [--tasks N | --tasks-per-worker 3] [--no-check]
//          [--interface multicore|simulator|mpi|condor|boinc] [--workers N] [--project DIR] [--progress]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <vector>

#include "common/example_cli.h"
#include "mw/master.h"
#include "mw/worker.h"
#include "util/command_line.h"

namespace {

using u64 = std::uint64_t;
using u128 = unsigned __int128;

u64 mul_mod(u64 a, u64 b, u64 m) { return static_cast<u64>(static_cast<u128>(a) * b % m); }

u64 pow_mod(u64 base, u64 exp, u64 m) {
  u64 result = 1;
  base %= m;
  while (exp) {
    if (exp & 1) result = mul_mod(result, base, m);
    base = mul_mod(base, base, m);
    exp >>= 1;
  }
  return result;
}

// Miller–Rabin with k random bases from a seeded generator, so every run (and
// every worker) tests the same bases for the same number.
bool probably_prime(u64 n, int k) {
  if (n < 4) return n == 2 || n == 3;
  if (n % 2 == 0) return false;
  u64 d = n - 1;
  int r = 0;
  while (d % 2 == 0) {
    d /= 2;
    ++r;
  }
  u64 state = n * 0x9e3779b97f4a7c15ULL + 1;
  for (int i = 0; i < k; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    u64 a = 2 + (state >> 11) % (n - 3);
    u64 x = pow_mod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int j = 1; j < r && composite; ++j) {
      x = mul_mod(x, x, n);
      if (x == n - 1) composite = false;
    }
    if (composite) return false;
  }
  return true;
}

}  // namespace

// The task: how many n in [first, last] make n^2 + 1 prime.
u64 count_primes(u64 first, u64 last) {
  u64 count = 0;
  for (u64 n = first; n <= last; ++n) count += probably_prime(n * n + 1, 50);
  return count;
}
MW_TASK(count_primes);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  CLI::App app{"Primes of the form n^2+1, Miller-Rabin k=50, on mwkit", "primes"};
  mw::cli::set_up(app);
  u64 n = 100000;
  unsigned per_worker = 3, tasks_option = 0;
  bool no_check = false;
  // n^2 + 1 must fit in 64 bits.
  app.add_option("--n", n, "Largest n")->check(examples::count_between(1, 4'294'967'295))->capture_default_str();
  auto* tasks_opt = app.add_option("--tasks", tasks_option, "Number of tasks")
                        ->check(examples::count_between(1, 10'000'000))
                        ->default_str("--tasks-per-worker times the workers");
  app.add_option("--tasks-per-worker", per_worker, "Tasks per worker, when --tasks is not given")
      ->check(examples::count_between(1, 1000))
      ->capture_default_str()
      ->excludes(tasks_opt);
  app.add_flag("--no-check", no_check, "Skip the sequential check");
  examples::BackEndOptions back_end(app);  // function tasks: every interface
  examples::ProgressOption progress(app, "primes");
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;

  return mw::cli::run_main("primes", 2, [&] {
    const unsigned workers = back_end.workers();
    const u64 tasks = tasks_option ? tasks_option : static_cast<u64>(workers) * per_worker;
    // More tasks than numbers would leave some empty: one number each then.
    std::vector<std::pair<u64, u64>> ranges;
    for (u64 t = 0; t < tasks; ++t) {
      u64 first = 1 + n * t / tasks, last = n * (t + 1) / tasks;
      if (first <= last) ranges.emplace_back(first, last);
    }
    const auto start = std::chrono::steady_clock::now();
    mw::MasterOptions options;
    progress.apply(options, ranges.size());
    mw::Master master(back_end.make_interface(), options);
    progress.announce(master);
    std::vector<mw::TypedTask<u64>> handles;
    for (auto [first, last] : ranges) handles.push_back(master.submit(mw_task_count_primes, first, last));
    u64 total = 0;
    for (auto t : handles) total += master.get_result(t);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "primes of the form n^2+1 for n in [1, " << n << "]: " << total << "\n"
              // bench_multicore reads the time after "workers, ".
              << ranges.size() << " tasks on " << workers << " workers, " << seconds << " s\n";
    if (!no_check) {
      u64 sequential = count_primes(1, n);
      std::cout << "sequential check: " << sequential << (sequential == total ? " (match)" : " (MISMATCH)")
                << "\n";
      if (sequential != total) return 1;
    }
    return 0;
  });
}
