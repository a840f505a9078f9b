// Checking untrusted result bundles and deciding whether two of them agree.
#include "mw/result_compare.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "mw/error.h"
#include "runner/process.h"
#include "util/fs.h"

namespace mw {
namespace {

bool parse_number(const std::string& token, double& value) {
  if (token.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(token.c_str(), &end);
  return end && *end == '\0';
}

std::vector<std::string> tokens_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

void set_why(std::string* why, const std::string& text) {
  if (why) *why = text;
}

// Both runs ended the same way: status, exit code, signal.
bool same_ending(ResultStatus sa, ResultStatus sb, const std::optional<int>& ea, const std::optional<int>& eb,
                 const std::optional<int>& ga, const std::optional<int>& gb, std::string* why) {
  if (sa != sb) {
    set_why(why, std::string("status ") + to_string(sa) + " vs " + to_string(sb));
    return false;
  }
  if (ea != eb || ga != gb) {
    set_why(why, "exit code or signal differ");
    return false;
  }
  return true;
}

// Runs the external comparison on two directories of outputs.
bool external_dirs_agree(const std::string& dir_a, const std::string& dir_b, const std::string& root,
                         const CompareOptions& options, std::string* why) {
  detail::ProcessSpec spec;
  spec.argv = {options.compare_command, dir_a, dir_b};
  spec.cwd = root;
  spec.limits.wall_seconds = options.compare_timeout_seconds;
  spec.stdout_cap = 4096;
  spec.stderr_cap = 4096;
  detail::ProcessOutcome out = detail::run_process(spec);
  std::string who = "comparison program '" + options.compare_command + "'";
  switch (out.ending) {
    case detail::ProcessEnding::exited:
      if (out.exit_code == 0) return true;
      if (out.exit_code == 1) {
        set_why(why, who + " says they differ" +
                         (out.stdout_data.empty() ? "" : ": " + to_xml_safe_text(out.stdout_data)));
        return false;
      }
      throw Error(Errc::system, who + " exited with status " + std::to_string(out.exit_code) +
                                    " (0 = agree, 1 = differ)" +
                                    (out.stderr_data.empty() ? "" : ": " + to_xml_safe_text(out.stderr_data)));
    case detail::ProcessEnding::wall_time:
      throw Error(Errc::system, who + " did not finish within " +
                                    std::to_string(options.compare_timeout_seconds) + " s");
    case detail::ProcessEnding::exec_failed:
      throw Error(Errc::system, who + " could not be started: " + out.exec_error);
    default:
      throw Error(Errc::system, who + " was killed (signal " + std::to_string(out.signal) + ")");
  }
}

std::string scratch_root_of(const CompareOptions& options) {
  return options.scratch_root.empty() ? detail::default_temp_root() : options.scratch_root;
}

bool external_agree(const CheckedResult& a, const CheckedResult& b, const CompareOptions& options,
                    std::string* why) {
  std::string root = scratch_root_of(options);
  detail::TempDir dir_a(root, "mw-compare-a-");
  detail::TempDir dir_b(root, "mw-compare-b-");
  ResultCheckLimits limits;
  ResultBundle::open(a.path, limits.unpack).extract_to(dir_a.path());
  ResultBundle::open(b.path, limits.unpack).extract_to(dir_b.path());
  return external_dirs_agree(dir_a.path(), dir_b.path(), root, options, why);
}

// An outcome's comparable files: its outputs, stdout and a function's value.
std::map<std::string, std::string> files_of(const Outcome& o) {
  std::map<std::string, std::string> files = o.outputs;
  files[kStdoutName] = o.stdout_text;
  if (!o.value.empty()) files["mw.value"] = o.value;
  return files;
}

}  // namespace

CheckedResult load_checked_result(const std::string& path, const CompareOptions& options,
                                  const ResultCheckLimits& limits) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    throw Error(Errc::io, "result bundle '" + path + "': " + detail::errno_text(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(Errc::unsafe_bundle, "result bundle '" + path + "' is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > limits.max_bundle_bytes)
    throw Error(Errc::unsafe_bundle, "result bundle '" + path + "' is " + std::to_string(st.st_size) +
                                         " bytes, more than the limit of " +
                                         std::to_string(limits.max_bundle_bytes));
  ResultBundle bundle = ResultBundle::open(path, limits.unpack);
  CheckedResult checked;
  checked.path = path;
  checked.manifest = bundle.manifest();
  for (const auto& out : checked.manifest.outputs) {
    std::string data = bundle.read_output(out.name);  // verifies size and SHA-256
    if (options.numeric_outputs.count(out.name)) checked.numeric_texts[out.name] = std::move(data);
  }
  return checked;
}

bool numeric_texts_agree(const std::string& a, const std::string& b, double rel_tolerance,
                         double abs_tolerance, std::string* why) {
  std::vector<std::string> ta = tokens_of(a), tb = tokens_of(b);
  if (ta.size() != tb.size()) {
    set_why(why, std::to_string(ta.size()) + " tokens against " + std::to_string(tb.size()));
    return false;
  }
  for (std::size_t i = 0; i < ta.size(); ++i) {
    double x = 0, y = 0;
    if (parse_number(ta[i], x) && parse_number(tb[i], y)) {
      if (std::isnan(x) && std::isnan(y)) continue;
      double allowed = std::max(abs_tolerance, rel_tolerance * std::max(std::fabs(x), std::fabs(y)));
      if (x == y || std::fabs(x - y) <= allowed) continue;
      set_why(why, "token " + std::to_string(i + 1) + ": " + ta[i] + " vs " + tb[i]);
      return false;
    }
    if (ta[i] != tb[i]) {
      set_why(why, "token " + std::to_string(i + 1) + ": '" + ta[i] + "' vs '" + tb[i] + "'");
      return false;
    }
  }
  return true;
}

bool results_agree(const CheckedResult& a, const CheckedResult& b, const CompareOptions& options,
                   std::string* why) {
  const ResultManifest& ma = a.manifest;
  const ResultManifest& mb = b.manifest;
  if (!same_ending(ma.status, mb.status, ma.exit_code, mb.exit_code, ma.signal, mb.signal, why)) return false;
  if (!options.compare_command.empty()) return external_agree(a, b, options, why);
  std::map<std::string, std::string> ha, hb;
  for (const auto& o : ma.outputs)
    if (!options.ignored_outputs.count(o.name)) ha[o.name] = o.sha256;
  for (const auto& o : mb.outputs)
    if (!options.ignored_outputs.count(o.name)) hb[o.name] = o.sha256;
  for (const auto& [name, hash] : ha) {
    auto it = hb.find(name);
    if (it == hb.end()) {
      set_why(why, "output '" + name + "' is missing from one result");
      return false;
    }
    if (it->second == hash) continue;
    if (options.numeric_outputs.count(name)) {
      std::string detail_text;
      if (numeric_texts_agree(a.numeric_texts.at(name), b.numeric_texts.at(name),
                              options.rel_tolerance, options.abs_tolerance, &detail_text))
        continue;
      set_why(why, "output '" + name + "' differs numerically: " + detail_text);
      return false;
    }
    set_why(why, "output '" + name + "' differs");
    return false;
  }
  if (ha.size() != hb.size()) {
    set_why(why, "the results have different outputs");
    return false;
  }
  return true;
}

bool outcomes_agree(const Outcome& a, const Outcome& b, const CompareOptions& options,
                    std::string* why) {
  if (!same_ending(a.status, b.status, a.exit_code, b.exit_code, a.signal, b.signal, why)) return false;
  std::map<std::string, std::string> fa = files_of(a), fb = files_of(b);
  if (!options.compare_command.empty()) {
    std::string root = scratch_root_of(options);
    detail::TempDir dir_a(root, "mw-compare-a-");
    detail::TempDir dir_b(root, "mw-compare-b-");
    for (auto& [name, bytes] : fa) detail::write_file_atomic(detail::join_path(dir_a.path(), name), bytes);
    for (auto& [name, bytes] : fb) detail::write_file_atomic(detail::join_path(dir_b.path(), name), bytes);
    return external_dirs_agree(dir_a.path(), dir_b.path(), root, options, why);
  }
  for (auto& [name, bytes] : fa) {
    if (options.ignored_outputs.count(name)) continue;
    auto it = fb.find(name);
    if (it == fb.end()) {
      set_why(why, "output '" + name + "' is missing from one run");
      return false;
    }
    if (it->second == bytes) continue;
    std::string detail_text;
    if (options.numeric_outputs.count(name) &&
        numeric_texts_agree(bytes, it->second, options.rel_tolerance, options.abs_tolerance, &detail_text))
      continue;
    set_why(why, (name == "mw.value" ? std::string("the return values differ")
                                     : "output '" + name + "' differs") +
                     (detail_text.empty() ? "" : ": " + detail_text));
    return false;
  }
  for (auto& [name, bytes] : fb)
    if (!options.ignored_outputs.count(name) && !fa.count(name)) {
      set_why(why, "output '" + name + "' is missing from one run");
      return false;
    }
  return true;
}

}  // namespace mw
