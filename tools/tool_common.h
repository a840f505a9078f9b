// Shared by the command-line tools: one way to parse, to report errors and to
// exit, and the units `show` and the messages print.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mw/signing.h"
#include "util/command_line.h"
#include "util/terminal_text.h"

namespace mw::tools {

// Exit codes every tool uses (README.md, "Exit statuses").
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the check or the task failed (details on stderr)
inline constexpr int kExitError = 2;   // it could not be done: unreadable, malformed or unsafe
                                       // input, an I/O, database or server error
inline constexpr int kExitUsage = mw::cli::kExitUsage;  // 64: the command line is wrong

// A command line the parser accepted but the tool cannot: a bad NAME:VALUE,
// an --out that exists without --force, a private key given to --pub. Ends
// the tool with kExitUsage.
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

// The keys given with `option` (e.g. "--pub"). A key of the other kind is a
// UsageError that says so in the tool's terms, instead of OpenSSL's decoder
// message: "'k.pem' is a private key; --pub needs the public key ...".
std::vector<PublicKey> load_public_keys(const std::vector<std::string>& paths, const std::string& option);
PrivateKey load_private_key(const std::string& path, const std::string& option);

// Refuses (UsageError) to write `path` when something is there and `force`
// is not set; `option` names where the path came from.
void refuse_to_overwrite(const std::string& path, bool force, const std::string& option);

// People's units. Bytes: exact below 1 KiB ("512 bytes"), else three
// significant digits in binary units ("1.21 KiB", "64 MiB"). Seconds: three
// significant digits in µs, ms or s ("31.4 ms", "30 s"), minutes and hours
// from 60 s on ("2 min 5 s", "24 h").
std::string human_bytes(std::uint64_t bytes);
std::string human_seconds(double seconds);

}  // namespace mw::tools
