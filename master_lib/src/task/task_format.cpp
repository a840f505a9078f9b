// task.xml / result.xml, format v1. docs/task-format.md is the normative text;
// this file follows its sections: names, semantic validation, reading, writing.
#include "mw/task_format.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <system_error>

#include "mw/error.h"
#include "task/xml_reader.h"
#include "task/xml_text.h"
#include "task/xml_writer.h"

namespace mw {
namespace {

constexpr std::size_t kMaxNameLength = 128;
constexpr std::size_t kMaxHostPathLength = 4096;
constexpr std::size_t kMaxFunctionLength = 128;

// Where errors go: every message is "<source>: <path>: <what>", plus the line
// when the field came from a document, so people can find it.
class Context {
 public:
  explicit Context(const std::string& source) : source_(source) {}

  void note_line(const std::string& path, int line) { lines_.emplace(path, line); }

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    std::string message = source_ + ": " + path + ": " + what;
    if (auto it = lines_.find(path); it != lines_.end())
      message += " (line " + std::to_string(it->second) + ")";
    throw Error(Errc::format, message);
  }

 private:
  const std::string& source_;
  std::map<std::string, int> lines_;
};

std::string indexed(const std::string& path, const char* name, std::size_t zero_based) {
  return path + "/" + name + "[" + std::to_string(zero_based + 1) + "]";
}

std::string quoted(std::string_view value) { return xml::quote_for_message(value); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && xml::is_xml_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && xml::is_xml_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string format_double(double value) {
  // Whole numbers people write (60 seconds, 1e12 fpops) stay plain integers;
  // below 2^53 every integer is exact, so the text is exact too. This also
  // turns -0 into 0, so equal values give equal bytes.
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (std::fabs(value) < kExactIntegers && value == std::trunc(value))
    return std::to_string(static_cast<std::int64_t>(value));
  char buffer[64];
  // Otherwise the shortest text that reads back to exactly this double,
  // independent of the locale.
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// ---------------------------------------------------------------- names

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

// Scratch directories may live on case-insensitive file systems (macOS and
// Windows volunteers), where "Out.txt" and "out.txt" are the same file.
std::string fold_case(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// What is wrong with a member or task name, or nullopt if nothing is.
std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) return std::string("a name must not be empty");
  if (name.size() > kMaxNameLength)
    return "name is " + std::to_string(name.size()) + " characters long, more than " +
           std::to_string(kMaxNameLength);
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!is_name_char(name[i]))
      return "invalid name " + quoted(name) + ": character " + quoted(name.substr(i, 1)) +
             " at position " + std::to_string(i + 1) +
             " is not allowed (only A-Z a-z 0-9 . _ -)";
  if (name[0] == '.' || name[0] == '-')
    return "invalid name " + quoted(name) + ": must not start with '.' or '-'";
  // Compared ignoring case: on a case-insensitive file system "TASK.XML"
  // would land on top of task.xml.
  const std::string folded = fold_case(name);
  if (folded == kTaskManifestName || folded == kTaskSignatureName ||
      folded == kResultManifestName)
    return "invalid name " + quoted(name) + ": reserved for mwkit's own bundle members";
  if (folded.compare(0, 3, "mw.") == 0)
    return "invalid name " + quoted(name) + ": the prefix 'mw.' is reserved for mwkit";
  return std::nullopt;
}

bool is_stream_name(std::string_view name) { return name == kStdoutName || name == kStderrName; }

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_valid_function_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxFunctionLength) return false;
  const char first = name[0];
  if (!((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z') || first == '_'))
    return false;
  for (char c : name)
    if (!is_name_char(c) && c != ':') return false;
  return true;
}

// Remembers names seen so far and reports the first clash, ignoring ASCII case.
class NameSet {
 public:
  // Returns the path of an earlier holder of `name`, or nullptr.
  const std::string* insert(std::string_view name, const std::string& path) {
    auto [it, inserted] = seen_.emplace(fold_case(name), path);
    return inserted ? nullptr : &it->second;
  }

 private:
  std::map<std::string, std::string> seen_;
};

// ---------------------------------------------------------------- validation

void check_format_version(int version, const std::string& path, const Context& ctx) {
  if (version != kTaskFormatVersion)
    ctx.fail(path, "unsupported format version " + std::to_string(version) +
                       " (this reader knows " + std::to_string(kTaskFormatVersion) + ")");
}

void check_name(std::string_view name, const std::string& path, const Context& ctx) {
  if (auto problem = name_problem(name)) ctx.fail(path, *problem);
}

void check_sha256(std::string_view text, const std::string& path, const Context& ctx) {
  if (!is_sha256_hex(text))
    ctx.fail(path, "expected 64 lowercase hexadecimal digits, got " + quoted(text));
}

void check_xml_text(std::string_view text, const std::string& path, const Context& ctx) {
  if (auto problem = xml::xml_text_problem(text)) ctx.fail(path, "cannot be stored: " + *problem);
}

void check_positive(std::optional<double> value, const std::string& path, const Context& ctx) {
  if (value && !(std::isfinite(*value) && *value > 0))
    ctx.fail(path, "must be a finite number greater than 0, got " + format_double(*value));
}

void check_positive(std::optional<std::uint64_t> value, const std::string& path,
                    const Context& ctx) {
  if (value && *value == 0) ctx.fail(path, "must be greater than 0, got 0");
}

void check_non_negative(std::optional<double> value, const std::string& path,
                        const Context& ctx) {
  if (value && !(std::isfinite(*value) && *value >= 0))
    ctx.fail(path, "must be a finite number not below 0, got " + format_double(*value));
}

void check_int_range(std::optional<int> value, int lo, int hi, const std::string& path,
                     const Context& ctx) {
  if (value && (*value < lo || *value > hi))
    ctx.fail(path, "expected an integer from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", got " + quoted(std::to_string(*value)));
}

bool is_known_role(FileRole role) {
  return role == FileRole::program || role == FileRole::input || role == FileRole::data;
}

void check_program(const TaskManifest& task, const Context& ctx) {
  const std::string path = "/mw_task/program";
  const Program& p = task.program;
  if (p.bundled_file.empty() == p.host_path.empty())
    ctx.fail(path, "exactly one of <bundled_file> and <host_path> must be given");
  if (!p.bundled_file.empty()) {
    const std::string field = path + "/bundled_file";
    check_name(p.bundled_file, field, ctx);
    const TaskFile* file = task.find_file(p.bundled_file);
    if (!file) ctx.fail(field, "no file named " + quoted(p.bundled_file) + " in /mw_task/files");
    if (file->role != FileRole::program)
      ctx.fail(field, "file " + quoted(p.bundled_file) + " has role " + to_string(file->role) +
                          ", but a bundled program needs role program");
  } else {
    const std::string field = path + "/host_path";
    if (p.host_path[0] != '/')
      ctx.fail(field, "must be an absolute path, got " + quoted(p.host_path));
    if (p.host_path.size() > kMaxHostPathLength)
      ctx.fail(field, "is " + std::to_string(p.host_path.size()) + " bytes long, more than " +
                          std::to_string(kMaxHostPathLength));
    if (p.host_path.find('\0') != std::string::npos) ctx.fail(field, "contains a NUL byte");
    check_xml_text(p.host_path, field, ctx);
  }
  if (!p.function.empty() && !is_valid_function_name(p.function))
    ctx.fail(path + "/function",
             "invalid function name " + quoted(p.function) +
                 ": expected a letter or '_' then up to 127 of A-Z a-z 0-9 _ . : -");
}

void check_files(const TaskManifest& task, const Context& ctx, NameSet& names) {
  for (std::size_t i = 0; i < task.files.size(); ++i) {
    const TaskFile& f = task.files[i];
    const std::string path = indexed("/mw_task/files", "file", i);
    check_name(f.name, path + "/name", ctx);
    if (const std::string* first = names.insert(f.name, path))
      ctx.fail(path + "/name", "duplicate file name " + quoted(f.name) + " (also " + *first +
                                   "; names are compared ignoring case)");
    if (!is_known_role(f.role))
      ctx.fail(path + "/role", "invalid role value " + std::to_string(static_cast<int>(f.role)));
    check_sha256(f.sha256, path + "/sha256", ctx);
  }
}

void check_outputs(const TaskManifest& task, const Context& ctx, NameSet& names) {
  for (std::size_t i = 0; i < task.outputs.size(); ++i) {
    const OutputSpec& o = task.outputs[i];
    const std::string path = indexed("/mw_task/outputs", "output", i);
    check_name(o.name, path + "/name", ctx);
    // Files and outputs share one scratch directory: an output named like an
    // input would overwrite it, and the result would be ambiguous.
    if (const std::string* first = names.insert(o.name, path))
      ctx.fail(path + "/name", "output name " + quoted(o.name) + " is already used by " +
                                   *first + " (names are compared ignoring case)");
    if (o.max_bytes == 0) ctx.fail(path + "/max_bytes", "must be greater than 0, got 0");
  }
}

void check_env(const TaskManifest& task, const Context& ctx) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < task.env.size(); ++i) {
    const std::string path = indexed("/mw_task/env", "var", i);
    const std::string problem = env_name_problem(task.env[i].name);
    if (!problem.empty()) ctx.fail(path + "/name", problem);
    if (!seen.insert(task.env[i].name).second)
      ctx.fail(path + "/name", "variable " + quoted(task.env[i].name) + " is declared twice");
    check_xml_text(task.env[i].value, path + "/value", ctx);
  }
}

void validate_task_in(const TaskManifest& task, const Context& ctx) {
  check_format_version(task.format_version, "/mw_task/@format_version", ctx);
  check_name(task.name, "/mw_task/name", ctx);
  for (std::size_t i = 0; i < task.args.size(); ++i)
    check_xml_text(task.args[i], indexed("/mw_task/args", "arg", i), ctx);
  check_env(task, ctx);
  NameSet names;
  check_files(task, ctx, names);
  check_program(task, ctx);
  check_outputs(task, ctx, names);

  const std::string limits = "/mw_task/limits";
  check_positive(task.limits.wall_seconds, limits + "/wall_seconds", ctx);
  check_positive(task.limits.cpu_seconds, limits + "/cpu_seconds", ctx);
  check_positive(task.limits.memory_bytes, limits + "/memory_bytes", ctx);
  check_positive(task.limits.disk_bytes, limits + "/disk_bytes", ctx);
  const std::string estimates = "/mw_task/estimates";
  check_non_negative(task.estimates.cpu_seconds, estimates + "/cpu_seconds", ctx);
  check_non_negative(task.estimates.fpops, estimates + "/fpops", ctx);
}

void validate_result_in(const ResultManifest& result, const Context& ctx) {
  check_format_version(result.format_version, "/mw_result/@format_version", ctx);
  check_name(result.task_name, "/mw_result/task_name", ctx);
  if (!result.task_sha256.empty()) check_sha256(result.task_sha256, "/mw_result/task_sha256", ctx);
  if (!parse_result_status(to_string(result.status)))
    ctx.fail("/mw_result/status",
             "invalid status value " + std::to_string(static_cast<int>(result.status)));
  check_int_range(result.exit_code, 0, 255, "/mw_result/exit_code", ctx);
  check_int_range(result.signal, 1, 127, "/mw_result/signal", ctx);
  check_non_negative(result.cpu_seconds, "/mw_result/cpu_seconds", ctx);
  check_non_negative(result.wall_seconds, "/mw_result/wall_seconds", ctx);

  NameSet names;
  for (std::size_t i = 0; i < result.outputs.size(); ++i) {
    const OutputFile& o = result.outputs[i];
    const std::string path = indexed("/mw_result/outputs", "output", i);
    if (!is_stream_name(o.name)) check_name(o.name, path + "/name", ctx);
    if (const std::string* first = names.insert(o.name, path))
      ctx.fail(path + "/name", "duplicate output name " + quoted(o.name) + " (also " + *first +
                                   "; names are compared ignoring case)");
    check_sha256(o.sha256, path + "/sha256", ctx);
  }
}

// ---------------------------------------------------------------- reading

// A strict view of one element: on construction it rejects attributes and
// child elements it was not told about and any non-whitespace text, so that
// a v1 reader never silently ignores something a newer writer meant.
class Fields {
 public:
  Fields(const xml::Element& el, std::string path, Context& ctx,
         std::initializer_list<std::string_view> children,
         std::initializer_list<std::string_view> attributes = {})
      : el_(el), path_(std::move(path)), ctx_(ctx) {
    check_known(el_, path_, ctx_, children, attributes);
    if (!xml::is_all_xml_space(el_.text))
      ctx_.fail(path_,
                "unexpected text " + quoted(trim(el_.text)) + " (only elements belong here)");
  }

  const std::string& path() const { return path_; }
  std::string path_of(const char* name) const { return path_ + "/" + name; }

  // The child called `name`, or nullptr; two of them are an error.
  const xml::Element* optional(const char* name) const {
    const xml::Element* found = nullptr;
    for (const xml::Element& child : el_.children) {
      if (child.name != name) continue;
      if (found) {
        ctx_.note_line(path_of(name), child.line);
        ctx_.fail(path_of(name), std::string("element <") + name +
                                     "> appears more than once (first at line " +
                                     std::to_string(found->line) + ")");
      }
      found = &child;
    }
    return found;
  }

  const xml::Element& required(const char* name) const {
    const xml::Element* found = optional(name);
    if (!found)
      ctx_.fail(path_of(name), std::string("missing required element <") + name + "> in <" +
                                   el_.name + "> (line " + std::to_string(el_.line) + ")");
    return *found;
  }

  std::vector<const xml::Element*> repeated(const char* name) const {
    std::vector<const xml::Element*> found;
    for (const xml::Element& child : el_.children)
      if (child.name == name) found.push_back(&child);
    return found;
  }

  // Rejects attributes and child elements not in the lists; says nothing about text.
  static void check_known(const xml::Element& el, const std::string& path, Context& ctx,
                          std::initializer_list<std::string_view> children,
                          std::initializer_list<std::string_view> attributes) {
    ctx.note_line(path, el.line);
    for (const xml::Attribute& a : el.attributes)
      if (!contains(attributes, a.name)) {
        ctx.note_line(path + "/@" + a.name, el.line);
        ctx.fail(path + "/@" + a.name, "unknown attribute");
      }
    for (const xml::Element& child : el.children)
      if (!contains(children, child.name)) {
        ctx.note_line(path + "/" + child.name, child.line);
        ctx.fail(path + "/" + child.name, "unknown element <" + child.name + ">");
      }
  }

 private:
  static bool contains(std::initializer_list<std::string_view> names, std::string_view name) {
    for (std::string_view n : names)
      if (n == name) return true;
    return false;
  }

  const xml::Element& el_;
  std::string path_;
  Context& ctx_;
};

// The text of an element that holds text only: nothing else may be inside.
std::string read_text(const xml::Element& el, const std::string& path, Context& ctx) {
  Fields::check_known(el, path, ctx, {}, {});
  return el.text;
}

// A flag: <executable/>. Its presence is the value, so it must be empty.
bool read_flag(const xml::Element* el, const std::string& path, Context& ctx) {
  if (!el) return false;
  Fields(*el, path, ctx, {});  // also rejects text such as <executable>false</executable>
  return true;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

std::uint64_t parse_u64(std::string_view text, const std::string& path, const Context& ctx) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!all_digits(text)) ctx.fail(path, "expected a non-negative integer, got " + quoted(text));
  if (ec != std::errc() || end != text.data() + text.size())
    ctx.fail(path, "expected a non-negative integer below 2^64, got " + quoted(text));
  return value;
}

