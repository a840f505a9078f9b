// bench_daemons — mw-validator + mw-assimilator against the fake BOINC server
// (tests/boinc/fake_boinc_server.*) on a private MariaDB.
//
//   throughput: 10^4 workunits, quorum 2, 1 KB results, both daemons running;
//               workunits validated and assimilated per second, end to end.
//   latency:    quorum 1, daemons idle-waiting (--sleep S); from a result
//               reported as a success (plus the fake transitioner's pass) to
//               its bundle in the pickup directory; median and p95 over 100.
// Prints JSON lines; never asserts times (issue 5 targets: >= 2,000 WU/s,
// median latency <= 2 s). `bench_daemons --help` lists the options.
//
// The private MariaDB runs as a stock server does (MW_TEST_MARIADB_SERVER_DEFAULTS=1:
// default buffer pool, redo log flushed at every commit), its datadir under
// --db-root (default $TMPDIR). The setup of the throughput part (10^5 rows written by the fake
// server, not timed) runs with innodb_flush_log_at_trx_commit = 2 and the
// stock value is put back before the daemons start. The project tree (upload
// hierarchy, pickup directory) goes under --project-root, by default the build
// tree (mw::bench::default_root()): a BOINC server's project lives on a disk,
// and what the assimilator pays to make its deliveries durable there is part
// of what is measured (issue 23). `--project-root /dev/shm` measures on tmpfs.
// The run also prints the project file system's type and its floor: as many
// files of the result size as the assimilator delivers, created and written,
// plus one syncfs — the least any durable delivery of them can cost there.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <random>
#include <thread>

#include "bench_common.h"
#include "boinc/fake_boinc_server.h"
#include "boinc/status_indexes.h"

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

struct Options {
  int workunits = 10000;
  int samples = 100;
  double sleep_s = 0.5;
  std::string project_root;
  std::string db_root;  // where the private MariaDB's datadir goes; empty = $TMPDIR
  std::string threads;  // the daemons' --threads; empty = their default
  bool tcp = false;     // daemons connect over TCP (config.xml host:port) instead of the unix socket
  bool claims = false;  // results name app version 1 and report elapsed time and FLOPS
  bool sequential = false;  // the validator alone, then the assimilator alone
  int hosts = 2;            // volunteer hosts the results go to (the fake server has 1-4 with owners)
  bool mw_indexes = true;   // mwkit's counting indexes, as mw-project-setup install leaves a project
  std::string validator = MW_VALIDATOR;
  std::string assimilator = MW_ASSIMILATOR;
};

// Returns -1 to go on, else the exit code (0 after --help, 64 for a usage error).
int parse_command_line(Options& o, int argc, char** argv) {
  CLI::App app{"mw-validator + mw-assimilator against the tests' fake BOINC server: throughput (quorum 2) and "
               "delivery latency (quorum 1); prints JSON lines",
               "bench_daemons"};
  app.add_option("--workunits", o.workunits, "Workunits of the throughput part")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--latency-samples", o.samples, "Workunits of the latency part (0 skips it)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--sleep", o.sleep_s, "The daemons' --sleep in the latency part, seconds")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--project-root", o.project_root,
                 "Directory the project trees (uploads, pickup directory) go under; /dev/shm for tmpfs")
      ->check(CLI::ExistingDirectory)->capture_default_str();
  app.add_option("--db-root", o.db_root,
                 "Directory the private MariaDB's datadir goes under, e.g. the project root's file system as "
                 "on a real server (default: $TMPDIR, else /tmp)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--threads", o.threads, "The daemons' --threads (default: theirs)");
  app.add_option("--tcp", o.tcp, "1: the daemons connect over TCP, not the unix socket")->capture_default_str();
  app.add_option("--claims", o.claims,
                 "1: results name an app version with run time and FLOP rate, so the validator keeps "
                 "host_app_version and app_version rows as on a real project")
      ->capture_default_str();
  app.add_option("--sequential", o.sequential,
                 "1: the validator alone until all is validated, then the assimilator alone (each one's own "
                 "rate) instead of both at once")
      ->capture_default_str();
  app.add_option("--hosts", o.hosts,
                 "Hosts the throughput part's results go to, two different ones per workunit (2: every "
                 "credit lands on the same two hosts and users; more spreads it as on a real project)")
      ->check(CLI::Range(2, 1000000))->capture_default_str();
  app.add_option("--mw-indexes", o.mw_indexes,
                 "1: the tables carry the mw_ indexes mw-project-setup install adds for mw-status "
                 "(every daemon update then moves their entries too); 0: BOINC's indexes only")
      ->capture_default_str();
  app.add_option("--validator", o.validator, "mw-validator to run (e.g. a build before a change)")
      ->check(CLI::ExistingFile)->capture_default_str();
  app.add_option("--assimilator", o.assimilator, "mw-assimilator to run (e.g. a build before a change)")
      ->check(CLI::ExistingFile)->capture_default_str();
  return mw::bench::parse_options(app, argc, argv);
}

