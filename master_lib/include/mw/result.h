// mw/result.h — what get_result hands back, and the exception a failed task raises.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "mw/error.h"
#include "mw/task.h"
#include "mw/task_format.h"
#include "mw/values.h"

namespace mw {

// The finished task as the worker reported it.
struct Outcome {
  ResultStatus status = ResultStatus::success;
  std::string reason;          // empty on success
  std::string value;           // function task: encoded return value
  std::map<std::string, std::string> outputs;  // exec task: output name -> content
  std::string stdout_text;     // what the task printed (capped)
  std::string stderr_tail;     // the last part of its stderr
  std::optional<int> exit_code;
  std::optional<int> signal;
  double cpu_seconds = 0;
  double wall_seconds = 0;
  std::string worker;          // which worker ran it, for people
};

class Result {
 public:
  Result() = default;
  Result(Task task, Outcome outcome) : task_(task), outcome_(std::move(outcome)) {}

  Task task() const { return task_; }
  const Outcome& outcome() const { return outcome_; }

  // A function task's return value, decoded as T.
  template <typename T>
  T value() const {
    return decode_value<T>(outcome_.value, "result of task " + std::to_string(task_.id));
  }
  // An exec task's output file (Errc::usage if the task declared no such output).
  const std::string& output(std::string_view name) const;
  const std::string& stdout_text() const { return outcome_.stdout_text; }
  double cpu_seconds() const { return outcome_.cpu_seconds; }
  double wall_seconds() const { return outcome_.wall_seconds; }

 private:
  Task task_;
  Outcome outcome_;
};

// get_result throws this for a task that ran and failed. what() says which task,
// how it failed and ends with the tail of its stderr.
class TaskFailed : public Error {
 public:
  TaskFailed(Task task, std::string task_name, Outcome outcome);
  Task task() const { return task_; }
  const std::string& task_name() const { return task_name_; }
  ResultStatus status() const { return outcome_.status; }
  const std::string& reason() const { return outcome_.reason; }
  const std::string& stderr_tail() const { return outcome_.stderr_tail; }
  const Outcome& outcome() const { return outcome_; }

 private:
  Task task_;
  std::string task_name_;
  Outcome outcome_;
};

// A task that get_result returns, with its result.
struct Finished {
  Task task;
  Result result;
};

}  // namespace mw