std::uint64_t read_u64(const xml::Element& el, const std::string& path, Context& ctx) {
  return parse_u64(read_text(el, path, ctx), path, ctx);
}

// Decimal numbers only: -?digits(.digits)?([eE][+-]?digits)? — no hex, no
// inf/nan, no whitespace, so every reader in every language agrees.
bool is_decimal_number(std::string_view t) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (!digits()) return false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

double read_double(const xml::Element& el, const std::string& path, Context& ctx) {
  const std::string text = read_text(el, path, ctx);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!is_decimal_number(text) || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value))
    ctx.fail(path, "expected a finite decimal number, got " + quoted(text));
  return value;
}

int read_int_in_range(const xml::Element& el, const std::string& path, Context& ctx, int lo,
                      int hi) {
  const std::string text = read_text(el, path, ctx);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!all_digits(text) || ec != std::errc() || end != text.data() + text.size() ||
      value < static_cast<std::uint64_t>(lo) || value > static_cast<std::uint64_t>(hi))
    ctx.fail(path, "expected an integer from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", got " + quoted(text));
  return static_cast<int>(value);
}

template <typename T, typename Reader>
std::optional<T> read_optional(const Fields& fields, const char* name, Context& ctx,
                               Reader read) {
  const xml::Element* el = fields.optional(name);
  if (!el) return std::nullopt;
  return read(*el, fields.path_of(name), ctx);
}

