#include "status/prometheus_text.h"

#include <charconv>
#include <cmath>

#include "mw/error.h"

namespace mw::status {
namespace {

bool valid_name(std::string_view name, bool colon_allowed) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                        (colon_allowed && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void check_name(std::string_view name, bool metric) {
  if (!valid_name(name, metric))
    throw Error(Errc::usage, std::string("Prometheus text: '") + std::string(name) + "' is not a valid " +
                                 (metric ? "metric" : "label") + " name");
}

// HELP text escapes only backslash and newline (the format's rule).
std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;  // 64 characters hold any double
  return std::string(buffer, end);
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  check_name(name, true);
  if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
      type != "untyped")
    throw Error(Errc::usage, "Prometheus text: metric " + std::string(name) + " has unknown type '" +
                                 std::string(type) + "'");
  if (!declared_.emplace(name).second)
    throw Error(Errc::usage, "Prometheus text: metric " + std::string(name) + " declared twice");
  current_ = std::string(name);
  out_ += "# HELP " + current_ + " " + escape_help(help) + "\n";
  out_ += "# TYPE " + current_ + " " + std::string(type) + "\n";
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value) {
  if (current_.empty() || name.substr(0, current_.size()) != current_)
    throw Error(Errc::usage, "Prometheus text: sample " + std::string(name) +
                                 " does not belong to the family declared last ('" + current_ + "')");
  check_name(name, true);
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      check_name(labels[i].first, false);
      if (i) out_ += ',';
      out_ += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void PrometheusText::counter(std::string_view name, std::string_view help, double value) {
  family(name, "counter", help);
  sample(name, {}, value);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, double value) {
  family(name, "gauge", help);
  sample(name, {}, value);
}

void PrometheusText::histogram(std::string_view name, std::string_view help, const HistogramCounts& h,
                               const Labels& labels) {
  if (h.counts.size() != h.upper_bounds.size() + 1)
    throw Error(Errc::usage, "Prometheus text: histogram " + std::string(name) + " has " +
                                 std::to_string(h.upper_bounds.size()) + " bounds but " +
                                 std::to_string(h.counts.size()) + " counts (want bounds + 1)");
  family(name, "histogram", help);
  const std::string base(name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= h.upper_bounds.size(); ++i) {
    cumulative += h.counts[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i < h.upper_bounds.size() ? format_value(h.upper_bounds[i]) : "+Inf");
    sample(base + "_bucket", with_le, static_cast<double>(cumulative));
  }
  sample(base + "_sum", labels, h.sum);
  sample(base + "_count", labels, static_cast<double>(cumulative));
}

}  // namespace mw::status
