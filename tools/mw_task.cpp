// mw-task — build task bundles, show tasks and results, take outputs out of results.
//
//   mw-task new --out BUNDLE [--force] (--exec FILE[:NAME] | --host-exec PATH) [--arg A]...
//               [--env NAME=VALUE]... [--input FILE[:NAME]]... [--data FILE[:NAME]]...
//               [--output NAME[:MAXBYTES]]... [--wall-seconds S] [--cpu-seconds S]
//               [--memory-mb M] [--disk-mb M] [--cpu-seconds-est S] [--fpops-est N]
//               [--memory-mb-est M] [--disk-mb-est M] [--name NAME] [--key KEY]
//   mw-task show BUNDLE|RESULT|task.xml|result.xml
//   mw-task extract RESULT [NAME]... --out DIR [--force]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mw/bundle.h"
#include "mw/log.h"
#include "mw/error.h"
#include "mw/signing.h"
#include "mw/task_format.h"
#include "tool_common.h"
#include "util/fs.h"

namespace {

using namespace mw::tools;

constexpr std::uint64_t kDefaultOutputMaxBytes = 64ULL << 20;
constexpr double kBytesPerMiB = 1048576.0;

struct NewOptions {
  std::string out, exec, host_exec, name, key;
  bool force = false;
  std::vector<std::string> args, inputs, data, outputs, env;
  double wall_seconds = 0, cpu_seconds = 0, memory_mb = 0, disk_mb = 0;
  // Estimates may be 0, so whether one was given is asked of its option.
  double cpu_seconds_est = 0, fpops_est = 0, memory_mb_est = 0, disk_mb_est = 0;
  CLI::Option *cpu_seconds_est_opt = nullptr, *fpops_est_opt = nullptr, *memory_mb_est_opt = nullptr,
              *disk_mb_est_opt = nullptr;
};

// "NAME" or "NAME:MAXBYTES"
std::pair<std::string, std::uint64_t> parse_output(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos) return {spec, kDefaultOutputMaxBytes};
  std::string number = spec.substr(colon + 1);
  if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--output '" + spec + "': MAXBYTES must be a whole number");
  std::uint64_t max = std::stoull(number);
  if (max == 0) throw UsageError("--output '" + spec + "': MAXBYTES must be > 0");
  return {spec.substr(0, colon), max};
}

// A file to ship and its name inside the task.
struct FileSpec {
  std::string path;
  std::string name;  // empty: the file's base name
};

bool is_regular_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// "FILE" or "FILE:NAME". The last ':' separates the name, so a path that
// itself holds a ':' is given with its name: "a:b.txt:b.txt".
FileSpec parse_file_spec(const std::string& spec, const std::string& option) {
  FileSpec f{spec, ""};
  const auto colon = spec.rfind(':');
  if (colon != std::string::npos) {
    f.path = spec.substr(0, colon);
    f.name = spec.substr(colon + 1);
    if (f.name.empty()) throw UsageError(option + " '" + spec + "': nothing after ':' (FILE:NAME)");
    if (!mw::is_valid_member_name(f.name))
      throw UsageError(option + " '" + spec + "': '" + f.name +
                       "' cannot name a file in a task (1-128 of A-Z a-z 0-9 . _ -, not starting with "
                       "'.' or '-', not task.xml, task.sig, result.xml or mw.*)");
  }
  if (!is_regular_file(f.path)) {
    std::string why = option + " '" + spec + "': '" + f.path + "' is not an existing regular file";
    if (colon != std::string::npos && is_regular_file(spec))
      why += " (to ship '" + spec + "' itself, give its name too: '" + spec + ":NAME')";
    throw UsageError(why);
  }
  return f;
}

std::string default_task_name(const std::string& out) {
  std::string base = out.substr(out.find_last_of('/') + 1);
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".zip") == 0) base.resize(base.size() - 4);
  return base;
}

std::uint64_t mib_to_bytes(double mib) { return static_cast<std::uint64_t>(mib * kBytesPerMiB); }

mw::Limits limits_of(const NewOptions& o) {
  mw::Limits limits;
  if (o.wall_seconds > 0) limits.wall_seconds = o.wall_seconds;
  if (o.cpu_seconds > 0) limits.cpu_seconds = o.cpu_seconds;
  if (o.memory_mb > 0) limits.memory_bytes = mib_to_bytes(o.memory_mb);
  if (o.disk_mb > 0) limits.disk_bytes = mib_to_bytes(o.disk_mb);
  return limits;
}

