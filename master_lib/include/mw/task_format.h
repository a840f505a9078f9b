// mw/task_format.h — task manifest (task.xml) and result manifest (result.xml), format v1.
//
// The normative description is docs/task-format.md; this header is its C++ face.
// Writers produce canonical bytes (same manifest → same bytes), because the
// signature covers task.xml byte for byte. Parsers are strict: an unknown format
// version, an unknown or missing element, a mistyped value, a duplicate or a bad
// name is an Error(Errc::format) whose message names the source file and the
// field path, e.g. "task.xml: /mw_task/files/file[2]/size: expected a
// non-negative integer, got '12x'".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mw {

inline constexpr int kTaskFormatVersion = 1;

// Names of the fixed members of a bundle. Task and result files may not use them,
// nor any name beginning with "mw." (reserved for mwkit's own members).
inline constexpr const char* kTaskManifestName = "task.xml";
inline constexpr const char* kTaskSignatureName = "task.sig";
inline constexpr const char* kResultManifestName = "result.xml";
inline constexpr const char* kStdoutName = "mw.stdout";
inline constexpr const char* kStderrName = "mw.stderr";

// A file name allowed inside a task or result: 1–128 characters from
// [A-Za-z0-9._-], not starting with '.' or '-', not a reserved name.
bool is_valid_member_name(std::string_view name) noexcept;

enum class FileRole { program, input, data };
const char* to_string(FileRole role) noexcept;

struct TaskFile {
  std::string name;     // member name in the bundle and file name in the scratch dir
  FileRole role = FileRole::input;
  std::uint64_t size = 0;
  std::string sha256;   // 64 lowercase hex digits
  bool executable = false;  // set the execute bit after unpacking (implied for role program)
};

struct OutputSpec {
  std::string name;
  std::uint64_t max_bytes = 0;  // > 0
  bool optional = false;        // a missing optional output is not an error
};

// Absent = no limit from the manifest (the runner may still apply its own).
struct Limits {
  std::optional<double> wall_seconds;
  std::optional<double> cpu_seconds;
  std::optional<std::uint64_t> memory_bytes;  // resident memory of the whole task
  std::optional<std::uint64_t> disk_bytes;    // bytes the outputs may take together
};

// Hints for schedulers (BOINC's rsc_fpops_est etc.); never enforced by the runner.
struct Estimates {
  std::optional<double> cpu_seconds;
  std::optional<double> fpops;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> disk_bytes;
};

// What to run. Exactly one of bundled_file / host_path is set.
struct Program {
  std::string bundled_file;  // a member of the task with role program
  std::string host_path;     // an absolute path that must exist on the worker host
  // Set for a function task: the program is an mwkit worker binary and runs the
  // registered function of this name (argv: PROGRAM --mw-call NAME ARGS...).
  std::string function;
};

// A variable the task declares for its environment (signed with the rest of
// task.xml). The runner gives a task only a fixed base plus these.
struct EnvVar {
  std::string name;   // [A-Za-z_][A-Za-z0-9_]*, at most 128 chars; not one the runner sets
  std::string value;  // any text XML can carry
  bool operator==(const EnvVar& o) const { return name == o.name && value == o.value; }
};

// Why `name` cannot be a declared environment variable, or "" if it can.
// The runner's own (PWD, HOME, TMPDIR, MW_TASK_NAME) are refused.
std::string env_name_problem(std::string_view name);

struct TaskManifest {
  int format_version = kTaskFormatVersion;
  std::string name;  // 1–128 chars of [A-Za-z0-9._-]
  Program program;
  std::vector<std::string> args;
  std::vector<EnvVar> env;  // <env>, after <args>; names unique
  std::vector<TaskFile> files;
  std::vector<OutputSpec> outputs;
  Limits limits;
  Estimates estimates;

  const TaskFile* find_file(std::string_view name) const noexcept;
};

// Semantic checks shared by writer and parser: names, duplicates, the program
// file present with role program, positive limits. Throws Error(Errc::format)
// naming `source` and the field.
void validate_task(const TaskManifest& task, const std::string& source = kTaskManifestName);

std::string task_to_xml(const TaskManifest& task);  // validates first
TaskManifest parse_task_xml(std::string_view xml, const std::string& source = kTaskManifestName);

enum class ResultStatus {
  success,             // exited 0 and every required output is present and within its limit
  nonzero_exit,        // exited with a non-zero code
  signaled,            // killed by a signal the runner did not send
  wall_time_exceeded,  // the runner killed it at the wall-time limit
  cpu_time_exceeded,   // CPU-time limit reached
  memory_exceeded,     // resident-memory limit reached
  output_missing,      // a required output was not produced
  output_too_large,    // an output exceeded its max_bytes (or all outputs disk_bytes)
  exec_failed,         // the program could not be started
  rejected,            // the task never ran: bad signature, hash, manifest or unsafe bundle
};
const char* to_string(ResultStatus status) noexcept;
std::optional<ResultStatus> parse_result_status(std::string_view text) noexcept;

struct OutputFile {
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;
};

struct ResultManifest {
  int format_version = kTaskFormatVersion;
  std::string task_name;
  std::string task_sha256;  // SHA-256 of the task.xml bytes this result answers; empty if unknown
  ResultStatus status = ResultStatus::success;
  std::string reason;       // one line for people; empty on success
  std::optional<int> exit_code;
  std::optional<int> signal;
  double cpu_seconds = 0;
  double wall_seconds = 0;
  std::uint64_t peak_memory_bytes = 0;
  std::vector<OutputFile> outputs;  // includes mw.stdout / mw.stderr when captured
  std::uint64_t stdout_bytes = 0;   // total written by the task (may exceed what was kept)
  std::uint64_t stderr_bytes = 0;
  std::string stderr_tail;          // last few KiB of stderr, made valid UTF-8 text

  bool ok() const noexcept { return status == ResultStatus::success; }
  const OutputFile* find_output(std::string_view name) const noexcept;
};

void validate_result(const ResultManifest& result, const std::string& source = kResultManifestName);
std::string result_to_xml(const ResultManifest& result);
ResultManifest parse_result_xml(std::string_view xml, const std::string& source = kResultManifestName);

// Makes arbitrary bytes safe to store as XML text: invalid UTF-8 and control
// characters other than \n and \t become U+FFFD.
std::string to_xml_safe_text(std::string_view bytes);

}  // namespace mw
