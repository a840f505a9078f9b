// mw::log: the threshold, the sink, and the default sink on stderr.
#include "mw/log.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "util/log_line.h"
#include "util/terminal_text.h"

namespace mw {
namespace detail {

std::string log_timestamp(double now) {
  const double whole = std::floor(now);
  std::time_t secs = static_cast<std::time_t>(whole);
  int frac = static_cast<int>((now - whole) * 10000);
  if (frac > 9999) frac = 9999;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%04d UTC ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return stamp;
}

double log_clock_now() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

void write_stderr_line(const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) return;  // nowhere left to report it
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace detail

namespace {

constexpr LogLevel kDefaultLevel = LogLevel::info;

void default_sink(LogLevel level, const std::string& message) {
  detail::write_stderr_line(detail::log_timestamp(detail::log_clock_now()) + "[" + to_string(level) +
                            "] " + message + "\n");
}

// The threshold, read from MW_LOG_LEVEL on first use. A value that is not a
// level is reported straight to stderr (the sink may not be set up yet, and
// logging from here would recurse into this initialisation).
std::atomic<int>& threshold() {
  static std::atomic<int> level{[] {
    const char* env = std::getenv("MW_LOG_LEVEL");
    if (env == nullptr || *env == '\0') return static_cast<int>(kDefaultLevel);
    if (auto parsed = log_level_from_string(env)) return static_cast<int>(*parsed);
    default_sink(LogLevel::warning, "MW_LOG_LEVEL='" + detail::terminal_safe(env) + "' is not one of " +
                                        log_level_names() + "; using " + to_string(kDefaultLevel));
    return static_cast<int>(kDefaultLevel);
  }()};
  return level;
}

struct SinkState {
  std::mutex mutex;
  LogSink sink;  // empty: default_sink
};

SinkState& sink_state() {
  static SinkState state;
  return state;
}

// Set while this thread is inside the sink: a sink that logs (directly or
// through a library call) goes to stderr instead of deadlocking.
thread_local bool t_in_sink = false;

}  // namespace

const char* to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::error: return "error";
    case LogLevel::warning: return "warning";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
    case LogLevel::trace: return "trace";
  }
  return "unknown";
}

std::optional<LogLevel> log_level_from_string(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (LogLevel l : {LogLevel::error, LogLevel::warning, LogLevel::info, LogLevel::debug, LogLevel::trace})
    if (lower == to_string(l)) return l;
  if (lower == "warn") return LogLevel::warning;
  return std::nullopt;
}

const char* log_level_names() noexcept { return "error, warning, info, debug, trace"; }

void set_log_level(LogLevel level) noexcept { threshold().store(static_cast<int>(level)); }

LogLevel log_level() noexcept { return static_cast<LogLevel>(threshold().load()); }

bool log_enabled(LogLevel level) noexcept { return static_cast<int>(level) <= threshold().load(); }

void set_log_sink(LogSink sink) {
  SinkState& s = sink_state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.sink = std::move(sink);
}

void log(LogLevel level, const std::string& message) {
  if (!log_enabled(level)) return;
  const std::string safe = detail::terminal_safe(message);
  if (t_in_sink) {
    default_sink(level, safe);
    return;
  }
  SinkState& s = sink_state();
  std::lock_guard<std::mutex> lock(s.mutex);
  t_in_sink = true;
  try {
    if (s.sink) s.sink(level, safe);
    else default_sink(level, safe);
  } catch (...) {
    // A sink that throws must not turn a diagnostic into a failure of the
    // operation that logged it.
  }
  t_in_sink = false;
}

}  // namespace mw
