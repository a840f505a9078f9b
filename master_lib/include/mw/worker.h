// mw/worker.h — the worker side of function tasks.
//
//   std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) { ... }
//   MW_TASK(count_hits);                       // registered as "count_hits", and defines
//                                              // mw_task_count_hits for Master::submit
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
#include <typeinfo>
#include <utility>
#include <vector>

#include "mw/task_function.h"
#include "mw/values.h"

namespace mw {

// In worker mode: runs the worker and exits the process. Otherwise returns.
void worker_main_if_requested(int argc, char** argv);

namespace detail {

// Decodes arguments, calls, encodes the value; throws on a bad encoding.
using TaskInvoker = std::function<std::string(const std::string& encoded_args)>;

// Registers `invoker` under `name`; returns true (for static initialisation).
bool register_task_function(const char* name, TaskInvoker invoker);
// The same, recording the parameter types (decayed) for the master's
// submit-time check of mw::args (mw/task.h).
bool register_task_function(const char* name, TaskInvoker invoker,
                            std::vector<const std::type_info*> parameters);
// The invoker registered under `name`, or nullptr.
const TaskInvoker* find_task_function(const std::string& name);
// The parameter types registered under `name`, or nullptr (unknown name, or
// registered without them).
const std::vector<const std::type_info*>* find_task_parameters(const std::string& name);
// Every registered name, sorted ("a, b, c"; "none" when there is none): for errors.
std::string registered_task_names();

template <typename R, typename... A>
TaskInvoker make_invoker(const char* name, R (*function)(A...)) {
  return [name, function](const std::string& encoded) -> std::string {
    auto arguments = decode_arguments<std::decay_t<A>...>(encoded, name);
    if constexpr (std::is_void_v<R>) {
      std::apply(function, std::move(arguments));
      return encode_values();
    } else {
      return encode_values(std::apply(function, std::move(arguments)));
    }
  };
}
template <typename R, typename... A>
TaskInvoker make_invoker(const char* name, R (*function)(A...) noexcept) {
  R (*plain)(A...) = function;  // noexcept changes the type, not how it is called
  return make_invoker(name, plain);
}

template <typename R, typename... A>
std::vector<const std::type_info*> parameter_types(R (*)(A...)) {
  return {&typeid(std::decay_t<A>)...};
}
template <typename R, typename... A>
std::vector<const std::type_info*> parameter_types(R (*)(A...) noexcept) {
  return {&typeid(std::decay_t<A>)...};
}

}  // namespace detail
}  // namespace mw

#define MW_TASK_CONCAT2(a, b) a##b
#define MW_TASK_CONCAT(a, b) MW_TASK_CONCAT2(a, b)
// Registers the free function `function` as a task function of this program,
// and defines `mw_task_<function>` (a mw::TaskFunction, mw/task_function.h) in
// the current namespace: what Master::submit and Master::map take, so that
// the arguments are checked against the function's parameters at compile time.
#define MW_TASK(function)                                                        \
  static const bool MW_TASK_CONCAT(mw_task_registered_, function) =              \
      ::mw::detail::register_task_function(                                      \
          #function, ::mw::detail::make_invoker(#function, &function),           \
          ::mw::detail::parameter_types(&function));                             \
  [[maybe_unused]] static constexpr auto MW_TASK_CONCAT(mw_task_, function) =    \
      ::mw::detail::make_task_function(#function, &function)
