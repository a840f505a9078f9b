// finish_stamp — preloaded (LD_PRELOAD) into mw-wrapper by bench_wrapper, and
// nothing else: it records the CLOCK_REALTIME time (nanoseconds) at which the
// wrapper calls boinc_finish — its own work done, the result bundle written and
// synced — in the file named by $MW_BENCH_FINISH_STAMP, then calls the real
// boinc_finish. That splits the wrapper's cost from the BOINC API's own exit
// (a fixed sleep in 7.20) without a timing hook in the shipped program.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

// The task the wrapper starts must not load this library too: it would add its
// loading time to the task's start.
__attribute__((constructor)) void stay_out_of_children() { unsetenv("LD_PRELOAD"); }

}  // namespace

extern "C" int boinc_finish(int status) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  if (const char* path = std::getenv("MW_BENCH_FINISH_STAMP")) {
    if (std::FILE* f = std::fopen(path, "w")) {
      std::fprintf(f, "%lld\n", static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec);
      std::fclose(f);
    }
  }
  using Finish = int (*)(int);
  auto real = reinterpret_cast<Finish>(dlsym(RTLD_NEXT, "boinc_finish"));
  if (!real) _exit(status);
  return real(status);
}
