#include "sweep.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>

#include "mw/error.h"
#include "mw/log.h"
#include "util/elf_inspect.h"

namespace mw::work_generator {
namespace {

using nlohmann::json;

std::string resolve(const std::string& dir, const std::string& path) {
  return path.empty() || path.front() == '/' ? path : dir + "/" + path;
}

}  // namespace

SweepReader::SweepReader(const std::string& path, const boinc::WorkunitSettings& defaults)
    : path_(path), defaults_(defaults) {
  const auto slash = path.rfind('/');
  dir_ = slash == std::string::npos ? "." : path.substr(0, slash);
  file_ = std::fopen(path.c_str(), "re");
  if (!file_) throw Error(Errc::io, "cannot open sweep '" + path + "': " + std::strerror(errno));
}

SweepReader::~SweepReader() {
  if (file_) std::fclose(file_);
}

bool SweepReader::next(SweepTask& task) {
  std::string text;
  for (;;) {
    text.clear();
    int c;
    while ((c = std::fgetc(file_)) != EOF && c != '\n') text.push_back(static_cast<char>(c));
    if (c == EOF && text.empty()) {
      if (std::ferror(file_)) throw Error(Errc::io, "cannot read sweep '" + path_ + "'");
      return false;
    }
    ++line_;
    if (text.find_first_not_of(" \t\r") != std::string::npos) break;
  }
  const std::string where = path_ + ":" + std::to_string(line_);
  auto bad = [&](const std::string& field, const std::string& why) -> Error {
    return Error(Errc::format, where + ": " + (field.empty() ? "" : "field '" + field + "': ") + why);
  };
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw bad("", std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) throw bad("", "each line must be a JSON object");
  static const char* const kKnown[] = {"program", "function", "args", "inputs", "outputs", "name",
                                       "fpops_est", "fpops_bound", "memory_bound", "disk_bound"};
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) throw bad(key, "unknown field (a typo would silently change the task)");
  }
  auto text_field = [&](const char* key, bool required) -> std::string {
    if (!j.contains(key)) {
      if (required) throw bad(key, "missing");
      return "";
    }
    if (!j[key].is_string()) throw bad(key, "must be a string");
    return j[key].get<std::string>();
  };

  const std::string name = j.contains("name") ? text_field("name", false) : "task" + std::to_string(line_);
  auto builder = std::make_unique<TaskBuilder>(name);
  try {
    const std::string program = resolve(dir_, text_field("program", true));
    builder->bundled_program(program);
    // Before anything is staged, once per program: a volunteer host has only
    // the BOINC client and glibc, so a program that needs more fails there.
    if (checked_programs_.insert(program).second) {
      const std::string warning = detail::volunteer_program_warning(program);
      if (!warning.empty()) mw::log(mw::LogLevel::warning, "mw-work-generator: " + warning);
    }
    if (j.contains("function")) builder->function(text_field("function", false));
    if (j.contains("args")) {
      if (!j["args"].is_array()) throw bad("args", "must be an array of strings");
      for (const auto& a : j["args"]) {
        if (!a.is_string()) throw bad("args", "must be an array of strings");
        builder->arg(a.get<std::string>());
      }
    }
    if (j.contains("inputs")) {
      if (!j["inputs"].is_object()) throw bad("inputs", "must map member names to files");
      for (const auto& [member, file] : j["inputs"].items()) {
        if (!file.is_string()) throw bad("inputs." + member, "must be a file path");
        builder->file(resolve(dir_, file.get<std::string>()), FileRole::input, member);
      }
    }
    if (j.contains("outputs")) {
      if (!j["outputs"].is_object()) throw bad("outputs", "must map output names to byte limits");
      for (const auto& [output, limit] : j["outputs"].items()) {
        if (!limit.is_number_unsigned() || limit.get<std::uint64_t>() == 0)
          throw bad("outputs." + output, "must be a positive whole number of bytes");
        builder->output(output, limit.get<std::uint64_t>());
      }
    }
    builder->manifest();  // validates names and the rest now, with this line's context
  } catch (const Error& e) {
    if (std::string(e.what()).rfind(where, 0) == 0) throw;
    throw Error(e.code(), where + ": " + e.what());
  }
  std::optional<boinc::WorkunitSettings> settings;
  auto number = [&](const char* key, double& target) {
    if (!j.contains(key)) return;
    if (!j[key].is_number() || j[key].get<double>() <= 0) throw bad(key, "must be a positive number");
    if (!settings) settings = defaults_;
    target = j[key].get<double>();
  };
  boinc::WorkunitSettings s = defaults_;
  number("fpops_est", s.rsc_fpops_est);
  number("fpops_bound", s.rsc_fpops_bound);
  number("memory_bound", s.rsc_memory_bound);
  number("disk_bound", s.rsc_disk_bound);
  if (settings) settings = s;
  task.builder = std::move(builder);
  task.settings = settings;
  task.line = line_;
  return true;
}

}  // namespace mw::work_generator
