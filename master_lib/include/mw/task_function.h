// mw/task_function.h — a registered task function as a typed value.
//
//   std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples);
//   MW_TASK(count_hits);   // defines mw_task_count_hits, a mw::TaskFunction<std::uint64_t(std::uint64_t, std::uint64_t)>
//
//   auto t = master.submit(mw_task_count_hits, seed, 2'000'000);  // checked and converted at compile time
//   std::uint64_t hits = master.get_result(t);
//
// Why an object and not the function itself: a function passed to submit() is
// a run-time pointer, so nothing could tell at compile time whether it was
// registered. The object exists only where MW_TASK ran, so naming one that
// was not registered does not compile, and it carries both the name the
// worker looks up and the signature the arguments are converted to.
#pragma once

#include <cstdint>

namespace mw {

// The handle of a submitted task. Ids are assigned in submission order, from 1.
struct Task {
  std::uint64_t id = 0;
  bool operator==(const Task& o) const { return id == o.id; }
  bool operator!=(const Task& o) const { return id != o.id; }
  bool operator<(const Task& o) const { return id < o.id; }
};

// A submitted task whose function returns R: Master::get_result(TypedTask<R>)
// returns an R. It is a Task, so cancel() and the untyped get_result() take it.
template <typename R>
struct TypedTask : Task {};

template <typename Signature>
struct TaskFunction;

// What MW_TASK(f) defines as mw_task_f (mw/worker.h).
template <typename R, typename... A>
struct TaskFunction<R(A...)> {
  const char* name;         // what workers look the function up by
  R (*function)(A...);      // the registered function (its signature is the point)
};

namespace detail {
// noexcept is part of a function's type since C++17; a task function's
// signature is the same either way.
template <typename R, typename... A>
constexpr TaskFunction<R(A...)> make_task_function(const char* name, R (*function)(A...)) {
  return {name, function};
}
template <typename R, typename... A>
constexpr TaskFunction<R(A...)> make_task_function(const char* name, R (*function)(A...) noexcept) {
  return {name, function};
}
}  // namespace detail

}  // namespace mw