int read_format_version(const xml::Element& root, const std::string& root_path, Context& ctx) {
  const std::string path = root_path + "/@format_version";
  ctx.note_line(path, root.line);
  for (const xml::Attribute& a : root.attributes) {
    if (a.name != "format_version") continue;
    const std::string_view text = a.value;
    const std::string_view digits = text.substr(!text.empty() && text[0] == '-' ? 1 : 0);
    int version = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
    if (!all_digits(digits) || ec != std::errc() || end != text.data() + text.size())
      ctx.fail(path, "expected an integer, got " + quoted(text));
    check_format_version(version, path, ctx);
    return version;
  }
  ctx.fail(path, "missing required attribute format_version");
}

void check_root(const xml::Element& root, const char* expected, const Context& ctx) {
  if (root.name != expected)
    ctx.fail("/" + root.name.substr(0, kMaxNameLength),
             std::string("expected the root element <") + expected + ">");
}

Program read_program(const xml::Element& el, const std::string& path, Context& ctx) {
  const Fields fields(el, path, ctx, {"bundled_file", "host_path", "function"});
  const xml::Element* bundled = fields.optional("bundled_file");
  const xml::Element* host = fields.optional("host_path");
  if (bool(bundled) == bool(host))
    ctx.fail(path, "exactly one of <bundled_file> and <host_path> must be given");
  // In the struct an empty string means "not given", so a present but empty
  // element must be refused here, where that difference is still visible.
  auto non_empty = [&](const xml::Element& child, const char* name) {
    std::string text = read_text(child, fields.path_of(name), ctx);
    if (text.empty()) ctx.fail(fields.path_of(name), "must not be empty");
    return text;
  };
  Program program;
  if (bundled) program.bundled_file = non_empty(*bundled, "bundled_file");
  if (host) program.host_path = non_empty(*host, "host_path");
  if (const xml::Element* fn = fields.optional("function"))
    program.function = non_empty(*fn, "function");
  return program;
}

