// mw/log.h — mwkit's diagnostics: levels, one process-wide threshold, and a
// sink a program can replace to route the library's messages into its own
// logger.
//
// The library never writes diagnostics to stderr directly; it calls mw::log.
// A message passes when its level is at or above the threshold (error is the
// most severe). The threshold starts from the environment variable
// MW_LOG_LEVEL (a level name), else info; set_log_level and every program's
// --log-level override it.
//
// The default sink writes one line per message on stderr,
//   2026-12-02 02:55:37.123 UTC [warning] mw multicore: cannot restart w3: ...
// in a single write(2), so lines from threads or processes sharing the
// stream do not interleave.
//
// This is a small facility of its own rather than spdlog: it is part of the
// glibc-only worker runtime (mw_worker_runtime, docs/wrapper.md), which must
// not need libspdlog.so and libfmt.so on a volunteer's host.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mw {

enum class LogLevel { error, warning, info, debug, trace };

// "error", "warning", "info", "debug", "trace".
const char* to_string(LogLevel level) noexcept;

// A level from its name (case-insensitive; "warn" also means warning);
// nullopt for anything else.
std::optional<LogLevel> log_level_from_string(std::string_view name);

// The accepted names, for usage messages: "error, warning, info, debug, trace".
const char* log_level_names() noexcept;

// The process-wide threshold. Thread-safe.
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;

// True when a message at `level` would reach the sink: test it before
// building an expensive message.
bool log_enabled(LogLevel level) noexcept;

// Receives every message that passes the threshold. `message` is one line:
// control characters, bidi overrides and invalid UTF-8 in it are already
// escaped (\xNN, \u{NNNN}) because it often carries task output, file names
// or database rows. Called from whichever thread logged (the master's,
// a worker's reader thread), never concurrently with itself.
using LogSink = std::function<void(LogLevel level, const std::string& message)>;

// Replaces the sink; an empty function restores the default stderr sink.
void set_log_sink(LogSink sink);

// Sends `message` to the sink when `level` passes the threshold.
void log(LogLevel level, const std::string& message);

}  // namespace mw
