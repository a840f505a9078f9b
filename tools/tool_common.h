// Shared by the command-line tools: one way to report errors and exit codes.
#pragma once

#include <functional>
#include <string>

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

}  // namespace mw::tools