FileRole read_role(const xml::Element& el, const std::string& path, Context& ctx) {
  const std::string text = read_text(el, path, ctx);
  for (FileRole role : {FileRole::program, FileRole::input, FileRole::data})
    if (text == to_string(role)) return role;
  ctx.fail(path, "expected program, input or data, got " + quoted(text));
}

TaskFile read_file(const xml::Element& el, const std::string& path, Context& ctx) {
  const Fields fields(el, path, ctx, {"name", "role", "size", "sha256", "executable"});
  TaskFile file;
  file.name = read_text(fields.required("name"), fields.path_of("name"), ctx);
  file.role = read_role(fields.required("role"), fields.path_of("role"), ctx);
  file.size = read_u64(fields.required("size"), fields.path_of("size"), ctx);
  file.sha256 = read_text(fields.required("sha256"), fields.path_of("sha256"), ctx);
  file.executable = read_flag(fields.optional("executable"), fields.path_of("executable"), ctx);
  return file;
}

OutputSpec read_output_spec(const xml::Element& el, const std::string& path, Context& ctx) {
  const Fields fields(el, path, ctx, {"name", "max_bytes", "optional"});
  OutputSpec output;
  output.name = read_text(fields.required("name"), fields.path_of("name"), ctx);
  output.max_bytes = read_u64(fields.required("max_bytes"), fields.path_of("max_bytes"), ctx);
  output.optional = read_flag(fields.optional("optional"), fields.path_of("optional"), ctx);
  return output;
}