mw::Estimates estimates_of(const NewOptions& o) {
  mw::Estimates e;
  if (*o.cpu_seconds_est_opt) e.cpu_seconds = o.cpu_seconds_est;
  if (*o.fpops_est_opt) e.fpops = o.fpops_est;
  if (*o.memory_mb_est_opt) e.memory_bytes = mib_to_bytes(o.memory_mb_est);
  if (*o.disk_mb_est_opt) e.disk_bytes = mib_to_bytes(o.disk_mb_est);
  return e;
}

void add_files(mw::TaskBuilder& task, const std::vector<std::string>& specs, const std::string& option,
               mw::FileRole role) {
  for (const auto& spec : specs) {
    const FileSpec f = parse_file_spec(spec, option);
    task.file(f.path, role, f.name);
  }
}

// Everything in the task comes from the command line, so a task the format
// refuses (a bad name, a relative --host-exec, an output named like an
// input) is a usage error; reading the files stays an error of its own.
mw::TaskBuilder build_task(const NewOptions& o) {
  try {
    mw::TaskBuilder task(o.name.empty() ? default_task_name(o.out) : o.name);
    if (!o.exec.empty()) {
      const FileSpec program = parse_file_spec(o.exec, "--exec");
      task.bundled_program(program.path, program.name);
    } else {
      task.host_program(o.host_exec);
    }
    task.args(o.args);
    for (const auto& entry : o.env) {
      const auto eq = entry.find('=');
      if (eq == std::string::npos || eq == 0) throw UsageError("--env '" + entry + "': expected NAME=VALUE");
      task.env(entry.substr(0, eq), entry.substr(eq + 1));
    }
    add_files(task, o.inputs, "--input", mw::FileRole::input);
    add_files(task, o.data, "--data", mw::FileRole::data);
    for (const auto& spec : o.outputs) {
      auto [name, max] = parse_output(spec);
      task.output(name, max);
    }
    task.limits(limits_of(o));
    task.estimates(estimates_of(o));
    task.manifest();  // validates, so the errors below are about the command line
    return task;
  } catch (const mw::Error& e) {
    if (e.code() == mw::Errc::usage || e.code() == mw::Errc::format) throw UsageError(std::string("new: ") + e.what());
    throw;
  }
}

int cmd_new(const NewOptions& o) {
  if (o.exec.empty() && o.host_exec.empty())
    throw UsageError("new: give the program with --exec FILE or --host-exec PATH");
  // A bundle may have been signed on another machine: replacing it by
  // accident loses that work, so it takes --force.
  refuse_to_overwrite(o.out, o.force, "--out");
  const mw::TaskBuilder task = build_task(o);
  if (o.key.empty()) {
    task.write_unsigned_bundle(o.out);
    std::cout << "wrote " << o.out << " (unsigned: sign it with mw-sign sign " << o.out
              << " --key KEY)\n";
  } else {
    task.write_bundle(o.out, load_private_key(o.key, "--key"));
    std::cout << "wrote " << o.out << " (signed)\n";
  }
  return kExitOk;
}

