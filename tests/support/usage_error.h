// What a wrong command line must look like, for every mwkit program and
// example (issue 21): exit status 64, exactly one line on stderr, nothing on
// stdout, and never an exception escaping main.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace mw::test {

inline constexpr int kExitUsage = 64;  // sysexits.h's EX_USAGE, as util/command_line.h

inline std::vector<std::string> with(std::vector<std::string> argv, const std::vector<std::string>& more) {
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

inline std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// `argv_text` says which command line, in the failure message.
inline void expect_one_line_usage_error(const CommandResult& r, const std::string& argv_text) {
  EXPECT_EQ(r.exit_code, kExitUsage) << argv_text << "\n" << r.err;
  EXPECT_EQ(lines(r.err), 1u) << argv_text << ": stderr is not one line:\n" << r.err;
  EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << argv_text << ": " << r.err;
  EXPECT_THAT(r.err, ::testing::Not(::testing::HasSubstr("terminate called"))) << argv_text;
  EXPECT_EQ(r.out, "") << argv_text << ": a usage error printed on stdout";
}

}  // namespace mw::test