EnvVar read_env_var(const xml::Element& el, const std::string& path, Context& ctx) {
  const Fields fields(el, path, ctx, {"name", "value"});
  EnvVar var;
  var.name = read_text(fields.required("name"), fields.path_of("name"), ctx);
  var.value = read_text(fields.required("value"), fields.path_of("value"), ctx);
  return var;
}

// <args>, <files>, <outputs>: a list of one kind of element, read in order.
template <typename T, typename Reader>
std::vector<T> read_list(const Fields& parent, const char* list_name, const char* item_name,
                         Context& ctx, Reader read) {
  std::vector<T> items;
  const xml::Element* list = parent.optional(list_name);
  if (!list) return items;
  const Fields fields(*list, parent.path_of(list_name), ctx, {item_name});
  const auto elements = fields.repeated(item_name);
  for (std::size_t i = 0; i < elements.size(); ++i)
    items.push_back(read(*elements[i], indexed(fields.path(), item_name, i), ctx));
  return items;
}

Limits read_limits(const xml::Element& el, const std::string& path, Context& ctx) {
  const Fields f(el, path, ctx, {"wall_seconds", "cpu_seconds", "memory_bytes", "disk_bytes"});
  Limits limits;
  limits.wall_seconds = read_optional<double>(f, "wall_seconds", ctx, read_double);
  limits.cpu_seconds = read_optional<double>(f, "cpu_seconds", ctx, read_double);
  limits.memory_bytes = read_optional<std::uint64_t>(f, "memory_bytes", ctx, read_u64);
  limits.disk_bytes = read_optional<std::uint64_t>(f, "disk_bytes", ctx, read_u64);
  return limits;
}

Estimates read_estimates(const xml::Element& el, const std::string& path, Context& ctx) {
  const Fields f(el, path, ctx, {"cpu_seconds", "fpops", "memory_bytes", "disk_bytes"});
  Estimates estimates;
  estimates.cpu_seconds = read_optional<double>(f, "cpu_seconds", ctx, read_double);
  estimates.fpops = read_optional<double>(f, "fpops", ctx, read_double);
  estimates.memory_bytes = read_optional<std::uint64_t>(f, "memory_bytes", ctx, read_u64);
  estimates.disk_bytes = read_optional<std::uint64_t>(f, "disk_bytes", ctx, read_u64);
  return estimates;
}

