// The task's result is a std::uint64_t, not a std::string.
#include "tasks.h"

int main() {
  mw::Master master(mw::Multicore{1});
  auto t = master.submit(mw_task_count_hits, 7, 8);
  std::string text = master.get_result(t);
  return static_cast<int>(text.size());
}
