// bench_journal — what the master's journal costs per task.
//
//   bench_journal [--quick]     (--quick: 10x fewer tasks)
//
// Figures: fresh submissions/s (batched transactions), resubmissions/s of a
// restarted master (every task found in the journal), finished+delivered
// pairs/s (two durable commits each), and the time of one count() over all
// the rows.
#include <chrono>
#include <memory>
#include <string>

#include "bench_common.h"
#include "master/journal.h"

namespace {

using mw::bench::emit;
using mw::detail::Journal;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A fingerprint the size of a SHA-256 digest.
std::string fingerprint_of(std::uint64_t id) {
  std::string fp(32, '\0');
  for (int i = 0; i < 8; ++i) fp[i] = static_cast<char>((id >> (8 * i)) & 0xff);
  return fp;
}

mw::Outcome typical_outcome(std::uint64_t id) {
  mw::Outcome o;
  o.value = std::string(64, static_cast<char>(id));
  o.stdout_text = "done\n";
  o.exit_code = 0;
  o.cpu_seconds = 0.5;
  o.wall_seconds = 0.6;
  o.worker = "local/3";
  return o;
}

void bench_submits(const std::string& work, std::uint64_t n) {
  const nlohmann::json params = {{"tasks", n}};
  auto start = Clock::now();
  {
    Journal j(work);
    for (std::uint64_t id = 1; id <= n; ++id) j.submit(id, fingerprint_of(id));
  }  // includes the final commit
  emit("journal", "submits_per_second", static_cast<double>(n) / seconds_since(start), "1/s",
       params);

  Journal j(work);
  start = Clock::now();
  for (std::uint64_t id = 1; id <= n; ++id) j.submit(id, fingerprint_of(id));
  emit("journal", "resubmits_per_second", static_cast<double>(n) / seconds_since(start), "1/s",
       params);

  start = Clock::now();
  const auto submitted = j.count(Journal::State::submitted);
  emit("journal", "count_seconds", seconds_since(start), "s",
       {{"tasks", n}, {"counted", submitted}});
}

void bench_finish_deliver(const std::string& work, std::uint64_t n) {
  Journal j(work);
  for (std::uint64_t id = 1; id <= n; ++id) j.submit(id, fingerprint_of(id));
  j.cancelled(n);  // commits the submissions outside the timed part
  const auto start = Clock::now();
  for (std::uint64_t id = 1; id < n; ++id) {
    j.finished(id, typical_outcome(id));
    j.delivered(id);
  }
  emit("journal", "finished_delivered_pairs_per_second",
       static_cast<double>(n - 1) / seconds_since(start), "1/s",
       {{"pairs", n - 1}, {"outcome_value_bytes", 64}});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The master's journal: submissions, results and restart scans", "bench_journal"};
  bool quick = false;
  app.add_flag("--quick", quick, "a tenth of the records");
  if (const int rc = mw::bench::parse_options(app, argc, argv); rc >= 0) return rc;
  const std::uint64_t scale = quick ? 10 : 1;
  {
    mw::bench::BenchDir dir;
    bench_submits(dir / "submits", 100000 / scale);
  }
  {
    mw::bench::BenchDir dir;
    bench_finish_deliver(dir / "pairs", 10000 / scale + 1);
  }
  return 0;
}
