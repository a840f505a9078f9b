// Shared by the command-line tools: one way to report errors and exit codes.
#pragma once

#include <cstdint>
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

// `text` made safe to print on a terminal: C0 controls (but newline and tab
// when keep_newlines), DEL, C1 controls, Unicode bidi overrides/isolates and
// invalid UTF-8 come out as \xNN / \u{NNNN} escapes, so a task's arguments
// or a volunteer's stderr cannot rewrite the screen or reorder what it shows.
std::string terminal_safe(const std::string& text, bool keep_newlines = false);

// Reads a file to show it: regular files only (a FIFO, device or directory is
// refused without blocking or reading), at most max_bytes, checked before
// reading. Throws mw::Error naming the path.
std::string read_regular_file(const std::string& path, std::uint64_t max_bytes);

}  // namespace mw::tools