OutputFile read_output_file(const xml::Element& el, const std::string& path, Context& ctx) {
  const Fields fields(el, path, ctx, {"name", "size", "sha256"});
  OutputFile output;
  output.name = read_text(fields.required("name"), fields.path_of("name"), ctx);
  output.size = read_u64(fields.required("size"), fields.path_of("size"), ctx);
  output.sha256 = read_text(fields.required("sha256"), fields.path_of("sha256"), ctx);
  return output;
}

ResultStatus read_status(const xml::Element& el, const std::string& path, Context& ctx) {
  const std::string text = read_text(el, path, ctx);
  if (auto status = parse_result_status(text)) return *status;
  ctx.fail(path, "unknown status " + quoted(text) +
                     " (expected success, nonzero_exit, signaled, wall_time_exceeded, "
                     "cpu_time_exceeded, memory_exceeded, output_missing, output_too_large, "
                     "exec_failed or rejected)");
}

// ---------------------------------------------------------------- writing

// What mwkit writes, mwkit must be able to read back.
std::string finish_within_reader_limits(xml::Writer& w, const char* what) {
  std::string out = w.finish();
  if (w.element_count() > xml::kMaxElements || out.size() > xml::kMaxDocumentBytes)
    throw Error(Errc::format, std::string(what) + ": the manifest would have " +
                                  std::to_string(w.element_count()) + " elements and " +
                                  std::to_string(out.size()) + " bytes; readers accept at most " +
                                  std::to_string(xml::kMaxElements) + " elements and " +
                                  std::to_string(xml::kMaxDocumentBytes) + " bytes");
  return out;
}

void write_optional(xml::Writer& w, const char* name, const std::optional<double>& value) {
  if (value) w.text(name, format_double(*value));
}

void write_optional(xml::Writer& w, const char* name, const std::optional<std::uint64_t>& value) {
  if (value) w.text(name, std::to_string(*value));
}

void write_program(xml::Writer& w, const Program& program) {
  w.open("program");
  if (!program.bundled_file.empty()) w.text("bundled_file", program.bundled_file);
  if (!program.host_path.empty()) w.text("host_path", program.host_path);
  if (!program.function.empty()) w.text("function", program.function);
  w.close("program");
}

void write_files(xml::Writer& w, const std::vector<TaskFile>& files) {
  if (files.empty()) return;
  w.open("files");
  for (const TaskFile& f : files) {
    w.open("file");
    w.text("name", f.name);
    w.text("role", to_string(f.role));
    w.text("size", std::to_string(f.size));
    w.text("sha256", f.sha256);
    if (f.executable) w.flag("executable");
    w.close("file");
  }
  w.close("files");
}

void write_outputs(xml::Writer& w, const std::vector<OutputSpec>& outputs) {
  if (outputs.empty()) return;
  w.open("outputs");
  for (const OutputSpec& o : outputs) {
    w.open("output");
    w.text("name", o.name);
    w.text("max_bytes", std::to_string(o.max_bytes));
    if (o.optional) w.flag("optional");
    w.close("output");
  }
  w.close("outputs");
}

void write_limits(xml::Writer& w, const Limits& l) {
  if (!l.wall_seconds && !l.cpu_seconds && !l.memory_bytes && !l.disk_bytes) return;
  w.open("limits");
  write_optional(w, "wall_seconds", l.wall_seconds);
  write_optional(w, "cpu_seconds", l.cpu_seconds);
  write_optional(w, "memory_bytes", l.memory_bytes);
  write_optional(w, "disk_bytes", l.disk_bytes);
  w.close("limits");
}

void write_estimates(xml::Writer& w, const Estimates& e) {
  if (!e.cpu_seconds && !e.fpops && !e.memory_bytes && !e.disk_bytes) return;
  w.open("estimates");
  write_optional(w, "cpu_seconds", e.cpu_seconds);
  write_optional(w, "fpops", e.fpops);
  write_optional(w, "memory_bytes", e.memory_bytes);
  write_optional(w, "disk_bytes", e.disk_bytes);
  w.close("estimates");
}

}  // namespace

// ---------------------------------------------------------------- public API

bool is_valid_member_name(std::string_view name) noexcept {
  try {
    return !name_problem(name);
  } catch (...) {  // only std::bad_alloc, from building the message
    return false;
  }
}

const char* to_string(FileRole role) noexcept {
  switch (role) {
    case FileRole::program: return "program";
    case FileRole::input: return "input";
    case FileRole::data: return "data";
  }
  return "unknown";
}

