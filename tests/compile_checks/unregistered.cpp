// A function never given to MW_TASK, named by symbol.
#include "tasks.h"

int main() {
  mw::Master master(mw::Multicore{1});
  master.submit(not_registered, 7);
}
