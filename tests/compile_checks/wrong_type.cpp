// A std::string for a std::uint64_t parameter, in position 2.
#include "tasks.h"

int main() {
  mw::Master master(mw::Multicore{1});
  master.submit(mw_task_count_hits, 7, std::string("2000000"));
}
