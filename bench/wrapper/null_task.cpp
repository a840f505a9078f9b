// null_task — the task bench_wrapper runs: it writes the CLOCK_REALTIME times
// (nanoseconds) at which it started and at which it is about to exit to the
// file named by its argument, and exits.
#include <cstdio>
#include <ctime>

namespace {

long long realtime_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  const long long started = realtime_ns();
  if (argc != 2) return 2;
  std::FILE* f = std::fopen(argv[1], "w");
  if (!f) return 1;
  std::fprintf(f, "%lld ", started);
  std::fflush(f);
  std::fprintf(f, "%lld\n", realtime_ns());
  return std::fclose(f) == 0 ? 0 : 1;
}
