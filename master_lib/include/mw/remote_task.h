// mw/remote_task.h — a TaskSpec as a task bundle, and a result bundle as an
// Outcome: what back ends that run tasks on other machines (BOINC, HTCondor)
// move, in the one task format (docs/task-format.md).
//
// A function task becomes: program = the worker program (shipped, so the other
// machine runs the same binary), function = its name, input member args.bin =
// the encoded arguments, output value.bin = the encoded return value (the
// --mw-call convention of mw/worker.h). An exec task keeps its program (shipped
// when Exec::ship_program, else a host path), arguments, inputs and outputs.
#pragma once

#include <string>

#include "mw/bundle.h"
#include "mw/result.h"
#include "mw/task.h"

namespace mw {

// Member names of a function task's argument and value files.
inline constexpr const char* kArgsMember = "args.bin";
inline constexpr const char* kValueMember = "value.bin";

// `worker_program` is the mwkit worker binary that runs function tasks (usually
// this program). Errc::usage naming the task when it cannot be expressed (an
// exec program that is neither shipped nor an absolute path).
TaskBuilder remote_task_builder(const TaskSpec& task, const std::string& worker_program);

// Reads the result bundle at `path` (hostile input: bounded, hashes checked)
// into the Outcome the Master expects for `task`. A bundle that cannot be read
// becomes a failed Outcome saying why (status rejected), never an exception.
Outcome outcome_from_result_bundle(const std::string& path, const TaskSpec& task,
                                   const std::string& worker_name);

}  // namespace mw
