// The reported misspelling, in the typed form: there is no such registration.
#include "tasks.h"

int main() {
  mw::Master master(mw::Multicore{1});
  master.submit(mw_task_count_hist, 7, 8);
}
