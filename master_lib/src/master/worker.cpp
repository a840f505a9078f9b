// The worker side of function tasks: the registry MW_TASK fills, the
// persistent worker loop (frames on fds 3 and 4) and the one-call mode the
// runner uses for function tasks inside bundles.
#include "mw/worker.h"
#include "mw/log.h"

#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

#include "master/frames.h"
#include "mw/error.h"
#include "util/fs.h"

namespace mw {
namespace detail {
namespace {

struct Registered {
  TaskInvoker invoker;
  bool has_parameters = false;
  std::vector<const std::type_info*> parameters;
};

std::map<std::string, Registered>& registry() {
  static std::map<std::string, Registered> functions;
  return functions;
}

double cpu_seconds_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Runs one registered function; a thrown exception becomes the failure message.
bool invoke(const std::string& name, const std::string& args, std::string& value_or_message) {
  const TaskInvoker* invoker = find_task_function(name);
  if (!invoker) {
    value_or_message = "no function named '" + name + "' is registered in this worker program "
                       "(MW_TASK(" + name + ") missing, or a different program); registered: " +
                       registered_task_names();
    return false;
  }
  try {
    value_or_message = (*invoker)(args);
    return true;
  } catch (const std::exception& e) {
    value_or_message = std::string("function ") + name + " threw: " + e.what();
  } catch (...) {
    value_or_message = std::string("function ") + name + " threw an exception that is not a std::exception";
  }
  return false;
}

// A master killed with SIGKILL cannot stop its workers, and the parent-death
// signal follows the thread that forked a worker, not the master
// (mw/multicore.h, die_with_parent). The master's end of the task pipe closes
// with the master, though: this thread waits for that hangup and ends the
// worker, even in the middle of a task that never reads again.
void end_with_the_task_pipe(int tasks_fd) {
  std::thread([tasks_fd] {
    pollfd hangup{tasks_fd, 0, 0};  // no events asked: poll reports only POLLHUP/POLLERR/POLLNVAL
    for (;;) {
      const int n = ::poll(&hangup, 1, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0 && (hangup.revents & (POLLHUP | POLLERR))) std::_Exit(0);
      return;  // not a pipe we can watch: the reader's EOF still ends the worker
    }
  }).detach();
}

[[noreturn]] void persistent_worker() {
  constexpr int kTasksFd = 3, kResultsFd = 4;
  end_with_the_task_pipe(kTasksFd);
  write_frame(kResultsFd, FrameType::ready, "");
  FrameReader reader(kTasksFd);
  FrameType type;
  std::string payload, result;
  for (;;) {
    bool more = false;
    try {
      more = reader.next(type, payload);
    } catch (const Error& e) {
      mw::log(mw::LogLevel::error, std::string("mw worker: ") + e.what());
      std::_Exit(3);
    }
    if (!more) std::exit(0);  // the master closed the pipe or died
    auto [id, name, args] =
        decode_values<std::tuple<std::uint64_t, std::string, std::string>>(payload, "task frame");
    const double cpu_before = cpu_seconds_now();
    const bool ok = invoke(name, args, result);
    const double cpu = cpu_seconds_now() - cpu_before;
    // What the function printed belongs to this task: push it out before answering.
    std::fflush(stdout);
    std::cout.flush();
    write_frame(kResultsFd, FrameType::done, encode_values(id, ok, result, cpu));
  }
}

[[noreturn]] void one_call(const std::string& name, const std::string& dir) {
  std::string args, result;
  try {
    args = read_file(join_path(dir, "args.bin"), 1ULL << 32);
  } catch (const Error& e) {
    mw::log(mw::LogLevel::error, std::string("mw worker: ") + e.what());
    std::exit(2);
  }
  if (!invoke(name, args, result)) {
    mw::log(mw::LogLevel::error, "mw worker: " + result);
    std::exit(1);
  }
  try {
    write_file_atomic(join_path(dir, "value.bin"), result);
  } catch (const Error& e) {
    mw::log(mw::LogLevel::error, std::string("mw worker: ") + e.what());
    std::exit(2);
  }
  std::exit(0);
}

}  // namespace

bool register_task_function(const char* name, TaskInvoker invoker) {
  registry()[name] = Registered{std::move(invoker), false, {}};
  return true;
}

bool register_task_function(const char* name, TaskInvoker invoker,
                            std::vector<const std::type_info*> parameters) {
  registry()[name] = Registered{std::move(invoker), true, std::move(parameters)};
  return true;
}

const TaskInvoker* find_task_function(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second.invoker;
}

const std::vector<const std::type_info*>* find_task_parameters(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() || !it->second.has_parameters ? nullptr : &it->second.parameters;
}

std::string registered_task_names() {
  std::string names;
  for (const auto& [name, registered] : registry()) names += (names.empty() ? "" : ", ") + name;
  return names.empty() ? "none" : names;
}

}  // namespace detail

void worker_main_if_requested(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--mw-worker") == 0) detail::persistent_worker();
  if (argc >= 3 && std::strcmp(argv[1], "--mw-call") == 0)
    detail::one_call(argv[2], argc >= 4 ? argv[3] : ".");
}

}  // namespace mw