// Writes back every dirty page of the file system holding `dir` (untimed), so
// that the setup's upload files are on disk before the daemons start, as on a
// server where they arrived over minutes: a barrier of the assimilator's must
// not pay for them.
void sync_file_system(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + dir + ": " + std::strerror(errno));
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot syncfs the file system of " + dir + ": " + std::strerror(err));
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

struct Daemons {
  std::vector<std::string> validator, assimilator;  // argv
};

bool any_row(FakeBoincServer& server, const std::string& condition) {
  // Looking for one row (not counting them all) keeps the poll's load on the
  // server it measures small.
  return server.value("SELECT 1 FROM workunit WHERE appid = ? AND " + condition + " LIMIT 1", {server.app_id()}) > 0;
}

// Both daemons running at once, as on a server: workunits validated and
// assimilated per second, end to end, and the CPU each process spent.
// Returns the end-to-end rate.
double together(const Options& o, FakeBoincServer& server, const Daemons& daemons, const mw::bench::BenchDir& logs,
                const nlohmann::json& params) {
  const pid_t mariadbd = mw::test::PrivateMariaDb::shared().pid();
  const double server_cpu_before = cpu_seconds(mariadbd);
  double elapsed = 0, validated = 0, cpu_v = 0, cpu_a = 0;
  {
    auto start = Clock::now();
    BackgroundProcess v(daemons.validator, logs / "v.log");
    BackgroundProcess a(daemons.assimilator, logs / "a.log");
    while (any_row(server, "assimilate_state <> 2")) {
      if (validated == 0 && !any_row(server, "need_validate > 0")) validated = seconds_since(start);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    elapsed = seconds_since(start);
    if (validated == 0) validated = elapsed;
    cpu_v = cpu_seconds(v.pid());
    cpu_a = cpu_seconds(a.pid());
  }  // both daemons stopped: what follows runs alone
  const double cpu_s = cpu_seconds(mariadbd) - server_cpu_before;
  const double wu_per_s = o.workunits / elapsed;
  mw::bench::emit("daemons", "workunits_per_second", wu_per_s, "WU/s", params);
  mw::bench::emit("daemons", "validated_per_second", o.workunits / validated, "WU/s", params);
  // Where the CPU went (the machine has 2 cores): per workunit, in ms.
  mw::bench::emit("daemons", "validator_cpu_ms_per_wu", cpu_v * 1e3 / o.workunits, "ms", params);
  mw::bench::emit("daemons", "assimilator_cpu_ms_per_wu", cpu_a * 1e3 / o.workunits, "ms", params);
  mw::bench::emit("daemons", "mariadbd_cpu_ms_per_wu", cpu_s * 1e3 / o.workunits, "ms", params);
  return wu_per_s;
}

// One daemon alone until no row matches `busy`: seconds and CPU seconds.
struct Alone {
  double seconds = 0, cpu = 0;
};
Alone run_alone(FakeBoincServer& server, const std::vector<std::string>& argv, const std::string& log,
                const std::string& busy) {
  auto start = Clock::now();
  BackgroundProcess p(argv, log);
  while (any_row(server, busy)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return {seconds_since(start), cpu_seconds(p.pid())};
}

// The validator alone until every workunit is validated, then the assimilator
// alone: each daemon's own rate, without the other (and its database load)
// taking CPU from it. Returns the assimilator's rate.
double one_after_the_other(const Options& o, FakeBoincServer& server, const Daemons& daemons,
                           const mw::bench::BenchDir& logs, const nlohmann::json& params) {
  const Alone v = run_alone(server, daemons.validator, logs / "v.log", "need_validate > 0");
  const Alone a = run_alone(server, daemons.assimilator, logs / "a.log", "assimilate_state <> 2");
  mw::bench::emit("daemons", "validated_alone_per_second", o.workunits / v.seconds, "WU/s", params);
  mw::bench::emit("daemons", "assimilated_alone_per_second", o.workunits / a.seconds, "WU/s", params);
  mw::bench::emit("daemons", "validator_cpu_ms_per_wu", v.cpu * 1e3 / o.workunits, "ms", params);
  mw::bench::emit("daemons", "assimilator_cpu_ms_per_wu", a.cpu * 1e3 / o.workunits, "ms", params);
  return o.workunits / a.seconds;
}

// Hosts 5..n beside the fake server's four, owned in turn by its four users
// (two of them in team 1), so credit spreads over n host rows.
void add_hosts(FakeBoincServer& server, int n) {
  server.db().execute("SET SESSION sql_mode = ''");  // the host columns not given take their zero values
  for (int first = 5; first <= n; first += 1000) {
    std::string sql = "INSERT INTO host (id, userid, create_time, total_credit) VALUES ";
    for (int id = first; id <= std::min(n, first + 999); ++id)
      sql += (id == first ? "(" : ",(") + std::to_string(id) + "," + std::to_string((id - 1) % 4 + 1) + ",0,0)";
    server.db().execute(sql);
  }
  server.db().execute("SET SESSION sql_mode = DEFAULT");
}

// The throughput part's starting state, not timed: `o.workunits` quorum-2
// workunits, each with two successful results of `result_bundle` reported and
// uploaded; the daemons' connection set up as asked. Returns the server's
// stock innodb_flush_log_at_trx_commit, which is in force again on return.
std::int64_t prepare_throughput(const Options& o, FakeBoincServer& server, const std::string& result_bundle) {
  const std::int64_t stock_flush = server.value("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit");
  if (o.mw_indexes) mw::boinc::detail::add_status_indexes(server.db());
  server.db().execute("SET GLOBAL innodb_flush_log_at_trx_commit = 2");
  FakeWorkunit spec;
  spec.min_quorum = 2;
  spec.target_nresults = 2;
  add_hosts(server, o.hosts);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < o.workunits; ++i) ids.push_back(server.create_workunit("wu" + std::to_string(i), spec));
  server.transition();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto first = static_cast<std::int64_t>((2 * i) % static_cast<std::size_t>(o.hosts)) + 1;
    server.report_success(server.send_one(ids[i], first), result_bundle);
    server.report_success(server.send_one(ids[i], first % o.hosts + 1), result_bundle);
  }
  server.transition();
  if (o.claims) {
    server.db().execute("INSERT INTO app_version (id, create_time, appid, version_num, platformid, xml_doc) "
                        "VALUES (1, 0, ?, 100, 1, '')",
                        {server.app_id()});
    server.db().execute("UPDATE result SET app_version_id = 1, elapsed_time = 3600 + id % 600, "
                        "cpu_time = 3500, flops_estimate = 1.2e9 WHERE appid = ?",
                        {server.app_id()});
  }
  server.db().execute("SET GLOBAL innodb_flush_log_at_trx_commit = " + std::to_string(stock_flush));
  if (!o.tcp) {
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
  return stock_flush;
}

// Throughput, quorum 2: `o.workunits` workunits with two results each,
// validated and assimilated (both daemons at once, or --sequential); the
// figures and the file system's floor for the files the assimilator delivered.
void throughput(const Options& o, const std::string& result_bundle, const mw::bench::BenchDir& logs,
                const nlohmann::json& where) {
  FakeBoincServer server("bench_daemons_throughput");
  const std::int64_t stock_flush = prepare_throughput(o, server, result_bundle);
  sync_file_system(server.project_dir());
  nlohmann::json params = where;
  params.update({{"workunits", o.workunits},
                 {"quorum", 2},
                 {"result_bytes", result_bundle.size()},
                 {"innodb_flush_log_at_trx_commit", stock_flush},
                 {"daemon_threads", o.threads.empty() ? "default" : o.threads},
                 {"daemon_connection", o.tcp ? "tcp" : "unix socket"},
                 {"claims", o.claims},
                 {"mw_indexes", o.mw_indexes},
                 {"hosts", o.hosts},
                 {"validator", o.validator},
                 {"assimilator", o.assimilator}});
  std::vector<std::string> common = with(server.daemon_args(), {"--sleep", "0.1", "-d", "1"});
  if (!o.threads.empty()) common = with(common, {"--threads", o.threads});
  const Daemons daemons{with({o.validator}, common),
                        with({o.assimilator}, with(common, {"--deliver", server.deliver_dir()}))};
  const double wu_per_s = o.sequential ? one_after_the_other(o, server, daemons, logs, params)
                                       : together(o, server, daemons, logs, params);
  // The floor for the files the assimilator delivered (one per workunit, of
  // the result's size), on the same file system, measured now that it is idle.
  const std::size_t files = static_cast<std::size_t>(o.workunits);
  const mw::bench::FileFloor floor = mw::bench::measure_file_floor(o.project_root, files, result_bundle.size());
  mw::bench::emit_file_floor("daemons", floor, o.project_root, files, result_bundle.size(), where);
  mw::bench::emit("daemons", o.sequential ? "assimilated_alone_per_second_over_floor" : "workunits_per_second_over_floor",
                  wu_per_s / floor.files_per_s, "ratio", where);
}

// Latency, quorum 1, daemons idle-waiting: from a success report to the
// bundle in the pickup directory.
void latency(const Options& o, const std::string& result_bundle, const mw::bench::BenchDir& logs,
             const nlohmann::json& where) {
  FakeBoincServer server("bench_daemons_latency");
  const std::vector<std::string> common = with(server.daemon_args(), {"--sleep", std::to_string(o.sleep_s), "-d", "1"});
  BackgroundProcess v(with({o.validator}, common), logs / "v2.log");
  BackgroundProcess a(with({o.assimilator}, with(common, {"--deliver", server.deliver_dir()})), logs / "a2.log");
  std::vector<double> latencies;
  for (int i = 0; i < o.samples; ++i) {
    std::string name = "lat" + std::to_string(i);
    std::int64_t wu = server.create_workunit(name, {});
    server.transition();
    std::int64_t r = server.send_one(wu);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(o.sleep_s * 1000 * 1.3)));
    auto start = Clock::now();
    server.report_success(r, result_bundle);
    server.transition();
    std::string path = server.deliver_dir() + "/0/" + name + ".result";
    while (!exists(path)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    latencies.push_back(seconds_since(start));
  }
  std::sort(latencies.begin(), latencies.end());
  nlohmann::json params = where;
  params.update({{"samples", o.samples}, {"quorum", 1}, {"daemon_sleep_seconds", o.sleep_s},
                 {"assimilator", o.assimilator}});
  mw::bench::emit("daemons", "delivery_latency_median", latencies[latencies.size() / 2], "s", params);
  mw::bench::emit("daemons", "delivery_latency_p95", latencies[(latencies.size() * 95) / 100], "s", params);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.project_root = mw::bench::default_root();
  if (const int code = parse_command_line(o, argc, argv); code >= 0) return code;
  ::setenv("MW_TEST_MARIADB_SERVER_DEFAULTS", "1", 0);
  try {
    mw::bench::BenchDir logs;
    // The server first, so its datadir stays under the original $TMPDIR; then
    // the fake server's project directories under the project root.
    if (!o.db_root.empty()) ::setenv("MW_TEST_MARIADB_ROOT", o.db_root.c_str(), 1);
    const std::string db_dir = mw::test::PrivateMariaDb::shared().directory();
    ::setenv("TMPDIR", o.project_root.c_str(), 1);
    const nlohmann::json where = {{"project_root", o.project_root},
                                  {"fs", mw::bench::file_system_type(o.project_root)},
                                  {"db_fs", mw::bench::file_system_type(db_dir)}};
    mw::bench::emit_object({{"bench", "daemons"}, {"metric", "db_file_system"}, {"value", where["db_fs"]},
                            {"db_dir", db_dir}});
    mw::bench::emit_object({{"bench", "daemons"}, {"metric", "project_file_system"},
                            {"value", where["fs"]}, {"project_root", o.project_root}});
    const std::string result_1k = mw::test::make_result_bundle(random_text(1024 - 330));
    throughput(o, result_1k, logs, where);
    if (o.samples > 0) latency(o, result_1k, logs, where);
  } catch (const std::exception& e) {
    std::cerr << "bench_daemons: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
