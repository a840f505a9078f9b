// mw/master.h — the master: submit tasks, collect results, whatever the back end.
//
//   std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples);
//   MW_TASK(count_hits);                        // mw/worker.h; defines mw_task_count_hits
//
//   int main(int argc, char** argv) {
//     mw::worker_main_if_requested(argc, argv);   // this binary is also the worker
//     mw::Master master;                          // multicore, all cores
//     auto t = master.submit(mw_task_count_hits, seed, 1'000'000);  // types checked at compile time
//     std::uint64_t hits = master.get_result(t);  // t knows its result type
//     // by name, for dynamic use (checked when the task is submitted or run):
//     auto u = master.submit_task(mw::fn("count_hits"), mw::args(seed, std::uint64_t{1'000'000}));
//     auto [task, result] = master.get_result();  // next finished, blocking
//     auto h = result.value<std::uint64_t>();
//   }
//
// Changing the back end is changing the constructor's argument:
//   mw::Master master(mw::Multicore{4});          // mw/multicore.h, included here
//   mw::Master master(mw::Simulator{...});        // #include "mw/simulator.h"
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <typeinfo>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mw/interface.h"
#include "mw/multicore.h"  // the default back end: mw::Master master(mw::Multicore{4}) needs nothing more
#include "mw/result_compare.h"
#include "mw/result.h"
#include "mw/task.h"

namespace mw {

namespace detail {

// One argument of a typed submission. Instantiated per argument so that the
// compiler's "required from" note names the position (from 1), the
// parameter's type and the argument's type.
template <std::size_t Position, typename Parameter, typename Argument>
struct check_task_argument {
  static constexpr bool ok = std::is_convertible_v<Argument, Parameter>;
  static_assert(ok,
                "mw::Master::submit: an argument does not convert to its parameter's type; "
                "see check_task_argument<POSITION (from 1), PARAMETER, ARGUMENT> below");
};

template <typename Parameters, typename Arguments, typename Indices>
struct check_task_arguments;
template <typename... P, typename... A, std::size_t... I>
struct check_task_arguments<std::tuple<P...>, std::tuple<A...>, std::index_sequence<I...>> {
  static constexpr bool ok = (check_task_argument<I + 1, P, A>::ok && ...);
};

template <typename T>
constexpr bool is_negative(const T& v) {
  if constexpr (std::is_signed_v<T>) return v < T{};
  else return false;
}

// Integers change type only when the value survives: int -1 for a
// std::uint64_t parameter would otherwise arrive as 18446744073709551615.
[[noreturn]] void throw_argument_out_of_range(const char* function, std::size_t position,
                                              const std::string& value, const std::string& type);

// Converts an argument to its parameter's type before it is encoded, so the
// worker reads exactly the bytes of the type it expects.
template <typename Parameter, typename Argument>
Parameter convert_task_argument(Argument&& value, const char* function, std::size_t position) {
  using A = std::decay_t<Argument>;
  if constexpr (std::is_integral_v<A> && std::is_integral_v<Parameter> &&
                !std::is_same_v<A, bool> && !std::is_same_v<Parameter, bool> &&
                !std::is_same_v<A, Parameter>) {
    const auto converted = static_cast<Parameter>(value);
    if (static_cast<A>(converted) != value || is_negative(converted) != is_negative(value))
      throw_argument_out_of_range(function, position, std::to_string(value), ::mw::type_name<Parameter>());
    return converted;
  } else {
    return static_cast<Parameter>(std::forward<Argument>(value));
  }
}

template <typename R, typename... P, typename... Ts, std::size_t... I>
Args encode_task_arguments(const TaskFunction<R(P...)>& function, std::index_sequence<I...>,
                           Ts&&... values) {
  return Args{encode_values(convert_task_argument<std::decay_t<P>>(std::forward<Ts>(values),
                                                                   function.name, I + 1)...),
              {&typeid(std::decay_t<P>)...}};
}

}  // namespace detail

struct Progress {
  std::uint64_t submitted = 0;
  std::uint64_t finished = 0;  // done + failed + cancelled
  std::uint64_t failed = 0;
  double elapsed_seconds = 0;
  double rate_per_second = 0;  // finished tasks per second, recent average
  double eta_seconds = -1;     // -1 when unknown
};

struct MasterOptions {
  // With a work directory the master keeps a journal there (SQLite, WAL): a
  // master restarted on the same directory gets every finished result back
  // without recomputing it and never delivers a result twice.
  std::string work_dir;
  // Back-pressure (Sleigh's loadFactor): submit_task blocks while this many
  // tasks wait for a worker. 0 = no bound.
  std::size_t max_waiting = 0;
  // Called from the master's own thread after every finished task (keep it short).
  std::function<void(const Progress&)> on_progress;
  // Draw a one-line progress bar (count, rate, ETA) on stderr when it is a terminal.
  bool progress_bar = false;
  // Run every task twice and check that both runs agree, with the comparison
  // BOINC's mw-validator uses (mw/result_compare.h), so non-deterministic
  // output shows up before the tasks go to volunteers. The first run's result
  // is delivered either way; a disagreement goes to on_double_run_mismatch
  // (else one line on stderr) and is counted in
  // status().details.details["double_run_mismatches"]. Costs twice the work.
  std::optional<CompareOptions> double_run;
  std::function<void(std::uint64_t task_id, const std::string& why)> on_double_run_mismatch;
  // Serve a live status page on "HOST:PORT" (port 0: any free one; see
  // Master::status_address()), for people watching a long run (docs/status.md):
  // / is the page, /status.json the same data, /metrics for Prometheus. Off
  // when empty. A HOST other than a loopback address needs status_token,
  // which every request must then carry. Error(usage) if this build of
  // mwkit has no status server (MW_WITH_STATUS_SERVER=OFF).
  std::string status_listen;
  std::string status_token;
};

struct Status {
  std::uint64_t waiting = 0;    // submitted, not yet on a worker
  std::uint64_t running = 0;
  std::uint64_t finished = 0;   // done or failed, not yet delivered by get_result
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;     // among finished + delivered
  std::uint64_t cancelled = 0;
  std::uint64_t from_journal = 0;  // results restored from the journal, not recomputed
  std::string interface;
  InterfaceStatus details;
};

class Master {
 public:
  // The multicore interface with one worker per core.
  Master();
  explicit Master(MasterOptions options);
  Master(std::unique_ptr<Interface> interface, MasterOptions options = {});
  // Any interface configuration with `std::unique_ptr<Interface> make_interface() const`
  // (mw::Multicore, mw::Simulator, ...).
  template <typename Config,
            typename = decltype(std::declval<const Config&>().make_interface())>
  explicit Master(const Config& config, MasterOptions options = {})
      : Master(config.make_interface(), std::move(options)) {}
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // Queue a task; returns at once (unless max_waiting is reached).
  Task submit_task(const Function& function, const Args& arguments, TaskOptions options = {});
  Task submit_task(const Exec& exec, TaskOptions options = {});

