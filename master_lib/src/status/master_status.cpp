#include "status/master_status.h"

#include <cmath>
#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

#include "status/prometheus_text.h"

namespace mw::status {

// The page, generated at build time from master_status_page.html.
const char* master_status_page();

namespace {

// A tail cut at a byte boundary may split a UTF-8 sequence; JSON needs valid UTF-8.
std::string valid_utf8_tail(const std::string& text, std::size_t max_bytes) {
  std::size_t start = text.size() > max_bytes ? text.size() - max_bytes : 0;
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
  return text.substr(start);
}

std::optional<double> as_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

const std::array<double, 14> MasterStatusBoard::kDurationBounds = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800, 3600, 86400};

MasterStatusBoard::MasterStatusBoard(std::function<MasterSnapshot(bool)> snapshot,
                                     std::chrono::milliseconds sample_interval)
    : snapshot_(std::move(snapshot)),
      started_unix_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()),
      interval_(sample_interval) {
  throughput_.reserve(kThroughputPoints);
  throughput_.emplace_back(0.0, 0);
  sampler_ = std::thread([this] { sample_loop(); });
}

MasterStatusBoard::~MasterStatusBoard() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  sampler_.join();
}

double MasterStatusBoard::since_start() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void MasterStatusBoard::sample_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next = std::chrono::steady_clock::now() + interval_;
  for (;;) {
    if (stop_cv_.wait_until(lock, next, [&] { return stopping_; })) return;
    lock.unlock();
    const std::uint64_t finished = snapshot_(false).progress.finished;
    lock.lock();
    if (throughput_.size() == kThroughputPoints) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i < throughput_.size(); i += 2) throughput_[kept++] = throughput_[i];
      throughput_.resize(kept);
      interval_ *= 2;
    }
    throughput_.emplace_back(since_start(), finished);
    next += interval_;
  }
}

void MasterStatusBoard::task_finished(std::uint64_t id, const std::string& name, const Outcome& outcome) {
  const double seconds = outcome.wall_seconds > 0 ? outcome.wall_seconds : 0;
  std::size_t bucket = 0;
  while (bucket < kDurationBounds.size() && seconds > kDurationBounds[bucket]) ++bucket;
  duration_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  duration_sum_us_.fetch_add(static_cast<std::uint64_t>(std::llround(seconds * 1e6)), std::memory_order_relaxed);
  if (outcome.status == ResultStatus::success) return;
  Failure f;
  f.task = id;
  f.name = name;
  f.status = to_string(outcome.status);
  f.reason = valid_utf8_tail(outcome.reason, kStderrTailBytes);
  f.stderr_tail = valid_utf8_tail(outcome.stderr_tail, kStderrTailBytes);
  f.worker = outcome.worker;
  f.at_seconds = since_start();
  std::lock_guard<std::mutex> lock(mu_);
  failures_.push_back(std::move(f));
  if (failures_.size() > kFailuresKept) failures_.pop_front();
}

