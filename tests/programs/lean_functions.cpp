// Task functions of a lean worker (mw_add_lean_worker in tests/CMakeLists.txt):
// only these and the task runtime are in the program, so it runs on a host
// that has nothing but glibc (tests/client_wrapper/bare_host_test.cpp).
#include <cstdint>
#include <string>

#include "mw/worker.h"

std::uint64_t sum_of_squares(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 1; i <= n; ++i) sum += i * i;
  return sum;
}
MW_TASK(sum_of_squares);

std::string shout(std::string text) {
  for (auto& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}
MW_TASK(shout);