const char* to_string(ResultStatus status) noexcept {
  switch (status) {
    case ResultStatus::success: return "success";
    case ResultStatus::nonzero_exit: return "nonzero_exit";
    case ResultStatus::signaled: return "signaled";
    case ResultStatus::wall_time_exceeded: return "wall_time_exceeded";
    case ResultStatus::cpu_time_exceeded: return "cpu_time_exceeded";
    case ResultStatus::memory_exceeded: return "memory_exceeded";
    case ResultStatus::output_missing: return "output_missing";
    case ResultStatus::output_too_large: return "output_too_large";
    case ResultStatus::exec_failed: return "exec_failed";
    case ResultStatus::rejected: return "rejected";
  }
  return "unknown";
}

std::optional<ResultStatus> parse_result_status(std::string_view text) noexcept {
  for (ResultStatus s :
       {ResultStatus::success, ResultStatus::nonzero_exit, ResultStatus::signaled,
        ResultStatus::wall_time_exceeded, ResultStatus::cpu_time_exceeded,
        ResultStatus::memory_exceeded, ResultStatus::output_missing,
        ResultStatus::output_too_large, ResultStatus::exec_failed, ResultStatus::rejected})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

const TaskFile* TaskManifest::find_file(std::string_view file_name) const noexcept {
  for (const TaskFile& f : files)
    if (f.name == file_name) return &f;
  return nullptr;
}

const OutputFile* ResultManifest::find_output(std::string_view output_name) const noexcept {
  for (const OutputFile& o : outputs)
    if (o.name == output_name) return &o;
  return nullptr;
}

std::string env_name_problem(std::string_view name) {
  if (name.empty() || name.size() > 128)
    return "an environment variable name has 1 to 128 characters, got " + std::to_string(name.size());
  const auto ok = [](char c, bool first) {
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
  };
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!ok(name[i], i == 0))
      return "environment variable name " + quoted(std::string(name)) +
             " is not [A-Za-z_][A-Za-z0-9_]*";
  for (const char* reserved : {"PWD", "HOME", "TMPDIR", "MW_TASK_NAME"})
    if (name == reserved)
      return "environment variable " + quoted(std::string(name)) + " is set by the runner";
  return {};
}

void validate_task(const TaskManifest& task, const std::string& source) {
  validate_task_in(task, Context(source));
}

void validate_result(const ResultManifest& result, const std::string& source) {
  validate_result_in(result, Context(source));
}

std::string task_to_xml(const TaskManifest& task) {
  validate_task(task);
  xml::Writer w;
  w.open("mw_task", "format_version", std::to_string(kTaskFormatVersion));
  w.text("name", task.name);
  write_program(w, task.program);
  if (!task.args.empty()) {
    w.open("args");
    for (const std::string& arg : task.args) w.text("arg", arg);
    w.close("args");
  }
  if (!task.env.empty()) {
    w.open("env");
    for (const EnvVar& var : task.env) {
      w.open("var");
      w.text("name", var.name);
      w.text("value", var.value);
      w.close("var");
    }
    w.close("env");
  }
  write_files(w, task.files);
  write_outputs(w, task.outputs);
  write_limits(w, task.limits);
  write_estimates(w, task.estimates);
  w.close("mw_task");
  return finish_within_reader_limits(w, kTaskManifestName);
}

TaskManifest parse_task_xml(std::string_view bytes, const std::string& source) {
  Context ctx(source);
  const xml::Element root = xml::parse_document(bytes, source);
  check_root(root, "mw_task", ctx);
  TaskManifest task;
  task.format_version = read_format_version(root, "/mw_task", ctx);
  const Fields top(root, "/mw_task", ctx,
                   {"name", "program", "args", "env", "files", "outputs", "limits", "estimates"},
                   {"format_version"});
  task.name = read_text(top.required("name"), top.path_of("name"), ctx);
  task.program = read_program(top.required("program"), top.path_of("program"), ctx);
  task.args = read_list<std::string>(top, "args", "arg", ctx, read_text);
  task.env = read_list<EnvVar>(top, "env", "var", ctx, read_env_var);
  task.files = read_list<TaskFile>(top, "files", "file", ctx, read_file);
  task.outputs = read_list<OutputSpec>(top, "outputs", "output", ctx, read_output_spec);
  if (const xml::Element* el = top.optional("limits"))
    task.limits = read_limits(*el, top.path_of("limits"), ctx);
  if (const xml::Element* el = top.optional("estimates"))
    task.estimates = read_estimates(*el, top.path_of("estimates"), ctx);
  validate_task_in(task, ctx);
  return task;
}

