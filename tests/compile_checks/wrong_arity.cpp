// count_hits takes two arguments.
#include "tasks.h"

int main() {
  mw::Master master(mw::Multicore{1});
  master.submit(mw_task_count_hits, 7);
}
