// Internal: what identifies a task's content across runs of a program — the
// master's journal checks that a restarted program submits the same task
// under the same id, and the remote BOINC ledger that a job it finds was made
// for this task. Hex SHA-256 over the kind, name, function and arguments, the
// program and its arguments, the inputs (by name and path, or by their bytes
// when given inline) and the declared outputs.
#pragma once

#include <string>

#include "mw/task.h"

namespace mw::detail {

std::string task_fingerprint(const TaskSpec& task);

}  // namespace mw::detail
