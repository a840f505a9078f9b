// mw/worker.h — the worker side of function tasks.
//
//   std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) { ... }
//   MW_TASK(count_hits);                       // registered as "count_hits"
//
//   int main(int argc, char** argv) {
//     mw::worker_main_if_requested(argc, argv);  // returns only in the master
//     ...
//   }
//
// Arguments and return values are encoded as in mw/values.h; a function may
// return void. An exception thrown by the function fails that task, with the
// exception's message as the reason.
//
// A worker program runs in one of two modes, chosen by its argv:
//   PROGRAM --mw-worker            persistent: reads tasks as frames on fd 3 and
//                                  answers on fd 4 (multicore, MPI ranks)
//   PROGRAM --mw-call NAME [DIR]   one call: reads the encoded arguments from
//                                  DIR/args.bin, writes the encoded value to
//                                  DIR/value.bin (DIR defaults to ".") — what the
//                                  runner does for a function task in a bundle
#pragma once

#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "mw/values.h"

namespace mw {

// In worker mode: runs the worker and exits the process. Otherwise returns.
void worker_main_if_requested(int argc, char** argv);

namespace detail {

// Decodes arguments, calls, encodes the value; throws on a bad encoding.
using TaskInvoker = std::function<std::string(const std::string& encoded_args)>;

// Registers `invoker` under `name`; returns true (for static initialisation).
bool register_task_function(const char* name, TaskInvoker invoker);
// The invoker registered under `name`, or nullptr.
const TaskInvoker* find_task_function(const std::string& name);

template <typename R, typename... A>
TaskInvoker make_invoker(const char* name, R (*function)(A...)) {
  return [name, function](const std::string& encoded) -> std::string {
    auto arguments = decode_values<std::tuple<std::decay_t<A>...>>(
        encoded, std::string("arguments of function ") + name);
    if constexpr (std::is_void_v<R>) {
      std::apply(function, std::move(arguments));
      return encode_values();
    } else {
      return encode_values(std::apply(function, std::move(arguments)));
    }
  };
}

}  // namespace detail
}  // namespace mw

#define MW_TASK_CONCAT2(a, b) a##b
#define MW_TASK_CONCAT(a, b) MW_TASK_CONCAT2(a, b)
// Registers the free function `function` as a task function of this program.
#define MW_TASK(function)                                                        \
  static const bool MW_TASK_CONCAT(mw_task_registered_, function) =              \
      ::mw::detail::register_task_function(                                      \
          #function, ::mw::detail::make_invoker(#function, &function))
