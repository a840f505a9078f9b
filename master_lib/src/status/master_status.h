// status/master_status.h — what a master's status server shows (docs/status.md):
// the counts the master keeps anyway, plus what only the status page needs —
// a task duration histogram, the last failures and a throughput series —
// gathered here so that a master without a status server pays nothing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mw/master.h"

namespace mw::status {

// The master's state at one moment, taken under its lock.
struct MasterSnapshot {
  Status status;      // counts; interface and details filled when asked for
  Progress progress;
};

class MasterStatusBoard {
 public:
  static constexpr const char* kSchema = "mwkit.master.status/1";
  static constexpr std::size_t kFailuresKept = 20;
  static constexpr std::size_t kStderrTailBytes = 2048;
  static constexpr std::size_t kThroughputPoints = 240;

  // `snapshot(with_interface)`: the master's counts and progress, plus the
  // interface's status() when with_interface (not on the sampler's tick).
  explicit MasterStatusBoard(std::function<MasterSnapshot(bool with_interface)> snapshot,
                             std::chrono::milliseconds sample_interval = std::chrono::seconds(1));
  ~MasterStatusBoard();
  MasterStatusBoard(const MasterStatusBoard&) = delete;
  MasterStatusBoard& operator=(const MasterStatusBoard&) = delete;

  // From the master's hot path: a few atomic adds, and a short lock for a failure.
  void task_finished(std::uint64_t id, const std::string& name, const Outcome& outcome);

  std::string status_json() const;
  std::string metrics() const;
  static std::string page_html();

 private:
  struct Failure {
    std::uint64_t task = 0;
    std::string name, status, reason, stderr_tail, worker;
    double at_seconds = 0;  // since the master started
  };
  static const std::array<double, 14> kDurationBounds;

  std::function<MasterSnapshot(bool)> snapshot_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  const double started_unix_;

  std::array<std::atomic<std::uint64_t>, 15> duration_counts_{};
  std::atomic<std::uint64_t> duration_sum_us_{0};

  mutable std::mutex mu_;
  std::deque<Failure> failures_;
  // (seconds since start, tasks finished) every sample interval; when full,
  // every other point goes and the interval doubles, so a run of any length fits.
  std::vector<std::pair<double, std::uint64_t>> throughput_;
  std::chrono::milliseconds interval_;
  bool stopping_ = false;
  std::condition_variable stop_cv_;
  std::thread sampler_;

  void sample_loop();
  double since_start() const;
};

}  // namespace mw::status
