#include "mw/remote_task.h"

#include "mw/error.h"

namespace mw {

TaskBuilder remote_task_builder(const TaskSpec& task, const std::string& worker_program) {
  TaskBuilder b(task.name);
  if (task.kind == TaskSpec::Kind::function) {
    b.bundled_program(worker_program).function(task.function);
    b.file_bytes(kArgsMember, task.args, FileRole::input);
    b.output(kValueMember, task.limits.disk_bytes.value_or(64ull << 20));
  } else {
    if (task.ship_program) {
      b.bundled_program(task.program);
    } else if (!task.program.empty() && task.program.front() == '/') {
      b.host_program(task.program);
    } else {
      throw Error(Errc::usage, "task '" + task.name + "': program '" + task.program +
                                   "' must be shipped (Exec::ship_program) or an absolute path "
                                   "on the remote host");
    }
    b.args(task.arguments);
    for (const auto& var : task.env) b.env(var.name, var.value);
    for (const auto& in : task.inputs) {
      if (in.path.empty()) b.file_bytes(in.name, in.bytes, FileRole::input);
      else b.file(in.path, FileRole::input, in.name);
    }
    for (const auto& out : task.outputs) b.output(out.name, out.max_bytes, out.optional);
  }
  b.limits(task.limits);
  b.estimates(task.estimates);
  return b;
}

Outcome outcome_from_result_bundle(const std::string& path, const TaskSpec& task,
                                   const std::string& worker_name) {
  Outcome o;
  o.worker = worker_name;
  try {
    ResultBundle bundle = ResultBundle::open(path);
    const ResultManifest& m = bundle.manifest();
    o.status = m.status;
    o.reason = m.reason;
    o.exit_code = m.exit_code;
    o.signal = m.signal;
    o.cpu_seconds = m.cpu_seconds;
    o.wall_seconds = m.wall_seconds;
    o.stderr_tail = m.stderr_tail;
    if (m.find_output("mw.stdout")) o.stdout_text = bundle.read_output("mw.stdout");
    if (task.kind == TaskSpec::Kind::function) {
      if (m.ok()) {
        if (!m.find_output(kValueMember)) {
          o.status = ResultStatus::output_missing;
          o.reason = std::string("the result has no ") + kValueMember;
        } else {
          o.value = bundle.read_output(kValueMember);
        }
      }
    } else {
      for (const auto& out : task.outputs)
        if (m.find_output(out.name)) o.outputs[out.name] = bundle.read_output(out.name);
    }
  } catch (const Error& e) {
    o = Outcome{};
    o.worker = worker_name;
    o.status = ResultStatus::rejected;
    o.reason = std::string("unreadable result bundle: ") + e.what();
  }
  return o;
}

}  // namespace mw