void show_task(const mw::TaskManifest& t, std::ostream& out) {
  // Every field from the file goes through terminal_safe: it is data, and a
  // crafted task must not be able to drive the terminal that shows it.
  out << "task " << terminal_safe(t.name) << " (format " << t.format_version << ")\n";
  out << "  program:   "
      << terminal_safe(t.program.host_path.empty() ? "bundled file " + t.program.bundled_file
                                                   : "host program " + t.program.host_path);
  if (!t.program.function.empty()) out << ", function " << terminal_safe(t.program.function);
  out << "\n  args:     ";
  if (t.args.empty()) out << " (none)";
  for (const auto& a : t.args) out << " " << display_quote(a);
  for (const auto& var : t.env)
    out << "\n  env:       " << terminal_safe(var.name) << "=" << display_quote(var.value);
  out << "\n  files:" << (t.files.empty() ? "     (none)" : "") << "\n";
  for (const auto& f : t.files)
    out << "    " << std::left << std::setw(24) << terminal_safe(f.name) << " " << std::setw(8)
        << mw::to_string(f.role) << std::setw(10) << human_bytes(f.size) << "  sha256 " << f.sha256
        << (f.executable ? "  executable" : "") << "\n";
  out << "  outputs:" << (t.outputs.empty() ? "   (none)" : "") << "\n";
  for (const auto& o : t.outputs)
    out << "    " << std::left << std::setw(24) << terminal_safe(o.name) << " at most "
        << human_bytes(o.max_bytes) << (o.optional ? " (optional)" : "") << "\n";
  out << "  limits:   ";
  const auto& l = t.limits;
  if (!l.wall_seconds && !l.cpu_seconds && !l.memory_bytes && !l.disk_bytes) out << " (none)";
  if (l.wall_seconds) out << " wall " << human_seconds(*l.wall_seconds);
  if (l.cpu_seconds) out << " cpu " << human_seconds(*l.cpu_seconds);
  if (l.memory_bytes) out << " memory " << human_bytes(*l.memory_bytes);
  if (l.disk_bytes) out << " disk " << human_bytes(*l.disk_bytes);
  out << "\n";
  const auto& e = t.estimates;
  if (e.cpu_seconds || e.fpops || e.memory_bytes || e.disk_bytes) {
    out << "  estimates:";
    if (e.cpu_seconds) out << " cpu " << human_seconds(*e.cpu_seconds);
    if (e.fpops) out << " fpops " << *e.fpops;
    if (e.memory_bytes) out << " memory " << human_bytes(*e.memory_bytes);
    if (e.disk_bytes) out << " disk " << human_bytes(*e.disk_bytes);
    out << "\n";
  }
}

void show_result(const mw::ResultManifest& r, std::ostream& out) {
  out << "result of task " << terminal_safe(r.task_name) << " (format " << r.format_version << ")\n";
  out << "  status:    " << mw::to_string(r.status);
  if (!r.reason.empty()) out << " — " << terminal_safe(r.reason);
  out << "\n";
  if (r.exit_code) out << "  exit code: " << *r.exit_code << "\n";
  if (r.signal) out << "  signal:    " << *r.signal << "\n";
  out << "  cpu " << human_seconds(r.cpu_seconds) << ", wall " << human_seconds(r.wall_seconds)
      << ", peak memory " << human_bytes(r.peak_memory_bytes) << "\n";
  out << "  stdout " << human_bytes(r.stdout_bytes) << ", stderr " << human_bytes(r.stderr_bytes) << "\n";
  if (!r.task_sha256.empty()) out << "  answers task.xml sha256 " << terminal_safe(r.task_sha256) << "\n";
  out << "  outputs:" << (r.outputs.empty() ? "   (none)" : "") << "\n";
  for (const auto& o : r.outputs)
    out << "    " << std::left << std::setw(24) << terminal_safe(o.name) << " " << std::setw(10)
        << human_bytes(o.size) << "  sha256 " << terminal_safe(o.sha256) << "\n";
  if (!r.stderr_tail.empty())
    out << "  stderr tail:\n" << terminal_safe(r.stderr_tail, /*keep_newlines=*/true) << "\n";
}

