// status/prometheus_text.h — a writer for Prometheus' text exposition format
// (version 0.0.4), the body of a /metrics response.
//
//   PrometheusText out;
//   out.family("mwkit_master_tasks_total", "counter", "Tasks that reached each state.");
//   out.sample("mwkit_master_tasks_total", {{"state", "done"}}, 12);
//   out.gauge("mwkit_master_queue_depth", "Tasks waiting for a worker.", 3);
//   std::string body = out.str();
//
// Names are checked (a bad one is a programming error: mw::Error naming it);
// label values may hold anything and are escaped.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mw::status {

using Labels = std::vector<std::pair<std::string, std::string>>;

// The buckets of one histogram: counts[i] observations <= upper_bounds[i]
// (not cumulative), counts.back() those above every bound (+Inf).
struct HistogramCounts {
  std::vector<double> upper_bounds;    // increasing
  std::vector<std::uint64_t> counts;   // upper_bounds.size() + 1
  double sum = 0;
};

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);
// A sample value: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_value(double value);

class PrometheusText {
 public:
  // # HELP and # TYPE lines; each family once (mw::Error otherwise), before its samples.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample of the family last declared; `name` may add _bucket/_sum/_count.
  void sample(std::string_view name, const Labels& labels, double value);

  // A family with one unlabelled sample.
  void counter(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, double value);
  // A histogram family: cumulative _bucket{le=...} lines, _sum and _count.
  void histogram(std::string_view name, std::string_view help, const HistogramCounts& h,
                 const Labels& labels = {});

  const std::string& str() const { return out_; }

 private:
  std::string out_;
  std::string current_;
  std::set<std::string, std::less<>> declared_;
};

}  // namespace mw::status
