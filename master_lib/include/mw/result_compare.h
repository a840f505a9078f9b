// mw/result_compare.h — are two result bundles of the same task the same answer?
//
// BOINC's validator runs each task on several volunteers' hosts and accepts an
// answer only when enough replicas agree; the same check run locally on two
// runs of one task finds non-deterministic output before it reaches
// volunteers. Both use this module.
//
// Result bundles come from strangers: load_checked_result opens one under
// hard limits and verifies every output's size and SHA-256 before anything
// compares it, so a hostile bundle (bomb, path escape, lying manifest,
// garbage) is an Error, never a crash or a file outside the bundle.
//
// Two checked results agree when their status and exit code are equal and
// their outputs (except the ignored ones, mw.stderr by default: it holds
// timings and host noise) are equal:
//   - bitwise (default): same names, same SHA-256;
//   - numeric, for the outputs named in `numeric_outputs`: the texts split
//     at white space into the same number of tokens; tokens that are both
//     numbers (strtod) agree within max(abs_tolerance, rel_tolerance ×
//     max(|a|,|b|)) (two NaNs agree), other tokens must be equal;
//   - external (`compare_command` set): instead of the above, both bundles'
//     outputs are extracted into private directories and the program runs as
//     `COMMAND DIR_A DIR_B` (exec'd, no shell, wall-time limit `timeout`):
//     exit 0 = agree, exit 1 = differ, anything else (other codes, a signal,
//     the time limit, exec failure) is Error(Errc::system) — the caller should
//     retry later rather than blame a volunteer for a broken comparison.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mw/bundle.h"
#include "mw/result.h"
#include "mw/task_format.h"

namespace mw {

struct CompareOptions {
  std::set<std::string> numeric_outputs;
  double rel_tolerance = 1e-9;
  double abs_tolerance = 0;
  std::set<std::string> ignored_outputs = {kStderrName};
  std::string compare_command;     // absolute path or relative to cwd; empty = built-in comparison
  double compare_timeout_seconds = 60;
  std::string scratch_root;        // for the external command's directories; empty = $TMPDIR
};

// Limits for reading untrusted result bundles.
struct ResultCheckLimits {
  std::uint64_t max_bundle_bytes = 64ULL << 20;  // the zip file itself (BOINC's max_nbytes)
  UnpackLimits unpack{4096, 256ULL << 20, 1 << 20, 1000};
};

// A result bundle whose outputs were all verified against result.xml.
struct CheckedResult {
  std::string path;
  ResultManifest manifest;
  std::map<std::string, std::string> numeric_texts;  // contents of the numeric outputs
};

// Opens and verifies the bundle at `path`. Throws Error: Errc::io when it
// cannot be read (missing, unreadable), Errc::unsafe_bundle when it exceeds a
// limit or escapes, Errc::format / Errc::integrity when it is malformed or
// lies — each naming the path.
CheckedResult load_checked_result(const std::string& path, const CompareOptions& options,
                                  const ResultCheckLimits& limits = {});

// True when `a` and `b` agree (see above). `why`, when given, receives the
// first difference for people.
bool results_agree(const CheckedResult& a, const CheckedResult& b, const CompareOptions& options,
                   std::string* why = nullptr);

// The same rules for two runs of one task on this machine (Master's
// double_run): status, exit code, a function task's return value (bitwise),
// stdout as the output mw.stdout, and each output's content. For the external
// program each run's outputs (and mw.stdout, and mw.value for a function's
// value) are written to a private directory first.
bool outcomes_agree(const Outcome& a, const Outcome& b, const CompareOptions& options,
                    std::string* why = nullptr);

// The numeric rule alone, for tests and tools.
bool numeric_texts_agree(const std::string& a, const std::string& b, double rel_tolerance,
                         double abs_tolerance, std::string* why = nullptr);

}  // namespace mw
