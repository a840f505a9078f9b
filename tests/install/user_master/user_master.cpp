// A master program outside mwkit's tree: the sum of i*i for i < N, each term a
// task, on all cores (multicore) or on MPI ranks ("mpi", when built with
// mwkit's MPI part). It prints the sum and exits 0 only when it equals
// N(N-1)(2N-1)/6.
#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <string>

#include "mw/master.h"
#include "mw/multicore.h"
#include "mw/worker.h"
#ifdef MWKIT_WITH_MPI
#include "mw/mpi.h"
#endif

std::uint64_t square(std::uint64_t i) { return i * i; }
MW_TASK(square);

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  const bool mpi = argc > 1 && std::string(argv[1]) == "mpi";
  const std::uint64_t n = 50;
#ifdef MWKIT_WITH_MPI
  mw::Mpi ranks(2);
  ranks.oversubscribe = true;
  if (mpi && ::geteuid() == 0) ranks.mpirun_args.push_back("--allow-run-as-root");
  mw::Master master = mpi ? mw::Master(ranks) : mw::Master(mw::Multicore{2});
#else
  if (mpi) {
    std::cerr << "this mwkit was built without its MPI part\n";
    return 2;
  }
  mw::Master master(mw::Multicore{2});
#endif
  for (std::uint64_t i = 0; i < n; ++i) master.submit_task(mw::fn("square"), mw::args(i));
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    auto [task, result] = master.get_result();
    sum += result.value<std::uint64_t>();
  }
  const std::uint64_t expected = n * (n - 1) * (2 * n - 1) / 6;
  std::cout << "sum " << sum << (sum == expected ? " (correct)" : " (WRONG)") << " on "
            << (mpi ? "mpi" : "multicore") << "\n";
  return sum == expected ? 0 : 1;
}
