// bench_remote — mw::boinc::Remote's submission against the tests' double of
// BOINC's web RPCs (FakeBoincRpcServer) on loopback. Jobs are held (the double
// is paused), so this measures the master's side: building and signing
// bundles, staging by content hash, the batch-name check (query_batch) + submit_batch.
//
// Prints JSON lines (see bench/README.md):
//   submit/jobs_per_s         N exec tasks until the double holds N jobs
//   rpcs/per_1000_jobs        RPCs (file uploads excluded; polls included) per 1,000 jobs
//   uploads/per_1000_jobs     upload_files requests per 1,000 jobs
//
//   bench_remote [--quick]     --quick: 10^3 only (else 10^3 and 10^4)
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "bench_common.h"
#include "boinc/fake_boinc_rpc_server.h"
#include "mw/boinc/remote.h"
#include "mw/master.h"
#include "support/test_support.h"

namespace {

void run(std::size_t n) {
  const std::string auth = "bench0authenticator0000";
  mw::PrivateKey key = mw::PrivateKey::generate();
  mw::test::FakeBoincRpcServer server(auth, {key.public_key()});
  server.set_paused(true);
  mw::bench::BenchDir dir;
  mw::test::write_text(dir / "task.pem", key.to_pem());
  mw::test::write_text(dir / "auth", auth);
  ::chmod((dir / "auth").c_str(), 0600);
  mw::boinc::Remote remote;
  remote.project_url = server.url();
  remote.auth_file = dir / "auth";
  remote.signing_key = dir / "task.pem";
  remote.batch_name = "bench";
  remote.retire_batch_at_end = false;
  remote.log = [](const std::string&) {};
  const auto t0 = std::chrono::steady_clock::now();
  {
    mw::Master master(remote);
    for (std::size_t i = 0; i < n; ++i)
      master.submit_task(mw::Exec("/bin/echo", {"job", std::to_string(i)}));
    while (server.jobs_total() < n) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto counts = server.rpc_counts();
    std::size_t rpcs = 0;
    for (const auto& [rpc, count] : counts)
      if (rpc != "upload_files") rpcs += static_cast<std::size_t>(count);
    const nlohmann::json params = {{"jobs", n}};
    mw::bench::emit("remote", "submit/jobs_per_s", n / seconds, "jobs/s", params);
    mw::bench::emit("remote", "rpcs/per_1000_jobs", 1000.0 * rpcs / n, "rpcs", params);
    mw::bench::emit("remote", "uploads/per_1000_jobs", 1000.0 * counts["upload_files"] / n, "requests", params);
    mw::bench::emit("remote", "query_batch/count", counts["query_batch"], "rpcs", params);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mw::boinc::Remote's submission against the tests' double of BOINC's web RPCs: "
               "jobs per second and RPCs per 1,000 jobs", "bench_remote"};
  bool quick = false;
  app.add_flag("--quick", quick, "10^3 jobs only (default: 10^3 and 10^4)");
  if (const int rc = mw::bench::parse_options(app, argc, argv); rc >= 0) return rc;
  run(1000);
  if (!quick) run(10000);
  return 0;
}
