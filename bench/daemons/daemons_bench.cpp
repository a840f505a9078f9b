// bench_daemons — mw-validator + mw-assimilator against the fake BOINC server
// (tests/boinc/fake_boinc_server.*) on a private MariaDB.
//
//   throughput: 10^4 workunits, quorum 2, 1 KB results, both daemons running;
//               workunits validated and assimilated per second, end to end.
//   latency:    quorum 1, daemons idle-waiting (--sleep S); from a result
//               reported as a success (plus the fake transitioner's pass) to
//               its bundle in the pickup directory; median and p95 over 100.
// Prints JSON lines; never asserts times (issue 5 targets: >= 2,000 WU/s,
// median latency <= 2 s). Options: --workunits N, --latency-samples N (0 skips
// the latency part), --sleep S, --project-root DIR, --threads N (the daemons'
// --threads; default: theirs), --tcp 1 (the daemons connect over TCP, not the
// unix socket a BOINC server's <db_host>localhost</db_host> means), --claims 1
// (the results report app version 1 with a run time and FLOP rate, so the
// validator's bookkeeping reads and writes host_app_version and app_version
// rows as on a real project; default 0: no app version, no such rows),
// --validator PATH (another mw-validator build, e.g. the one before a change,
// to compare both in one run).
//
// The private MariaDB runs as a stock server does (MW_TEST_MARIADB_SERVER_DEFAULTS=1:
// default buffer pool, redo log flushed at every commit), its datadir under
// $TMPDIR. The setup of the throughput part (10^5 rows written by the fake
// server, not timed) runs with innodb_flush_log_at_trx_commit = 2 and the
// stock value is put back before the daemons start. The project tree (upload
// hierarchy, pickup directory) goes to /dev/shm unless --project-root says
// otherwise, as in bench_submit: creating a file on this VM's ext4 costs about
// 0.6 ms of kernel CPU, which would measure the disk rather than the daemons.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <random>
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

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// CPU seconds (user + system) used so far by a running process, from /proc.
double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Printable but incompressible text, so a "1 KB result" is a 1 KB bundle.
std::string random_text(std::size_t n) {
  std::mt19937 gen(42);
  std::string s(n, ' ');
  for (auto& c : s) c = static_cast<char>('!' + gen() % 90);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int workunits = 10000, samples = 100;
  double sleep_s = 0.5;
  std::string project_root = exists("/dev/shm") ? "/dev/shm" : "";
  std::string threads;  // the daemons' --threads; empty = their default
  bool tcp = false;     // daemons connect over TCP (config.xml host:port) instead of the unix socket
  bool claims = false;  // results name app version 1 and report elapsed time and FLOPS
  std::string validator = MW_VALIDATOR;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--workunits") workunits = std::atoi(argv[i + 1]);
    else if (a == "--latency-samples") samples = std::atoi(argv[i + 1]);
    else if (a == "--sleep") sleep_s = std::atof(argv[i + 1]);
    else if (a == "--project-root") project_root = argv[i + 1];
    else if (a == "--threads") threads = argv[i + 1];
    else if (a == "--tcp") tcp = std::string(argv[i + 1]) != "0";
    else if (a == "--claims") claims = std::string(argv[i + 1]) != "0";
    else if (a == "--validator") validator = argv[i + 1];
  }
  ::setenv("MW_TEST_MARIADB_SERVER_DEFAULTS", "1", 0);
  mw::bench::BenchDir logs;
  // The server first, so its datadir stays under the original $TMPDIR; then
  // the fake server's project directories under the project root.
  mw::test::PrivateMariaDb::shared();
  if (!project_root.empty()) ::setenv("TMPDIR", project_root.c_str(), 1);
  const std::string result_1k = mw::test::make_result_bundle(random_text(1024 - 330));

  {  // Throughput, quorum 2.
    FakeBoincServer server("bench_daemons_throughput");
    const std::int64_t stock_flush = server.value("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit");
    server.db().execute("SET GLOBAL innodb_flush_log_at_trx_commit = 2");
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
    if (claims) {
      server.db().execute("INSERT INTO app_version (id, create_time, appid, version_num, platformid, xml_doc) "
                          "VALUES (1, 0, ?, 100, 1, '')",
                          {server.app_id()});
      server.db().execute("UPDATE result SET app_version_id = 1, elapsed_time = 3600 + id % 600, "
                          "cpu_time = 3500, flops_estimate = 1.2e9 WHERE appid = ?",
                          {server.app_id()});
    }
    server.db().execute("SET GLOBAL innodb_flush_log_at_trx_commit = " + std::to_string(stock_flush));
    if (!tcp) {
      // As on a BOINC server whose config.xml says <db_host>localhost</db_host>
      // (shared/real-boinc-samples/config.xml): the client library then takes
      // the unix socket, here the private server's, named by MYSQL_UNIX_PORT.
      const std::string config = server.project_dir() + "/config.xml";
      std::string text = read_text(config);
      const auto from = text.find("<db_host>"), to = text.find("</db_host>");
      text.replace(from, to - from, "<db_host>localhost");
      mw::test::write_text(config, text);
      ::setenv("MYSQL_UNIX_PORT", mw::test::PrivateMariaDb::shared().socket_path().c_str(), 1);
    }
    const pid_t mariadbd = mw::test::PrivateMariaDb::shared().pid();
    const double server_cpu_before = cpu_seconds(mariadbd);
    auto start = Clock::now();
    std::vector<std::string> common = with(server.daemon_args(), {"--sleep", "0.1", "-d", "1"});
    if (!threads.empty()) common = with(common, {"--threads", threads});
    BackgroundProcess v(with({validator}, common), logs / "v.log");
    BackgroundProcess a(with({MW_ASSIMILATOR}, with(common, {"--deliver", server.deliver_dir()})), logs / "a.log");
    double validated = 0;
    const std::int64_t app = server.app_id();
    // Looking for one row still to do (not counting them all) keeps the
    // poll's load on the server it measures small.
    while (server.value("SELECT 1 FROM workunit WHERE appid = ? AND assimilate_state <> 2 LIMIT 1", {app}) > 0) {
      if (validated == 0 &&
          server.value("SELECT 1 FROM workunit WHERE appid = ? AND need_validate > 0 LIMIT 1", {app}) == 0)
        validated = seconds_since(start);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    double elapsed = seconds_since(start);
    if (validated == 0) validated = elapsed;
    const double cpu_v = cpu_seconds(v.pid()), cpu_a = cpu_seconds(a.pid()),
                 cpu_s = cpu_seconds(mariadbd) - server_cpu_before;
    nlohmann::json params = {{"workunits", workunits},
                             {"quorum", 2},
                             {"result_bytes", result_1k.size()},
                             {"innodb_flush_log_at_trx_commit", stock_flush},
                             {"project_root", project_root.empty() ? "$TMPDIR" : project_root},
                             {"daemon_threads", threads.empty() ? "default" : threads},
                             {"daemon_connection", tcp ? "tcp" : "unix socket"},
                             {"claims", claims},
                             {"validator", validator}};
    mw::bench::emit("daemons", "workunits_per_second", workunits / elapsed, "WU/s", params);
    mw::bench::emit("daemons", "validated_per_second", workunits / validated, "WU/s", params);
    // Where the CPU went (the machine has 2 cores): per workunit, in ms.
    mw::bench::emit("daemons", "validator_cpu_ms_per_wu", cpu_v * 1e3 / workunits, "ms", params);
    mw::bench::emit("daemons", "assimilator_cpu_ms_per_wu", cpu_a * 1e3 / workunits, "ms", params);
    mw::bench::emit("daemons", "mariadbd_cpu_ms_per_wu", cpu_s * 1e3 / workunits, "ms", params);
  }

  if (samples > 0) {  // Latency, quorum 1, daemons idle-waiting.
    FakeBoincServer server("bench_daemons_latency");
    BackgroundProcess v(with({validator}, with(server.daemon_args(), {"--sleep", std::to_string(sleep_s), "-d", "1"})),
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
