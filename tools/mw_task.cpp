// mw-task — build task bundles and show tasks and results.
//
//   mw-task new --out BUNDLE (--exec FILE | --host-exec PATH) [--arg A]... [--input FILE]...
//               [--output NAME[:MAXBYTES]]... [--wall-seconds S] [--cpu-seconds S]
//               [--memory-mb M] [--name NAME] [--key KEY]
//   mw-task show BUNDLE|RESULT|task.xml|result.xml
#include <CLI/CLI.hpp>

#include <cstdint>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mw/bundle.h"
#include "mw/error.h"
#include "mw/signing.h"
#include "mw/task_format.h"
#include "tool_common.h"

namespace {

using namespace mw::tools;

constexpr std::uint64_t kDefaultOutputMaxBytes = 64ULL << 20;

struct NewOptions {
  std::string out, exec_file, host_exec, name, key;
  std::vector<std::string> args, inputs, outputs, env;
  double wall_seconds = 0, cpu_seconds = 0, memory_mb = 0;
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

std::string default_task_name(const std::string& out) {
  std::string base = out.substr(out.find_last_of('/') + 1);
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".zip") == 0) base.resize(base.size() - 4);
  return base;
}

// Everything in the task comes from the command line, so a task the format
// refuses (a bad name, a relative --host-exec, an output named like an
// input) is a usage error; reading the files stays an error of its own.
mw::TaskBuilder build_task(const NewOptions& o) {
  try {
    mw::TaskBuilder task(o.name.empty() ? default_task_name(o.out) : o.name);
    if (!o.exec_file.empty()) task.bundled_program(o.exec_file);
    else task.host_program(o.host_exec);
    task.args(o.args);
    for (const auto& entry : o.env) {
      const auto eq = entry.find('=');
      if (eq == std::string::npos || eq == 0) throw UsageError("--env '" + entry + "': expected NAME=VALUE");
      task.env(entry.substr(0, eq), entry.substr(eq + 1));
    }
    for (const auto& in : o.inputs) task.file(in, mw::FileRole::input);
    for (const auto& spec : o.outputs) {
      auto [name, max] = parse_output(spec);
      task.output(name, max);
    }
    mw::Limits limits;
    if (o.wall_seconds > 0) limits.wall_seconds = o.wall_seconds;
    if (o.cpu_seconds > 0) limits.cpu_seconds = o.cpu_seconds;
    if (o.memory_mb > 0) limits.memory_bytes = static_cast<std::uint64_t>(o.memory_mb * 1048576.0);
    task.limits(limits);
    task.manifest();  // validates, so the errors below are about the command line
    return task;
  } catch (const mw::Error& e) {
    if (e.code() == mw::Errc::usage || e.code() == mw::Errc::format) throw UsageError(std::string("new: ") + e.what());
    throw;
  }
}

int cmd_new(const NewOptions& o) {
  if (o.exec_file.empty() && o.host_exec.empty())
    throw UsageError("new: give the program with --exec FILE or --host-exec PATH");
  const mw::TaskBuilder task = build_task(o);
  if (o.key.empty()) {
    task.write_unsigned_bundle(o.out);
    std::cout << "wrote " << o.out << " (unsigned: sign it with mw-sign sign " << o.out
              << " --key KEY)\n";
  } else {
    task.write_bundle(o.out, mw::PrivateKey::load_pem(o.key));
    std::cout << "wrote " << o.out << " (signed)\n";
  }
  return kExitOk;
}

