// Must compile: the README's constructor with the README's includes, and
// typed submission with arguments that convert (int -> std::uint64_t).
#include "tasks.h"

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  mw::Master master(mw::Multicore{4});
  auto t = master.submit(mw_task_count_hits, 7, std::uint64_t{2'000'000});
  std::uint64_t hits = master.get_result(t);
  std::vector<std::uint64_t> all = master.map(mw_task_count_hits, std::vector<std::pair<int, int>>{});
  return static_cast<int>(hits + all.size());
}