  // Typed submission of a function registered with MW_TASK(f), through the
  // mw_task_f it defines: each argument must convert to its parameter's type
  // (else a compile error naming the position), and is converted before it is
  // encoded. get_result(TypedTask<R>) then returns an R.
  template <typename R, typename... P, typename... Ts>
  TypedTask<R> submit(const TaskFunction<R(P...)>& function, Ts&&... values);
  template <typename R, typename... P, typename... Ts>
  TypedTask<R> submit(TaskOptions options, const TaskFunction<R(P...)>& function, Ts&&... values);
  // A plain function cannot be checked at compile time for having been
  // registered: this overload only explains what to pass instead.
  template <typename R, typename... P, typename... Ts>
  TypedTask<R> submit(R (*function)(P...), Ts&&...);

  // The next finished task, in completion order, waiting for one if needed.
  // Throws TaskFailed for a failed task (its handle is in the exception), and
  // Error(Errc::unknown_task) when nothing is submitted and undelivered.
  Finished get_result();
  // The same without waiting: nullopt when nothing has finished yet.
  std::optional<Finished> try_get_result();
  // One task's result, waiting for it. Errc::unknown_task for a handle this
  // master never issued or whose result was already delivered; TaskFailed if
  // it failed; Errc::cancelled if it was cancelled.
  Result get_result(Task task);
  // nullopt when it has not finished and `blocking` is false.
  std::optional<Result> get_result(Task task, bool blocking);
  // A typed task's value (nothing for a void function); throws as get_result(Task).
  template <typename R>
  R get_result(TypedTask<R> task);
  template <typename R>
  std::optional<R> get_result(TypedTask<R> task, bool blocking);

