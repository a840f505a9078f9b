// Shared by the command-line tools: one way to parse, to report errors and to
// exit.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/command_line.h"
#include "util/terminal_text.h"

namespace mw::tools {

// Exit codes every tool uses (README.md, "Exit statuses").
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the check or the task failed (details on stderr)
inline constexpr int kExitError = 2;   // it could not be done: unreadable, malformed or unsafe
                                       // input, an I/O, database or server error
inline constexpr int kExitUsage = mw::cli::kExitUsage;  // 64: the command line is wrong

// A command line the parser accepted but the tool cannot: a bad NAME=VALUE,
// a task the format refuses, a key file --out would replace. Ends the tool
// with kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs `body`, turning any exception into one line "TOOL: message" on stderr:
// UsageError gives kExitUsage, every other exception kExitError, so no tool
// ends with an uncaught exception.
int run_tool(const char* tool, const std::function<int()>& body);

// Quotes an argument for display so a person can tell where it starts and ends.
std::string display_quote(const std::string& arg);

// Text from files made safe for the terminal (util/terminal_text.h).
using mw::detail::terminal_safe;

// Reads a file to show it: regular files only (a FIFO, device or directory is
// refused without blocking or reading), at most max_bytes, checked before
// reading. Throws mw::Error naming the path.
std::string read_regular_file(const std::string& path, std::uint64_t max_bytes);

}  // namespace mw::tools
