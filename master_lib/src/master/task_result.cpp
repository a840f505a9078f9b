#include <sstream>

#include "mw/error.h"
#include "mw/result.h"
#include "mw/task.h"
#include "util/fs.h"

namespace mw {

Exec::Exec(std::string program, std::vector<std::string> arguments)
    : program_(std::move(program)), arguments_(std::move(arguments)) {}

Exec& Exec::input(const std::string& path, std::string name) {
  inputs_.push_back({name.empty() ? detail::base_name(path) : std::move(name), path, ""});
  return *this;
}

Exec& Exec::input_bytes(std::string name, std::string bytes) {
  inputs_.push_back({std::move(name), "", std::move(bytes)});
  return *this;
}

Exec& Exec::output(std::string name, std::uint64_t max_bytes, bool optional) {
  outputs_.push_back({std::move(name), max_bytes, optional});
  return *this;
}

Exec& Exec::env(std::string name, std::string value) {
  const std::string problem = env_name_problem(name);
  if (!problem.empty()) throw Error(Errc::usage, "Exec::env: " + problem);
  for (auto& var : env_)
    if (var.name == name) {
      var.value = std::move(value);  // the last setting wins
      return *this;
    }
  env_.push_back({std::move(name), std::move(value)});
  return *this;
}

Exec& Exec::ship_program(bool ship) {
  ship_program_ = ship;
  return *this;
}

const std::string& Result::output(std::string_view name) const {
  auto it = outcome_.outputs.find(std::string(name));
  if (it == outcome_.outputs.end())
    throw Error(Errc::usage, "task " + std::to_string(task_.id) + " has no output named '" +
                                 std::string(name) + "'");
  return it->second;
}

namespace {

std::string failure_message(Task task, const std::string& name, const Outcome& o) {
  std::ostringstream s;
  s << "task " << task.id;
  if (!name.empty()) s << " (" << name << ")";
  s << " failed: " << to_string(o.status);
  if (!o.reason.empty()) s << ": " << o.reason;
  if (!o.worker.empty()) s << " [worker " << o.worker << "]";
  if (!o.stderr_tail.empty()) s << "\n--- stderr tail ---\n" << o.stderr_tail;
  return s.str();
}

}  // namespace

TaskFailed::TaskFailed(Task task, std::string task_name, Outcome outcome)
    : Error(Errc::task_failed, failure_message(task, task_name, outcome)),
      task_(task),
      task_name_(std::move(task_name)),
      outcome_(std::move(outcome)) {}

}  // namespace mw
