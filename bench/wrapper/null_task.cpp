// null_task — the task bench_wrapper runs: it writes the CLOCK_REALTIME time
// (nanoseconds) at which it started to the file named by its argument, and exits.
#include <cstdio>
#include <ctime>

int main(int argc, char** argv) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  if (argc != 2) return 2;
  std::FILE* f = std::fopen(argv[1], "w");
  if (!f) return 1;
  std::fprintf(f, "%lld\n", static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec);
  return std::fclose(f) == 0 ? 0 : 1;
}