std::string result_to_xml(const ResultManifest& result) {
  validate_result(result);
  xml::Writer w;
  w.open("mw_result", "format_version", std::to_string(kTaskFormatVersion));
  w.text("task_name", result.task_name);
  if (!result.task_sha256.empty()) w.text("task_sha256", result.task_sha256);
  w.text("status", to_string(result.status));
  // Reason and stderr come from the task and the host: make them storable
  // rather than refuse to report a result because of a stray byte.
  if (!result.reason.empty()) w.text("reason", to_xml_safe_text(result.reason));
  if (result.exit_code) w.text("exit_code", std::to_string(*result.exit_code));
  if (result.signal) w.text("signal", std::to_string(*result.signal));
  w.text("cpu_seconds", format_double(result.cpu_seconds));
  w.text("wall_seconds", format_double(result.wall_seconds));
  w.text("peak_memory_bytes", std::to_string(result.peak_memory_bytes));
  w.text("stdout_bytes", std::to_string(result.stdout_bytes));
  w.text("stderr_bytes", std::to_string(result.stderr_bytes));
  if (!result.outputs.empty()) {
    w.open("outputs");
    for (const OutputFile& o : result.outputs) {
      w.open("output");
      w.text("name", o.name);
      w.text("size", std::to_string(o.size));
      w.text("sha256", o.sha256);
      w.close("output");
    }
    w.close("outputs");
  }
  if (!result.stderr_tail.empty()) w.text("stderr_tail", to_xml_safe_text(result.stderr_tail));
  w.close("mw_result");
  return finish_within_reader_limits(w, kResultManifestName);
}

ResultManifest parse_result_xml(std::string_view bytes, const std::string& source) {
  Context ctx(source);
  const xml::Element root = xml::parse_document(bytes, source);
  check_root(root, "mw_result", ctx);
  ResultManifest r;
  r.format_version = read_format_version(root, "/mw_result", ctx);
  const Fields top(root, "/mw_result", ctx,
                   {"task_name", "task_sha256", "status", "reason", "exit_code", "signal",
                    "cpu_seconds", "wall_seconds", "peak_memory_bytes", "stdout_bytes",
                    "stderr_bytes", "outputs", "stderr_tail"},
                   {"format_version"});
  r.task_name = read_text(top.required("task_name"), top.path_of("task_name"), ctx);
  r.task_sha256 = read_optional<std::string>(top, "task_sha256", ctx, read_text).value_or("");
  r.status = read_status(top.required("status"), top.path_of("status"), ctx);
  r.reason = read_optional<std::string>(top, "reason", ctx, read_text).value_or("");
  auto exit_code = [](const xml::Element& el, const std::string& path, Context& c) {
    return read_int_in_range(el, path, c, 0, 255);
  };
  auto signal = [](const xml::Element& el, const std::string& path, Context& c) {
    return read_int_in_range(el, path, c, 1, 127);
  };
  r.exit_code = read_optional<int>(top, "exit_code", ctx, exit_code);
  r.signal = read_optional<int>(top, "signal", ctx, signal);
  r.cpu_seconds = read_double(top.required("cpu_seconds"), top.path_of("cpu_seconds"), ctx);
  r.wall_seconds = read_double(top.required("wall_seconds"), top.path_of("wall_seconds"), ctx);
  r.peak_memory_bytes =
      read_u64(top.required("peak_memory_bytes"), top.path_of("peak_memory_bytes"), ctx);
  r.stdout_bytes = read_u64(top.required("stdout_bytes"), top.path_of("stdout_bytes"), ctx);
  r.stderr_bytes = read_u64(top.required("stderr_bytes"), top.path_of("stderr_bytes"), ctx);
  r.outputs = read_list<OutputFile>(top, "outputs", "output", ctx, read_output_file);
  r.stderr_tail = read_optional<std::string>(top, "stderr_tail", ctx, read_text).value_or("");
  validate_result_in(r, ctx);
  return r;
}

std::string to_xml_safe_text(std::string_view bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t pos = 0; pos < bytes.size();) {
    const xml::Utf8Step step = xml::decode_utf8(bytes, pos);
    const char32_t cp = step.code_point;
    // Unicode's control characters (C0, DEL, C1) except tab and line feed, and
    // the two code points XML forbids outright.
    const bool control = (cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7F && cp <= 0x9F);
    if (!step.valid || control || cp == 0xFFFE || cp == 0xFFFF)
      out += kReplacement;
    else
      out.append(bytes.substr(pos, step.length));
    pos += step.length;
  }
  return out;
}

}  // namespace mw
