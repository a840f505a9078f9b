// mw/task.h — what a master submits: a function call or an executable.
//
//   master.submit(mw_task_monte_pi, seed, samples);   // typed (mw/task_function.h)
//   master.submit_task(mw::fn("monte_pi"), mw::args(seed, samples));  // by name, for dynamic use
//   master.submit_task(mw::Exec("/usr/bin/gzip", {"-k", "data.txt"})
//                          .input("/home/me/data.txt").output("data.txt.gz"));
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "mw/task_format.h"
#include "mw/task_function.h"
#include "mw/values.h"

namespace mw {

// A function registered with MW_TASK in the worker program (mw/worker.h).
struct Function {
  std::string name;
};
inline Function fn(std::string name) { return Function{std::move(name)}; }
// The name of a registered function (for each_worker and the other calls that take a Function).
template <typename Signature>
Function fn(const TaskFunction<Signature>& function) {
  return Function{function.name};
}

// Encoded arguments of a function task (mw/values.h).
struct Args {
  std::string bytes;
  // The encoded values' types, when mw::args made them: a master whose own
  // program registers the function checks them against its parameters at
  // submit time (the bytes carry no types; the worker could only say that
  // some read went wrong). Empty: not checked.
  std::vector<const std::type_info*> types = {};
};
template <typename... Ts>
Args args(const Ts&... values) {
  return Args{encode_values(values...), {&typeid(Ts)...}};
}

// An executable run once per task with an argument vector (never a shell).
class Exec {
 public:
  explicit Exec(std::string program, std::vector<std::string> arguments = {});

  // A file copied into the task's scratch directory before it runs.
  Exec& input(const std::string& path, std::string name = "");
  Exec& input_bytes(std::string name, std::string bytes);
  // A file the task must leave in its directory (result.output(name) returns it).
  Exec& output(std::string name, std::uint64_t max_bytes = 64ULL << 20, bool optional = false);
  // Ship `program` with the task instead of expecting it on the worker host
  // (needed for remote back ends; multicore runs it in place either way).
  Exec& ship_program(bool ship = true);
  // Sets NAME=VALUE in the task's environment. A task gets only a fixed base
  // (PATH, HOME, TMPDIR, LANG, PWD; docs/task-format.md §10.1) plus what it
  // declares here — nothing of the master's. Throws Error(Errc::usage) for a
  // name that is not [A-Za-z_][A-Za-z0-9_]* or that the runner sets itself.
  // Bundled tasks carry these in task.xml, under its signature.
  Exec& env(std::string name, std::string value);

  const std::string& program() const { return program_; }
  const std::vector<std::string>& arguments() const { return arguments_; }

 private:
  friend class Master;
  std::string program_;
  std::vector<std::string> arguments_;
  struct Input {
    std::string name, path, bytes;
  };
  std::vector<Input> inputs_;
  std::vector<OutputSpec> outputs_;
  std::vector<EnvVar> env_;
  bool ship_program_ = false;
};

// Per-task settings that every kind of task takes.
struct TaskOptions {
  std::string name;     // for people and logs; default "task_<id>"
  Limits limits;        // enforced by the worker (wall, CPU, memory, output bytes)
  Estimates estimates;  // hints for schedulers and the simulator's cost model
};

// What an interface receives: one self-contained description of a task.
struct TaskSpec {
  enum class Kind { function, exec };
  std::uint64_t id = 0;
  std::string name;
  Kind kind = Kind::function;
  // function tasks
  std::string function;
  std::string args;  // encoded (mw/values.h)
  // exec tasks
  std::string program;
  std::vector<std::string> arguments;
  struct Input {
    std::string name;
    std::string path;   // a file on the master's machine, or
    std::string bytes;  // the content itself when path is empty
  };
  std::vector<Input> inputs;
  std::vector<OutputSpec> outputs;
  std::vector<EnvVar> env;  // declared environment variables
  bool ship_program = false;
  Limits limits;
  Estimates estimates;
};

}  // namespace mw
