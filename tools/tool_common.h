// Shared by the command-line tools: one way to report errors and exit codes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "util/terminal_text.h"

namespace mw::tools {

// Exit codes every tool uses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the check or the task failed (details on stderr)
inline constexpr int kExitUsage = 2;   // bad command line, unreadable input, I/O error

// Runs `body`, turning an mw::Error or std::exception into "TOOL: message" on
// stderr and kExitUsage.
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
