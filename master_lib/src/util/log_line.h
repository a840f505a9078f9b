// util/log_line.h — the pieces of a log line that mw::log's default sink and
// the BOINC daemons' DaemonLog share.
#pragma once

#include <string>

namespace mw::detail {

// "2026-12-02 02:55:37.1234 UTC " for `now` in seconds since the epoch (the
// BOINC daemons' format, so every mwkit log reads alike).
std::string log_timestamp(double now);

// Seconds since the epoch, from the system clock.
double log_clock_now();

// Writes `line` to stderr with as few write(2) calls as the kernel allows
// (one, for a line of ordinary length), so lines of several threads or of
// several processes appending to one file do not interleave.
void write_stderr_line(const std::string& line);

}  // namespace mw::detail