std::string MasterStatusBoard::status_json() const {
  const MasterSnapshot snap = snapshot_(true);
  const Status& s = snap.status;
  const Progress& p = snap.progress;
  using nlohmann::json;
  json out;
  out["schema"] = kSchema;
  out["interface"] = s.interface;
  out["started_at"] = started_unix_;
  out["elapsed_seconds"] = p.elapsed_seconds;
  out["tasks"] = {{"submitted", p.submitted},  {"waiting", s.waiting},     {"running", s.running},
                  {"finished", s.finished},    {"delivered", s.delivered}, {"succeeded", s.finished + s.delivered - s.failed},
                  {"failed", s.failed},        {"cancelled", s.cancelled}, {"from_journal", s.from_journal}};
  out["rate_per_second"] = p.rate_per_second;
  out["eta_seconds"] = p.eta_seconds >= 0 ? json(p.eta_seconds) : json(nullptr);
  json workers = json::array();
  for (const WorkerStatus& w : s.details.workers)
    workers.push_back({{"name", w.name},
                       {"state", w.state},
                       {"tasks_done", w.tasks_done},
                       {"busy_seconds", w.busy_seconds},
                       {"task", w.task ? json(*w.task) : json(nullptr)}});
  out["workers"] = std::move(workers);
  // Bounded by the interface (kHostsListed): a large pool lists its latest hosts only.
  json hosts = json::array();
  for (const HostStatus& h : s.details.hosts)
    hosts.push_back({{"id", h.id},
                     {"name", h.name},
                     {"details", h.details},
                     {"tasks_done", h.tasks_done},
                     {"tasks_failed", h.tasks_failed},
                     {"running", h.running ? json(*h.running) : json(nullptr)},
                     {"last_seen", h.last_seen}});
  out["hosts"] = std::move(hosts);
  out["hosts_seen"] = s.details.hosts_seen;
  out["interface_details"] = s.details.details;
  json durations;
  json buckets = json::array();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < duration_counts_.size(); ++i) {
    cumulative += duration_counts_[i].load(std::memory_order_relaxed);
    buckets.push_back({{"le", i < kDurationBounds.size() ? json(kDurationBounds[i]) : json("+Inf")},
                       {"count", cumulative}});
  }
  durations["buckets"] = std::move(buckets);
  durations["count"] = cumulative;
  durations["sum"] = static_cast<double>(duration_sum_us_.load(std::memory_order_relaxed)) / 1e6;
  out["task_duration_seconds"] = std::move(durations);
  {
    std::lock_guard<std::mutex> lock(mu_);
    json points = json::array();
    for (const auto& [t, n] : throughput_) points.push_back({t, n});
    // The current moment too, so the chart ends now rather than at the last tick.
    points.push_back({p.elapsed_seconds, p.finished});
    out["throughput"] = {{"interval_seconds", std::chrono::duration<double>(interval_).count()},
                         {"points", std::move(points)}};
    json failures = json::array();
    for (auto it = failures_.rbegin(); it != failures_.rend(); ++it)
      failures.push_back({{"task", it->task},
                          {"name", it->name},
                          {"status", it->status},
                          {"reason", it->reason},
                          {"stderr_tail", it->stderr_tail},
                          {"worker", it->worker},
                          {"at_seconds", it->at_seconds}});
    out["failures"] = std::move(failures);
  }
  // Task names, reasons and stderr may hold any bytes: invalid UTF-8 becomes U+FFFD.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string MasterStatusBoard::metrics() const {
  const MasterSnapshot snap = snapshot_(true);
  const Status& s = snap.status;
  const Progress& p = snap.progress;
  PrometheusText out;
  out.family("mwkit_master_info", "gauge", "Always 1; the labels say which interface the master uses.");
  out.sample("mwkit_master_info", {{"interface", s.interface}, {"schema", kSchema}}, 1);
  out.gauge("mwkit_master_start_time_seconds", "When the master started, in seconds since the Unix epoch.",
            started_unix_);
  out.counter("mwkit_master_tasks_submitted_total", "Tasks submitted to the master.",
              static_cast<double>(p.submitted));
  out.family("mwkit_master_tasks_ended_total", "counter",
             "Tasks that ended, by outcome (succeeded, failed, cancelled).");
  out.sample("mwkit_master_tasks_ended_total", {{"outcome", "succeeded"}},
             static_cast<double>(s.finished + s.delivered - s.failed));
  out.sample("mwkit_master_tasks_ended_total", {{"outcome", "failed"}}, static_cast<double>(s.failed));
  out.sample("mwkit_master_tasks_ended_total", {{"outcome", "cancelled"}}, static_cast<double>(s.cancelled));
  out.counter("mwkit_master_tasks_from_journal_total",
              "Results restored from the master's journal instead of recomputed.",
              static_cast<double>(s.from_journal));
  out.family("mwkit_master_tasks", "gauge",
             "Tasks in each state now (waiting, running, finished = not yet delivered, delivered).");
  out.sample("mwkit_master_tasks", {{"state", "waiting"}}, static_cast<double>(s.waiting));
  out.sample("mwkit_master_tasks", {{"state", "running"}}, static_cast<double>(s.running));
  out.sample("mwkit_master_tasks", {{"state", "finished"}}, static_cast<double>(s.finished));
  out.sample("mwkit_master_tasks", {{"state", "delivered"}}, static_cast<double>(s.delivered));
  out.gauge("mwkit_master_queue_depth", "Tasks waiting for a worker.", static_cast<double>(s.waiting));
  out.gauge("mwkit_master_throughput_tasks_per_second", "Tasks ended per second since the master started.",
            p.rate_per_second);
  if (p.eta_seconds >= 0)
    out.gauge("mwkit_master_eta_seconds", "Estimated seconds until every submitted task has ended.",
              p.eta_seconds);
  HistogramCounts h;
  h.upper_bounds.assign(kDurationBounds.begin(), kDurationBounds.end());
  for (const auto& c : duration_counts_) h.counts.push_back(c.load(std::memory_order_relaxed));
  h.sum = static_cast<double>(duration_sum_us_.load(std::memory_order_relaxed)) / 1e6;
  out.histogram("mwkit_master_task_duration_seconds", "Wall-clock time of the tasks that ended.", h);
  std::map<std::string, double> by_state;
  for (const WorkerStatus& w : s.details.workers) by_state[w.state.empty() ? "unknown" : w.state] += 1;
  out.family("mwkit_master_workers", "gauge", "Workers by state, as the interface reports them.");
  for (const auto& [state, n] : by_state) out.sample("mwkit_master_workers", {{"state", state}}, n);
  // One number, not a series per host: 10^5 volunteers would be 10^5 series.
  out.gauge("mwkit_master_hosts_seen", "Hosts (HTCondor execute machines, BOINC computers) that ran a task so far.",
            static_cast<double>(s.details.hosts_seen));
  out.family("mwkit_master_interface_value", "gauge",
             "The interface's numeric status figures (Status::details), by name.");
  for (const auto& [name, value] : s.details.details)
    if (auto v = as_number(value)) out.sample("mwkit_master_interface_value", {{"name", name}}, *v);
  return out.str();
}

std::string MasterStatusBoard::page_html() { return master_status_page(); }

}  // namespace mw::status