  // Runs `function` on each input and returns the results in input order
  // (Sleigh's eachElem). Streams under max_waiting; throws the first TaskFailed.
  template <typename R, typename In>
  std::vector<R> map(const Function& function, const std::vector<In>& inputs,
                     TaskOptions options = {});
  // The same for a typed function (mw_task_f): an input is its one argument,
  // or a std::tuple of its arguments; each is checked and converted as in submit().
  template <typename R, typename... P, typename In>
  std::vector<R> map(const TaskFunction<R(P...)>& function, const std::vector<In>& inputs,
                     TaskOptions options = {});

  // Runs an initialisation once on every worker, now and on workers started later.
  void each_worker(const Function& function, const Args& arguments = args());

  // Cancels a task that has not finished: true if it was cancelled.
  bool cancel(Task task);
  // Cancels every unfinished task; returns how many.
  std::size_t cancel_all();

  Status status() const;
  // Where the status server listens ("127.0.0.1:41234"); empty when it is off.
  std::string status_address() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  Task submit(TaskSpec spec);
  void start_status_server();
};

template <typename R, typename In>
std::vector<R> Master::map(const Function& function, const std::vector<In>& inputs,
                           TaskOptions options) {
  std::vector<Task> tasks;
  tasks.reserve(inputs.size());
  for (const auto& input : inputs) tasks.push_back(submit_task(function, args(input), options));
  std::vector<R> out;
  out.reserve(inputs.size());
  for (const auto& t : tasks) out.push_back(get_result(t).template value<R>());
  return out;
}

template <typename R, typename... P, typename... Ts>
TypedTask<R> Master::submit(const TaskFunction<R(P...)>& function, Ts&&... values) {
  return submit(TaskOptions{}, function, std::forward<Ts>(values)...);
}

template <typename R, typename... P, typename... Ts>
TypedTask<R> Master::submit(TaskOptions options, const TaskFunction<R(P...)>& function,
                            Ts&&... values) {
  static_assert(sizeof...(Ts) == sizeof...(P),
                "mw::Master::submit: the number of arguments differs from the task function's "
                "number of parameters");
  if constexpr (sizeof...(Ts) == sizeof...(P)) {
    // Every argument's check is instantiated (each failing one reports itself) before any encoding.
    if constexpr (detail::check_task_arguments<std::tuple<std::decay_t<P>...>, std::tuple<Ts&&...>,
                                               std::index_sequence_for<P...>>::ok) {
      Args encoded = detail::encode_task_arguments(function, std::index_sequence_for<P...>{},
                                                   std::forward<Ts>(values)...);
      return TypedTask<R>{submit_task(Function{function.name}, encoded, std::move(options))};
    }
  }
  return TypedTask<R>{};
}

template <typename R, typename... P, typename... Ts>
TypedTask<R> Master::submit(R (*)(P...), Ts&&...) {
  static_assert(sizeof(R*) == 0,
                "mw::Master::submit: pass the registration MW_TASK(f) defines, mw_task_f, not the "
                "function f itself (an unregistered function has none)");
  return TypedTask<R>{};
}

template <typename R>
R Master::get_result(TypedTask<R> task) {
  Result result = get_result(static_cast<Task>(task));
  if constexpr (!std::is_void_v<R>) return result.template value<R>();
}

template <typename R>
std::optional<R> Master::get_result(TypedTask<R> task, bool blocking) {
  std::optional<Result> result = get_result(static_cast<Task>(task), blocking);
  if (!result) return std::nullopt;
  return result->template value<R>();
}

template <typename R, typename... P, typename In>
std::vector<R> Master::map(const TaskFunction<R(P...)>& function, const std::vector<In>& inputs,
                           TaskOptions options) {
  std::vector<TypedTask<R>> tasks;
  tasks.reserve(inputs.size());
  for (const auto& input : inputs) {
    if constexpr (sizeof...(P) == 1)
      tasks.push_back(submit(options, function, input));
    else
      tasks.push_back(std::apply(
          [&](const auto&... arguments) { return submit(options, function, arguments...); }, input));
  }
  std::vector<R> out;
  out.reserve(inputs.size());
  for (const auto& t : tasks) out.push_back(get_result(t));
  return out;
}

}  // namespace mw
