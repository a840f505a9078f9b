// bench_daemons — mw-validator + mw-assimilator against the fake BOINC server
// (tests/boinc/fake_boinc_server.*) on a private MariaDB.
//
//   throughput: 10^4 workunits, quorum 2, 1 KB results, both daemons running;
//               workunits validated and assimilated per second, end to end.
//   latency:    quorum 1, daemons idle-waiting (--sleep S); from a result
//               reported as a success (plus the fake transitioner's pass) to
//               its bundle in the pickup directory; median and p95 over 100.
// Prints JSON lines; never asserts times (issue 5 targets: >= 2,000 WU/s,
// median latency <= 2 s). Options: --workunits N, --latency-samples N, --sleep S.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "bench_common.h"
#include "boinc/fake_boinc_server.h"

namespace {

using Clock = std::chrono::steady_clock;
using mw::test::BackgroundProcess;
using mw::test::FakeBoincServer;
using mw::test::FakeWorkunit;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  int workunits = 10000, samples = 100;
  double sleep_s = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--workunits") workunits = std::atoi(argv[i + 1]);
    else if (a == "--latency-samples") samples = std::atoi(argv[i + 1]);
    else if (a == "--sleep") sleep_s = std::atof(argv[i + 1]);
  }
  const std::string result_1k = mw::test::make_result_bundle(std::string(1024 - 300, 'r'));
  mw::bench::BenchDir logs;

  {  // Throughput, quorum 2.
    FakeBoincServer server("bench_daemons_throughput");
    FakeWorkunit spec;
    spec.min_quorum = 2;
    spec.target_nresults = 2;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < workunits; ++i) ids.push_back(server.create_workunit("wu" + std::to_string(i), spec));
    server.transition();
    for (auto id : ids) {
      server.report_success(server.send_one(id, 1), result_1k);
      server.report_success(server.send_one(id, 2), result_1k);
    }
    server.transition();
    auto start = Clock::now();
    BackgroundProcess v(with({MW_VALIDATOR}, with(server.daemon_args(), {"--sleep", "0.1", "-d", "1"})), logs / "v.log");
    BackgroundProcess a(with({MW_ASSIMILATOR}, with(server.daemon_args(), {"--sleep", "0.1", "-d", "1", "--deliver", server.deliver_dir()})),
                        logs / "a.log");
    while (server.value("SELECT COUNT(*) FROM workunit WHERE assimilate_state = 2") < workunits)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    double elapsed = seconds_since(start);
    mw::bench::emit("daemons", "workunits_per_second", workunits / elapsed, "WU/s",
                    {{"workunits", workunits}, {"quorum", 2}, {"result_bytes", result_1k.size()}});
  }

  {  // Latency, quorum 1, daemons idle-waiting.
    FakeBoincServer server("bench_daemons_latency");
    BackgroundProcess v(with({MW_VALIDATOR}, with(server.daemon_args(), {"--sleep", std::to_string(sleep_s), "-d", "1"})),
                        logs / "v2.log");
    BackgroundProcess a(with({MW_ASSIMILATOR}, with(server.daemon_args(), {"--sleep", std::to_string(sleep_s), "-d", "1",
                                                                             "--deliver", server.deliver_dir()})),
                        logs / "a2.log");
    std::vector<double> latencies;
    for (int i = 0; i < samples; ++i) {
      std::string name = "lat" + std::to_string(i);
      std::int64_t wu = server.create_workunit(name, {});
      server.transition();
      std::int64_t r = server.send_one(wu);
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(sleep_s * 1000 * 1.3)));
      auto start = Clock::now();
      server.report_success(r, result_1k);
      server.transition();
      std::string path = server.deliver_dir() + "/0/" + name + ".result";
      while (!exists(path)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      latencies.push_back(seconds_since(start));
    }
    std::sort(latencies.begin(), latencies.end());
    nlohmann::json params = {{"samples", samples}, {"quorum", 1}, {"daemon_sleep_seconds", sleep_s}};
    mw::bench::emit("daemons", "delivery_latency_median", latencies[latencies.size() / 2], "s", params);
    mw::bench::emit("daemons", "delivery_latency_p95", latencies[(latencies.size() * 95) / 100], "s", params);
  }
  return 0;
}
