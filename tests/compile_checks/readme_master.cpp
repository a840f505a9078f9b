// The README's "A master program", as printed there (the function's body filled in).
#include "mw/master.h"
#include "mw/worker.h"

std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) { return seed + samples; }
MW_TASK(count_hits);                       // a function workers can run; defines mw_task_count_hits

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);          // this binary is also the worker
  mw::Master master;                                 // multicore, one worker per core
  std::vector<mw::TypedTask<std::uint64_t>> tasks;
  for (std::uint64_t i = 0; i < 32; ++i)
    tasks.push_back(master.submit(mw_task_count_hits, i, 2'000'000));  // checked when compiled
  std::uint64_t hits = 0;
  for (auto t : tasks) hits += master.get_result(t);  // the handle knows its result type
  mw::Master four(mw::Multicore{4});                 // "changing the back end"
  return hits == 0;
}