// A bundle to read is a regular file (zip) or a directory; anything else —
// a FIFO that would block, a device such as /dev/zero — is refused before
// any read.
void require_file_or_directory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw mw::Error(mw::Errc::io, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  const bool ok = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
  ::close(fd);
  if (!ok) throw mw::Error(mw::Errc::usage, "'" + path + "' is not a regular file or a directory");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The task reader names result.xml (a member it does not allow) or misses
// task.xml when it was given a result bundle.
bool task_error_means_result(const mw::Error& task_error) {
  const std::string t = task_error.what();
  return t.find("no task.xml") != std::string::npos ||
         t.find("'" + std::string(mw::kResultManifestName) + "'") != std::string::npos;
}

int cmd_show(const std::string& path) {
  if (ends_with(path, ".xml")) {
    // Bounded like the bundle reader: size checked before reading.
    std::string xml = read_regular_file(path, mw::UnpackLimits{}.max_manifest_bytes);
    if (xml.find("<mw_result") != std::string::npos)
      show_result(mw::parse_result_xml(xml, path), std::cout);
    else
      show_task(mw::parse_task_xml(xml, path), std::cout);
    return kExitOk;
  }
  // A bundle: task bundles hold task.xml, result bundles result.xml.
  require_file_or_directory(path);
  try {
    auto bundle = mw::TaskBundle::open(path);
    show_task(bundle.manifest(), std::cout);
    try {
      std::cout << "  signature: key " << terminal_safe(bundle.signature().key_id)
                << " (not verified here; use mw-sign verify)\n";
    } catch (const mw::Error&) {
      std::cout << "  signature: none (unsigned)\n";
    }
    return kExitOk;
  } catch (const mw::Error& task_error) {
    try {
      show_result(mw::ResultBundle::open(path).manifest(), std::cout);
      return kExitOk;
    } catch (const mw::Error& result_error) {
      // Report the error of the kind the file actually is.
      if (task_error_means_result(task_error)) throw result_error;
      throw task_error;
    }
  }
}

struct ExtractOptions {
  std::string bundle, out_dir;
  std::vector<std::string> names;
  bool force = false;
};

// The result reader's checks (container, names, declared sizes) are the
// ones every reader of volunteers' results relies on; a task bundle given by
// mistake is named as such instead of as an undeclared task.xml.
mw::ResultBundle open_result_bundle(const std::string& path) {
  require_file_or_directory(path);
  try {
    return mw::ResultBundle::open(path);
  } catch (const mw::Error& result_error) {
    try {
      mw::TaskBundle::open(path);
    } catch (const mw::Error&) {
      throw result_error;
    }
    throw UsageError("extract: '" + path + "' is a task bundle; extract takes a result bundle "
                     "(mw-run-task --out writes one)");
  }
}

// The outputs to take, each once, in the order given; all when none is named.
std::vector<std::string> outputs_to_extract(const mw::ResultManifest& manifest, const ExtractOptions& o) {
  std::vector<std::string> names;
  if (o.names.empty()) {
    for (const auto& out : manifest.outputs) names.push_back(out.name);
    return names;
  }
  for (const auto& name : o.names) {
    if (!manifest.find_output(name)) {
      std::string have;
      for (const auto& out : manifest.outputs) have += (have.empty() ? "" : ", ") + out.name;
      throw UsageError("extract: '" + o.bundle + "' has no output '" + terminal_safe(name) + "' (it has: " +
                       (have.empty() ? std::string("none") : terminal_safe(have)) + ")");
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// DIR is made when it is missing (its parent must exist); something that is
// not a directory is refused.
void prepare_out_dir(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw UsageError("--out '" + dir + "': not a directory");
    return;
  }
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw mw::Error(mw::Errc::io, "cannot create directory '" + dir + "': " + std::strerror(errno));
}

int cmd_extract(const ExtractOptions& o) {
  const mw::ResultBundle bundle = open_result_bundle(o.bundle);
  const mw::ResultManifest& manifest = bundle.manifest();
  const std::vector<std::string> names = outputs_to_extract(manifest, o);
  if (names.empty()) {
    std::cout << o.bundle << " has no outputs; nothing written\n";
    return kExitOk;
  }
  prepare_out_dir(o.out_dir);
  // Every refusal before the first write, so a refused extract writes nothing.
  for (const auto& name : names) refuse_to_overwrite(mw::detail::join_path(o.out_dir, name), o.force, "--out");
  if (!manifest.ok())
    mw::log(mw::LogLevel::info, "mw-task: note: task '" + manifest.task_name + "' ended " +
                                    mw::to_string(manifest.status) + "; its outputs are extracted as they are");
  for (const auto& name : names) {
    // Output names are member names (no '/', no "..": the reader checked),
    // so each lands directly in DIR.
    const std::string dest = mw::detail::join_path(o.out_dir, name);
    bundle.write_output(name, dest, o.force);
    std::cout << "wrote " << dest << " (" << human_bytes(manifest.find_output(name)->size) << ")\n";
  }
  return kExitOk;
}

void add_new_command(CLI::App& app, NewOptions& o) {
  auto* create = app.add_subcommand("new", "Build a task bundle");
  create->add_option("--out", o.out, "Bundle to write (.zip)")->required()->type_name("BUNDLE");
  create->add_flag("--force", o.force, "Replace --out if it exists");
  auto* exec = create->add_option("--exec", o.exec, "Program file shipped with the task (as NAME)")
                   ->type_name("FILE[:NAME]");
  auto* host = create->add_option("--host-exec", o.host_exec,
                                  "Absolute path of a program already on the worker host")
                   ->type_name("PATH");
  exec->excludes(host);
  host->excludes(exec);
  create->add_option("--env", o.env, "A variable of the task's environment (repeat)")
      ->type_name("NAME=VALUE");
  create->add_option("--arg", o.args, "An argument for the program (repeat, in order)")
      ->allow_extra_args(false)
      ->type_name("ARG");
  create->add_option("--input", o.inputs, "An input file shipped with the task (as NAME; repeat)")
      ->allow_extra_args(false)
      ->type_name("FILE[:NAME]");
  create->add_option("--data", o.data,
                     "A data file shipped with the task: shared data a worker may cache (as NAME; repeat)")
      ->allow_extra_args(false)
      ->type_name("FILE[:NAME]");
  create->add_option("--output", o.outputs,
                     "An output the task must produce (repeat); MAXBYTES (default: 64 MiB)")
      ->allow_extra_args(false)
      ->type_name("NAME[:MAXBYTES]");
  create->add_option("--wall-seconds", o.wall_seconds, "Wall-time limit (default: none)")
      ->check(CLI::PositiveNumber);
  create->add_option("--cpu-seconds", o.cpu_seconds, "CPU-time limit (default: none)")
      ->check(CLI::PositiveNumber);
  create->add_option("--memory-mb", o.memory_mb, "Resident-memory limit in MiB (default: none)")
      ->check(CLI::PositiveNumber);
  create->add_option("--disk-mb", o.disk_mb, "Limit in MiB on all outputs together (default: none)")
      ->check(CLI::PositiveNumber);
  o.cpu_seconds_est_opt =
      create->add_option("--cpu-seconds-est", o.cpu_seconds_est, "Estimated CPU seconds, for schedulers")
          ->check(CLI::NonNegativeNumber);
  o.fpops_est_opt = create->add_option("--fpops-est", o.fpops_est,
                                       "Estimated floating-point operations (BOINC's rsc_fpops_est)")
                        ->check(CLI::NonNegativeNumber);
  o.memory_mb_est_opt =
      create->add_option("--memory-mb-est", o.memory_mb_est, "Estimated resident memory in MiB")
          ->check(CLI::NonNegativeNumber);
  o.disk_mb_est_opt =
      create->add_option("--disk-mb-est", o.disk_mb_est, "Estimated disk use in MiB")
          ->check(CLI::NonNegativeNumber);
  create->add_option("--name", o.name, "Task name (default: the bundle's base name)")->type_name("NAME");
  create->add_option("--key", o.key, "Sign with this private key now (default: unsigned)")
      ->check(CLI::ExistingFile)
      ->type_name("KEY");
}

void add_extract_command(CLI::App& app, ExtractOptions& o) {
  auto* extract = app.add_subcommand("extract", "Write outputs of a result bundle into a directory");
  extract->add_option("result", o.bundle, "Result bundle (.zip or directory)")->required();
  extract->add_option("names", o.names, "Outputs to write (default: all, with mw.stdout and mw.stderr)");
  extract->add_option("--out", o.out_dir, "Directory to write them into (made if missing)")
      ->required()
      ->type_name("DIR");
  extract->add_flag("--force", o.force, "Replace files that exist in --out");
}

int mw_task(int argc, char** argv) {
  CLI::App app{"Build mwkit task bundles, show tasks and results, extract outputs", "mw-task"};
  mw::cli::set_up(app);
  app.require_subcommand(1);

  NewOptions create;
  add_new_command(app, create);
  std::string show_path;
  auto* show = app.add_subcommand("show", "Print a task or result readably");
  show->add_option("path", show_path, "Task bundle, result bundle, task.xml or result.xml")
      ->required();
  ExtractOptions extract;
  add_extract_command(app, extract);

  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;
  if (app.got_subcommand("new")) return cmd_new(create);
  if (*show) return cmd_show(show_path);
  return cmd_extract(extract);
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("mw-task", [&] { return mw_task(argc, argv); });
}