std::string bytes_text(std::uint64_t b) {
  std::ostringstream s;
  s << b << " bytes";
  if (b >= (1ULL << 20)) s << " (" << std::fixed << std::setprecision(1) << b / 1048576.0 << " MiB)";
  return s.str();
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
        << mw::to_string(f.role) << bytes_text(f.size) << "  sha256 " << f.sha256
        << (f.executable ? "  executable" : "") << "\n";
  out << "  outputs:" << (t.outputs.empty() ? "   (none)" : "") << "\n";
  for (const auto& o : t.outputs)
    out << "    " << std::left << std::setw(24) << terminal_safe(o.name) << " at most " << bytes_text(o.max_bytes)
        << (o.optional ? " (optional)" : "") << "\n";
  out << "  limits:   ";
  const auto& l = t.limits;
  if (!l.wall_seconds && !l.cpu_seconds && !l.memory_bytes && !l.disk_bytes) out << " (none)";
  if (l.wall_seconds) out << " wall " << *l.wall_seconds << " s";
  if (l.cpu_seconds) out << " cpu " << *l.cpu_seconds << " s";
  if (l.memory_bytes) out << " memory " << bytes_text(*l.memory_bytes);
  if (l.disk_bytes) out << " disk " << bytes_text(*l.disk_bytes);
  out << "\n";
  const auto& e = t.estimates;
  if (e.cpu_seconds || e.fpops || e.memory_bytes || e.disk_bytes) {
    out << "  estimates:";
    if (e.cpu_seconds) out << " cpu " << *e.cpu_seconds << " s";
    if (e.fpops) out << " fpops " << *e.fpops;
    if (e.memory_bytes) out << " memory " << bytes_text(*e.memory_bytes);
    if (e.disk_bytes) out << " disk " << bytes_text(*e.disk_bytes);
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
  out << "  cpu " << r.cpu_seconds << " s, wall " << r.wall_seconds << " s, peak memory "
      << bytes_text(r.peak_memory_bytes) << "\n";
  out << "  stdout " << r.stdout_bytes << " bytes, stderr " << r.stderr_bytes << " bytes\n";
  if (!r.task_sha256.empty()) out << "  answers task.xml sha256 " << terminal_safe(r.task_sha256) << "\n";
  out << "  outputs:" << (r.outputs.empty() ? "   (none)" : "") << "\n";
  for (const auto& o : r.outputs)
    out << "    " << std::left << std::setw(24) << terminal_safe(o.name) << " " << bytes_text(o.size)
        << "  sha256 " << terminal_safe(o.sha256) << "\n";
  if (!r.stderr_tail.empty())
    out << "  stderr tail:\n" << terminal_safe(r.stderr_tail, /*keep_newlines=*/true) << "\n";
}

// A bundle to show is a regular file (zip) or a directory; anything else —
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
      std::string t = task_error.what(), r = result_error.what();
      // Report the error of the kind the file actually is: the task reader
      // names result.xml (a member it does not allow) or misses task.xml
      // when it was given a result bundle, whose own error is the real one.
      const bool is_result = t.find("no task.xml") != std::string::npos ||
                             t.find("'" + std::string(mw::kResultManifestName) + "'") != std::string::npos;
      throw mw::Error(is_result ? result_error.code() : task_error.code(), is_result ? r : t);
    }
  }
}

int mw_task(int argc, char** argv) {
  CLI::App app{"Build mwkit task bundles and show tasks and results", "mw-task"};
  mw::cli::set_up(app);
  app.require_subcommand(1);

  NewOptions o;
  auto* create = app.add_subcommand("new", "Build a task bundle");
  create->add_option("--out", o.out, "Bundle to write (.zip)")->required();
  auto* exec = create->add_option("--exec", o.exec_file, "Program file shipped with the task")
                   ->check(CLI::ExistingFile);
  auto* host = create->add_option("--host-exec", o.host_exec,
                                  "Absolute path of a program already on the worker host");
  exec->excludes(host);
  host->excludes(exec);
  create->add_option("--env", o.env, "NAME=VALUE for the task's environment (repeat)");
  create->add_option("--arg", o.args, "An argument for the program (repeat, in order)")
      ->allow_extra_args(false);
  create->add_option("--input", o.inputs, "An input file shipped with the task (repeat)")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false);
  create->add_option("--output", o.outputs,
                     "A declared output NAME[:MAXBYTES] (repeat); MAXBYTES (default: 64 MiB)")
      ->allow_extra_args(false);
  create->add_option("--wall-seconds", o.wall_seconds, "Wall-time limit")->check(CLI::PositiveNumber);
  create->add_option("--cpu-seconds", o.cpu_seconds, "CPU-time limit")->check(CLI::PositiveNumber);
  create->add_option("--memory-mb", o.memory_mb, "Resident-memory limit in MiB")
      ->check(CLI::PositiveNumber);
  create->add_option("--name", o.name, "Task name (default: the bundle's base name)");
  create->add_option("--key", o.key, "Sign with this private key now")->check(CLI::ExistingFile);

  std::string show_path;
  auto* show = app.add_subcommand("show", "Print a task or result readably");
  show->add_option("path", show_path, "Task bundle, result bundle, task.xml or result.xml")
      ->required();

  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;
  if (*create) return cmd_new(o);
  return cmd_show(show_path);
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("mw-task", [&] { return mw_task(argc, argv); });
}
