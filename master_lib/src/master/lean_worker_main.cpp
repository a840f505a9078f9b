// main() of a lean worker program (mw_add_lean_worker in
// master_lib/CMakeLists.txt): the task functions come from the user's
// sources, registered with MW_TASK; this only hands argv to the runtime.
#include <cstdio>

#include "mw/worker.h"

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);  // exits when argv asks for a worker
  std::fprintf(stderr,
               "%s: an mwkit worker program; the runner starts it with --mw-call NAME [DIR] or --mw-worker\n",
               argc > 0 ? argv[0] : "worker");
  return 64;
}
