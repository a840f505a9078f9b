// mw::boinc::Remote and the layers under it (HttpClient, RpcClient) against
// FakeBoincRpcServer, a test double of BOINC's web RPCs on loopback. This
// binary is also the worker program its function tasks ship.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "boinc/fake_boinc_rpc_server.h"
#include "boinc/remote_ledger.h"
#include "boinc/remote_rpc.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/remote.h"
#include "mw/boinc/templates.h"
#include "mw/master.h"
#include "mw/worker.h"
#include "support/test_support.h"
#include "support/test_tls.h"
#include "util/fs.h"

namespace {

int square(int x) { return x * x; }
MW_TASK(square);

using mw::boinc::detail::HttpOptions;
using mw::boinc::detail::RpcClient;
using mw::boinc::detail::RpcError;
using mw::test::FakeBoincRpcServer;

const std::string kAuth = "c0ffee5ecret0f7he5ubmitter";

HttpOptions fast_http() {
  HttpOptions h;
  h.backoff_initial_seconds = 0.01;
  h.max_attempts = 4;
  return h;
}

// Job k of the batch named `batch` (remote_rpc.h: the name, not the id).
std::string job_of(const std::string& batch, long k) {
  return mw::boinc::detail::job_name_stem(batch) + "_" + std::to_string(k);
}

// The message the task failed with ("" and a test failure if it did not fail).
std::string failure_of(mw::Master& master, const mw::Task& task) {
  try {
    master.get_result(task);
  } catch (const mw::TaskFailed& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected TaskFailed";
  return "";
}

struct Fixture {
  Fixture() : key(mw::PrivateKey::generate()), server(kAuth, {key.public_key()}) {
    mw::test::write_text(scratch / "task.pem", key.to_pem());
    mw::test::write_text(scratch / "auth", kAuth + "\n");
    ::chmod((scratch / "auth").c_str(), 0600);
    remote.project_url = server.url();
    remote.auth_file = scratch / "auth";
    remote.signing_key = scratch / "task.pem";
    remote.batch_name = "remote test";
    remote.poll_initial_seconds = 0.05;
    remote.poll_max_seconds = 0.5;
    remote.gather_seconds = 0.1;
    remote.backoff_initial_seconds = 0.01;
    remote.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mutex);
      log_lines.push_back(line);
    };
  }
  std::string all_logs() {
    std::lock_guard<std::mutex> lock(log_mutex);
    std::string all;
    for (const auto& l : log_lines) all += l + "\n";
    return all;
  }
  mw::test::ScratchDir scratch;
  mw::PrivateKey key;
  FakeBoincRpcServer server;
  mw::boinc::Remote remote;
  std::mutex log_mutex;
  std::vector<std::string> log_lines;
};

// ---- the RPC layer

TEST(BoincRemoteRpc, RequestsHaveTheTranscriptsShape) {
  Fixture f;
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  const std::int64_t id = rpc.create_batch("mw", "shape");
  EXPECT_EQ(id, 1);
  const auto bodies = f.server.request_bodies();
  ASSERT_EQ(bodies.size(), 1u);
  // <create_batch><authenticator/><app_name/><batch_name/><expire_time/></create_batch>
  const std::string& b = bodies[0];
  const auto at = [&](const char* s) { return b.find(s); };
  EXPECT_EQ(at("<create_batch>"), 0u) << b;
  EXPECT_LT(at("<authenticator>" ), at("<app_name>mw</app_name>")) << b;
  EXPECT_LT(at("<app_name>mw</app_name>"), at("<batch_name>shape</batch_name>")) << b;
  EXPECT_LT(at("<batch_name>shape</batch_name>"), at("<expire_time>0</expire_time>")) << b;
  EXPECT_TRUE(f.server.violations().empty());
  const auto status = rpc.query_batch(id);
  EXPECT_EQ(status.id, id);
  EXPECT_EQ(status.state, 0);
  EXPECT_EQ(rpc.query_files({"mwt_a", "mwt_b"}), (std::vector<std::size_t>{0, 1}));
  rpc.upload_files({"mwt_b"}, {"bytes of b"});
  EXPECT_EQ(rpc.query_files({"mwt_a", "mwt_b"}), (std::vector<std::size_t>{0}));
  rpc.retire_batch(id);
  EXPECT_EQ(f.server.batch_state(id), 4);
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
}

TEST(BoincRemoteRpc, ServerErrorsAreTypedAndNeverRetried) {
  Fixture f;
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  f.server.error_next("create_batch", "no such app");
  try {
    rpc.create_batch("nope", "x");
    ADD_FAILURE() << "expected RpcError";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.rpc(), "create_batch");
    EXPECT_EQ(e.error_num(), -1);
    EXPECT_EQ(e.server_message(), "no such app");
    EXPECT_EQ(e.code(), mw::Errc::remote);
    EXPECT_NE(std::string(e.what()).find("create_batch failed: error -1: no such app"), std::string::npos);
  }
  EXPECT_EQ(f.server.http_requests(), 1) << "an <error> reply is final";
}

TEST(BoincRemoteRpc, WrongAuthenticatorIsClearAndNotRetried) {
  Fixture f;
  const std::string wrong = "deadbeefdeadbeef";
  RpcClient rpc(f.server.url(), wrong, fast_http());
  const std::string msg = mw::test::error_of([&] { rpc.create_batch("mw", "x"); }, mw::Errc::remote);
  EXPECT_NE(msg.find("bad authenticator"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(wrong), std::string::npos) << "the authenticator leaked: " << msg;
  EXPECT_EQ(f.server.http_requests(), 1);
  // get_output's text errors too (the authenticator travels in its URL).
  const std::string out = mw::test::error_of([&] { rpc.workunit_file("job_1"); }, mw::Errc::remote);
  EXPECT_NE(out.find("bad authenticator"), std::string::npos) << out;
  EXPECT_EQ(out.find(wrong), std::string::npos) << out;
}

TEST(BoincRemoteRpc, RetriesNetworkErrorsAnd5xxWithBackoffButNot4xx) {
  Fixture f;
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  std::vector<double> sleeps;
  rpc.http().set_sleeper([&](double s) { sleeps.push_back(s); });
  f.server.reply_status_next(2, 503);
  EXPECT_EQ(rpc.create_batch("mw", "a"), 1);
  EXPECT_EQ(rpc.http_attempts(), 3u);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], 0.01);  // full jitter under 0.01, then under 0.02
  EXPECT_LE(sleeps[1], 0.02);
  // Dropped connections: libcurl itself resends once on a reused connection
  // that was closed, so the second drop is the one our retry sees.
  f.server.drop_next(2);
  EXPECT_EQ(rpc.create_batch("mw", "b"), 2);
  EXPECT_EQ(rpc.http_attempts(), 5u);
  EXPECT_EQ(sleeps.size(), 3u);
  // A 5xx outage longer than the attempts: a clear error naming the RPC.
  f.server.reply_status_next(10, 502);
  std::string msg = mw::test::error_of([&] { rpc.create_batch("mw", "c"); }, mw::Errc::remote);
  EXPECT_NE(msg.find("BOINC RPC create_batch (" + f.server.url() + "submit_rpc_handler.php) failed after 4 attempts: HTTP 502"),
            std::string::npos) << msg;
  f.server.reply_status_next(0, 502);
  // 4xx: once.
  f.server.reply_status_next(1, 403);
  const auto before = rpc.http_attempts();
  msg = mw::test::error_of([&] { rpc.create_batch("mw", "d"); }, mw::Errc::remote);
  EXPECT_NE(msg.find("HTTP 403 (not retried)"), std::string::npos) << msg;
  EXPECT_EQ(rpc.http_attempts(), before + 1);
  // Malformed XML is a format error, not retried.
  f.server.malformed_next(1);
  msg = mw::test::error_of([&] { rpc.query_batch(1); }, mw::Errc::format);
  EXPECT_NE(msg.find("query_batch"), std::string::npos) << msg;
  EXPECT_EQ(rpc.http_attempts(), before + 2);
}

TEST(BoincRemoteRpc, SlowRepliesHitTheTotalTimeout) {
  Fixture f;
  HttpOptions h = fast_http();
  h.total_timeout_seconds = 0.2;
  h.max_attempts = 2;
  RpcClient rpc(f.server.url(), kAuth, h);
  f.server.set_delay(0.5);
  const std::string msg = mw::test::error_of([&] { rpc.create_batch("mw", "slow"); }, mw::Errc::remote);
  EXPECT_NE(msg.find("failed after 2 attempts"), std::string::npos) << msg;
  EXPECT_NE(msg.find("imeout"), std::string::npos) << msg;
}

// ---- the interface

TEST(BoincRemote, HundredJobsEndToEnd) {
  Fixture f;
  f.remote.tasks_per_submit = 40;  // three batches
  f.remote.settings.min_quorum = 2;
  f.remote.settings.target_nresults = 2;
  f.remote.settings.max_total_results = 4;
  f.remote.settings.max_success_results = 2;
  std::vector<int> inputs;
  for (int i = 0; i < 100; ++i) inputs.push_back(i);
  {
    mw::Master master(f.remote);
    const std::vector<int> squares = master.map<int>(mw::fn("square"), inputs);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(squares[i], i * i);
    auto st = master.status();
    EXPECT_EQ(st.interface, "boinc-remote");
    EXPECT_EQ(st.details.details["delivered"], "100");
    EXPECT_EQ(st.details.details["submitted"], "100");
  }
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
  EXPECT_EQ(f.server.jobs_total(), 100u);
  auto counts = f.server.rpc_counts();
  EXPECT_EQ(counts["get_output3"], 100) << "outputs come from results/, after file_deleter";
  EXPECT_EQ(counts["get_output"], 0);
  EXPECT_EQ(counts["create_batch"], 0) << "submit_batch makes each batch with its jobs";
  EXPECT_GE(counts["submit_batch"], 3);
  EXPECT_EQ(counts["retire_batch"], counts["submit_batch"]) << "every batch is retired at the end";
  EXPECT_EQ(f.server.batch_state(1), 4);
  // One worker program for all of them: uploaded once, then found by query_files.
  std::string program;
  for (const auto& body : f.server.request_bodies())
    if (body.find("<upload_files>") == 0 && body.find("mwp_") != std::string::npos)
      program = body.substr(body.find("mwp_"), 68);
  ASSERT_FALSE(program.empty());
  EXPECT_EQ(f.server.uploads_of(program), 1);
  // This test binary is that worker program: it needs more than glibc, and
  // the master's log says so once, before the program is staged.
  const std::string logs = f.all_logs();
  const std::string warning = "warning: " + mw::detail::self_program_path() + " may not run on volunteer hosts";
  EXPECT_NE(logs.find(warning), std::string::npos) << logs;
  EXPECT_NE(logs.find("it needs libstdc++.so.6"), std::string::npos) << logs;
  EXPECT_EQ(logs.find(warning, logs.find(warning) + 1), std::string::npos) << "once per program\n" << logs;
  // The quorum reaches create_work (through each job's own input template).
  for (const auto& job : f.server.submitted_jobs()) {
    const auto q = f.server.quorum_of(job);
    EXPECT_EQ(q.min_quorum, 2) << job;
    EXPECT_EQ(q.target_nresults, 2) << job;
    EXPECT_EQ(q.max_total_results, 4) << job;
  }
}

// BOINC's submit_rpc_handler.php passes only rsc_* and delay_bound from
// <job_params> to create_work: quorum and result limits count only when each
// job carries them in its own <input_template>.
TEST(BoincRemote, QuorumAndResultLimitsReachCreateWorkForBothTemplates) {
  Fixture f;
  f.remote.settings.min_quorum = 2;
  f.remote.settings.target_nresults = 2;
  f.remote.settings.max_error_results = 3;
  f.remote.settings.max_total_results = 6;
  f.remote.settings.max_success_results = 4;
  {
    mw::Master master(f.remote);
    auto echo = master.submit_task(mw::Exec("/bin/echo", {"quorum"}));      // the bundle alone
    auto square = master.submit_task(mw::fn("square"), mw::args(7));       // bundle + program
    EXPECT_EQ(master.get_result(echo).stdout_text(), "quorum\n");
    EXPECT_EQ(master.get_result(square).value<int>(), 49);
  }
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
  const auto jobs = f.server.submitted_jobs();
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) {
    const auto q = f.server.quorum_of(job);
    EXPECT_TRUE(q.from_job_template) << job;
    EXPECT_EQ(q.min_quorum, 2) << job;
    EXPECT_EQ(q.target_nresults, 2) << job;
    EXPECT_EQ(q.max_error_results, 3) << job;
    EXPECT_EQ(q.max_total_results, 6) << job;
    EXPECT_EQ(q.max_success_results, 4) << job;
  }
  // Still two RPCs per batch (the check that its name is new, and
  // submit_batch): the templates make submit_batch bigger, not more
  // frequent; and not much bigger (remote.h says about 0.5 KB per job).
  auto counts = f.server.rpc_counts();
  EXPECT_EQ(counts["submit_batch"], 2);
  int name_checks = 0;
  for (const auto& body : f.server.request_bodies())
    name_checks += body.find("<query_batch>") == 0 && body.find("<batch_name>") != std::string::npos;
  EXPECT_EQ(name_checks, 2);
  for (const auto& body : f.server.request_bodies()) {
    if (body.find("<submit_batch>") != 0) continue;
    const auto start = body.find("<input_template>"), end = body.find("</input_template>");
    ASSERT_NE(start, std::string::npos) << body;
    std::cout << "per-job input_template: " << end + 17 - start << " bytes\n";
    EXPECT_LT(end + 17 - start, 600u) << body;
  }
}

// The per-job template is mwkit's installed template plus the <workunit>
// numbers: the same workunit.xml_doc as templates/mw_in*.xml gives, as BOINC's
// create_work would build it.
TEST(BoincRemoteRpc, JobInputTemplateIsTheAppTemplatePlusTheQuorum) {
  mw::test::ScratchDir dir;
  mw::boinc::ProjectConfig config;
  config.download_dir = dir / "download";
  ::mkdir(config.download_dir.c_str(), 0755);
  config.download_url = "http://127.0.0.1/lab/download";
  config.upload_url = "http://127.0.0.1/lab_cgi/file_upload_handler";
  config.uldl_dir_fanout = 1024;
  config.dont_generate_upload_certificates = true;
  std::vector<mw::boinc::InputFile> files;
  for (const char* name : {"mwt_0123", "mwp_4567"}) {
    mw::test::write_text(mw::boinc::make_dir_hier_path(name, config.download_dir, config.uldl_dir_fanout),
                         std::string("bytes of ") + name);
    files.push_back(mw::boinc::InputFile::staged(name));
  }
  mw::boinc::WorkunitSettings s;
  s.min_quorum = 3;
  s.target_nresults = 4;
  s.max_error_results = 5;
  s.max_total_results = 10;
  s.max_success_results = 6;
  for (std::size_t n : {1u, 2u}) {
    const std::string app_name = n == 1 ? "mw_in.xml" : "mw_in_program.xml";
    const auto app = mw::boinc::InputTemplate::load(std::string(MW_SOURCE_DIR) + "/templates/" + app_name);
    const auto job = mw::boinc::InputTemplate::parse(mw::boinc::detail::job_input_template(n, s), "job template");
    const std::vector<mw::boinc::InputFile> these(files.begin(), files.begin() + static_cast<long>(n));
    EXPECT_EQ(mw::boinc::make_workunit_doc(job, these, config).xml_doc,
              mw::boinc::make_workunit_doc(app, these, config).xml_doc)
        << app_name;
    const auto& v = job.values();
    EXPECT_EQ(v.min_quorum, 3);
    EXPECT_EQ(v.target_nresults, 4);
    EXPECT_EQ(v.max_error_results, 5);
    EXPECT_EQ(v.max_total_results, 10);
    EXPECT_EQ(v.max_success_results, 6);
    EXPECT_FALSE(v.rsc_fpops_est || v.delay_bound) << "those travel in <job_params>";
  }
  mw::test::error_of([&] { mw::boinc::detail::job_input_template(3, s); }, mw::Errc::usage);
}

// BOINC's create_work takes the templates submit_batch names, else
// templates/APP_in and APP_out, which mw-project-setup does not install; and
// it checks every job of a batch against one input template. The double
// refuses what real BOINC would refuse.
TEST(BoincRemote, BatchesNameMwkitsTemplatesByTheJobsFileCount) {
  Fixture f;
  {
    mw::Master master(f.remote);
    // In one chunk: a task running a host program (the bundle alone) and a
    // function task (the bundle and this program).
    auto echo = master.submit_task(mw::Exec("/bin/echo", {"one file"}));
    auto square = master.submit_task(mw::fn("square"), mw::args(9));
    EXPECT_EQ(master.get_result(echo).stdout_text(), "one file\n");
    EXPECT_EQ(master.get_result(square).value<int>(), 81);
  }
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
  int with_program = 0, without = 0;
  for (const auto& body : f.server.request_bodies()) {
    if (body.find("<submit_batch>") != 0) continue;
    EXPECT_NE(body.find("<output_template_filename>mw_out.xml</output_template_filename>"), std::string::npos) << body;
    with_program += body.find("<input_template_filename>mw_in_program.xml</input_template_filename>") != std::string::npos;
    without += body.find("<input_template_filename>mw_in.xml</input_template_filename>") != std::string::npos;
  }
  EXPECT_EQ(with_program, 1);
  EXPECT_EQ(without, 1) << "one batch per input template";

  // A batch mixing the two is refused before it is sent.
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  mw::boinc::detail::RemoteJob one{"j1", {{"local_staged", "mwt_a"}}, {}, {}};
  mw::boinc::detail::RemoteJob two{"j2", {{"local_staged", "mwt_a"}, {"local_staged", "mwp_b"}}, {}, {}};
  const auto before = f.server.http_requests();
  const std::string msg = mw::test::error_of(
      [&] { rpc.submit_batch("mixed", "mw", mw::boinc::WorkunitSettings{}, {one, two}, false); }, mw::Errc::usage);
  EXPECT_NE(msg.find("job j2 has 2 input files"), std::string::npos) << msg;
  EXPECT_EQ(f.server.http_requests(), before);
}

TEST(BoincRemote, Php82TemplateQuirkIsWorkedAroundWithAWarning) {
  Fixture f;
  f.server.set_php82_quirk(true);
  {
    mw::Master master(f.remote);
    const std::vector<int> r = master.map<int>(mw::fn("square"), std::vector<int>{3, 4});
    EXPECT_EQ(r, (std::vector<int>{9, 16}));
    EXPECT_EQ(master.status().details.details["template_workaround"], "yes");
  }
  EXPECT_NE(f.all_logs().find("couldn't parse input template file"), std::string::npos) << f.all_logs();
  EXPECT_EQ(f.server.rpc_counts()["submit_batch"], 2) << "one refused, one with the workaround";
  bool sent = false;
  for (const auto& body : f.server.request_bodies())
    sent |= body.find("<workunit_template_file>no_such_file</workunit_template_file>") != std::string::npos;
  EXPECT_TRUE(sent);
}

TEST(BoincRemote, WrongAuthenticatorFailsTasksClearlyWithoutARetryStorm) {
  Fixture f;
  const std::string wrong = "0123456789abcdef0123";
  mw::test::write_text(f.scratch / "auth", wrong);
  ::chmod((f.scratch / "auth").c_str(), 0600);
  {
    mw::Master master(f.remote);
    auto t = master.submit_task(mw::fn("square"), mw::args(5));
    try {
      master.get_result(t);
      ADD_FAILURE() << "expected TaskFailed";
    } catch (const mw::TaskFailed& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("bad authenticator"), std::string::npos) << what;
      EXPECT_EQ(what.find(wrong), std::string::npos) << "the authenticator leaked: " << what;
    }
    for (const auto& kv : master.status().details.details)
      EXPECT_EQ(kv.second.find(wrong), std::string::npos) << kv.first;
  }
  EXPECT_LE(f.server.http_requests(), 3) << "the first RPC once, maybe retire: no retry storm";
  EXPECT_EQ(f.all_logs().find(wrong), std::string::npos) << f.all_logs();
}

// ---- HTTPS: certificates are verified by default; ca_file names a private CA.

struct TlsFixture : Fixture {
  explicit TlsFixture(const std::vector<std::string>& server_names = {"IP:127.0.0.1", "DNS:localhost"})
      : ca(tls_dir.path()) {
    const auto cert = ca.issue("server", server_names);
    server.enable_tls(cert.cert, cert.key);
    remote.project_url = server.url();
  }
  HttpOptions http(bool with_ca) const {
    HttpOptions h = fast_http();
    if (with_ca) h.ca_file = ca.ca_file();
    return h;
  }
  mw::test::ScratchDir tls_dir;
  mw::test::TestCertificateAuthority ca;
};

TEST(BoincRemoteTls, UnknownCaIsRefusedClearlyAndNotRetried) {
  TlsFixture f;
  ASSERT_EQ(f.server.url().rfind("https://", 0), 0u);
  RpcClient rpc(f.server.url(), kAuth, f.http(false));
  const std::string msg = mw::test::error_of([&] { rpc.create_batch("mw", "tls"); }, mw::Errc::remote);
  EXPECT_NE(msg.find("create_batch (" + f.server.url() + "submit_rpc_handler.php)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("certificate problem"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not retried"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(kAuth), std::string::npos) << msg;
  EXPECT_EQ(f.server.connections(), 1) << "a certificate that fails now fails on every retry";
  // The client gives up as soon as it sees the certificate; the double's
  // thread may still be finishing its side of the handshake.
  for (int i = 0; i < 200 && f.server.tls_handshake_failures() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.server.tls_handshake_failures(), 1);
  EXPECT_EQ(f.server.http_requests(), 0) << "nothing was sent over the unverified connection";
  // get_output.php's URL carries the authenticator: errors name it without its query.
  const std::string get = mw::test::error_of([&] { rpc.workunit_file("job_1"); }, mw::Errc::remote);
  EXPECT_NE(get.find("(" + f.server.url() + "get_output.php)"), std::string::npos) << get;
  EXPECT_EQ(get.find(kAuth), std::string::npos) << "the authenticator leaked: " << get;
  EXPECT_EQ(f.server.connections(), 2);

  // Through the Master: the task fails with the same reason, without a retry storm.
  {
    mw::Master master(f.remote);
    auto t = master.submit_task(mw::fn("square"), mw::args(4));
    try {
      master.get_result(t);
      ADD_FAILURE() << "expected TaskFailed";
    } catch (const mw::TaskFailed& e) {
      EXPECT_NE(std::string(e.what()).find("certificate problem"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(f.server.url()), std::string::npos) << e.what();
    }
  }
  EXPECT_LE(f.server.connections(), 5) << "one refused handshake per RPC the master tried";
  EXPECT_EQ(f.server.http_requests(), 0);
}

TEST(BoincRemoteTls, PrivateCaFileCarriesABatchEndToEnd) {
  TlsFixture f;
  f.remote.ca_file = f.ca.ca_file();
  std::vector<int> inputs{1, 2, 3, 4, 5, 6, 7, 8};
  {
    mw::Master master(f.remote);
    const std::vector<int> squares = master.map<int>(mw::fn("square"), inputs);
    for (std::size_t i = 0; i < inputs.size(); ++i) EXPECT_EQ(squares[i], inputs[i] * inputs[i]);
  }
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
  EXPECT_EQ(f.server.tls_handshake_failures(), 0);
  EXPECT_EQ(f.server.rpc_counts()["get_output3"], 8);
  EXPECT_GT(f.server.http_requests(), f.server.connections()) << "connections are reused";
}

TEST(BoincRemoteTls, CertificateForAnotherHostIsRefused) {
  TlsFixture f({"DNS:elsewhere.example"});
  RpcClient rpc(f.server.url(), kAuth, f.http(true));  // the CA is trusted; the name is wrong
  const std::string msg = mw::test::error_of([&] { rpc.create_batch("mw", "tls"); }, mw::Errc::remote);
  EXPECT_NE(msg.find(f.server.url()), std::string::npos) << msg;
  EXPECT_NE(msg.find("'127.0.0.1'"), std::string::npos) << "names the host the certificate does not match: " << msg;
  EXPECT_EQ(f.server.connections(), 1);
  EXPECT_EQ(f.server.http_requests(), 0);
}

TEST(BoincRemote, AuthenticatorNeverAppearsInLogsOrErrors) {
  Fixture f;
  f.server.set_php82_quirk(true);  // a warning is logged
  f.server.reply_status_next(1, 500);
  {
    mw::Master master(f.remote);
    EXPECT_EQ(master.map<int>(mw::fn("square"), std::vector<int>{1, 2}), (std::vector<int>{1, 4}));
    for (const auto& kv : master.status().details.details)
      EXPECT_EQ(kv.second.find(kAuth), std::string::npos) << kv.first;
  }
  EXPECT_FALSE(f.all_logs().empty()) << "the quirk's warning was logged";
  EXPECT_EQ(f.all_logs().find(kAuth), std::string::npos) << f.all_logs();
}

// Submitting a batch costs no query_batch: a batch is first polled
// poll_initial_seconds after it was submitted (not at once, nor every batch
// whenever one more is submitted), and its finished jobs are still picked up.
TEST(BoincRemote, BatchesAreNotPolledWhileTheyAreBeingSubmitted) {
  Fixture f;
  f.server.set_paused(true);
  f.remote.tasks_per_submit = 10;  // four batches
  f.remote.poll_initial_seconds = 1.5;
  f.remote.poll_max_seconds = 1.5;
  mw::Master master(f.remote);
  std::vector<mw::Task> tasks;
  for (int i = 0; i < 40; ++i) tasks.push_back(master.submit_task(mw::Exec("/bin/echo", {std::to_string(i)})));
  for (int i = 0; i < 500 && f.server.jobs_total() < 40; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(f.server.jobs_total(), 40u);
  auto counts = f.server.rpc_counts();
  EXPECT_EQ(counts["submit_batch"], 4);
  EXPECT_EQ(counts["query_batch"], 4)
      << "only the checks that each batch's name is new: no batch is polled within poll_initial_seconds of its submission";
  f.server.set_paused(false);
  for (auto& t : tasks) EXPECT_EQ(master.get_result(t).outcome().status, mw::ResultStatus::success);
  counts = f.server.rpc_counts();
  EXPECT_GE(counts["query_batch"], 8);
  EXPECT_EQ(counts["get_output3"], 40);
}

TEST(BoincRemote, JobsBoincGivesUpOnFailTheirTask) {
  Fixture f;
  f.server.set_paused(true);
  mw::Master master(f.remote);
  auto t = master.submit_task(mw::fn("square"), mw::args(6));
  for (int i = 0; i < 200 && f.server.jobs_total() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(f.server.jobs_total(), 1u);
  f.server.fail_job(job_of("remote test_1", t.id));
  f.server.set_paused(false);
  try {
    master.get_result(t);
    ADD_FAILURE() << "expected TaskFailed";
  } catch (const mw::TaskFailed& e) {
    EXPECT_NE(std::string(e.what()).find("BOINC gave up on job " + job_of("remote test_1", t.id)), std::string::npos) << e.what();
  }
}

TEST(BoincRemote, CancellingATaskAbortsItsJob) {
  Fixture f;
  f.server.set_paused(true);
  mw::Master master(f.remote);
  auto keep = master.submit_task(mw::fn("square"), mw::args(7));
  auto drop = master.submit_task(mw::fn("square"), mw::args(8));
  for (int i = 0; i < 200 && f.server.jobs_total() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(f.server.jobs_total(), 2u);
  master.cancel(drop);
  for (int i = 0; i < 200 && f.server.rpc_counts()["abort_jobs"] == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(f.server.rpc_counts()["abort_jobs"], 1);
  bool named = false;
  for (const auto& body : f.server.request_bodies())
    named |= body.find("<abort_jobs>") == 0 &&
             body.find("<job_name>" + job_of("remote test_1", drop.id) + "</job_name>") != std::string::npos;
  EXPECT_TRUE(named);
  f.server.set_paused(false);
  EXPECT_EQ(master.get_result(keep).value<int>(), 49);
  EXPECT_EQ(f.server.fetches_of(job_of("remote test_1", drop.id)), 0) << "the aborted job never ran";
}

TEST(BoincRemote, AuthenticatorComesFromAPrivateFileOrTheEnvironment) {
  Fixture f;
  ::chmod((f.scratch / "auth").c_str(), 0644);
  std::string msg = mw::test::error_of([&] { f.remote.make_interface(); }, mw::Errc::usage);
  EXPECT_NE(msg.find("readable by others (mode 0644)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(kAuth), std::string::npos);
  ::unsetenv("MW_TEST_AUTH_9");
  msg = mw::test::error_of([&] { mw::boinc::read_authenticator("", "MW_TEST_AUTH_9"); }, mw::Errc::usage);
  EXPECT_NE(msg.find("$MW_TEST_AUTH_9"), std::string::npos) << msg;
  ::setenv("MW_TEST_AUTH_9", (" " + kAuth + "\n").c_str(), 1);
  EXPECT_EQ(mw::boinc::read_authenticator("", "MW_TEST_AUTH_9"), kAuth);
  ::chmod((f.scratch / "auth").c_str(), 0600);
  EXPECT_EQ(mw::boinc::read_authenticator(f.scratch / "auth", "MW_TEST_AUTH_9"), kAuth)
      << "the file wins over the environment";
}

// ---- the ledger

TEST(BoincRemoteLedger, FindsLiveJobsByTaskAndFingerprintAcrossReopening) {
  using mw::boinc::detail::RemoteLedger;
  using State = RemoteLedger::JobState;
  mw::test::ScratchDir dir;
  const std::string state = dir / "state/deeper";
  {
    RemoteLedger ledger(state);
    ledger.record_batch("b", {{"job_1", 1, "fp1"}, {"job_2", 2, "fp2"}});
    auto j1 = ledger.find(1, "fp1");
    ASSERT_TRUE(j1);
    EXPECT_EQ(j1->name, "job_1");
    EXPECT_EQ(j1->batch_name, "b");
    EXPECT_EQ(j1->batch_id, 0) << "BOINC's id is not known before submit_batch answers";
    EXPECT_EQ(j1->state, State::pending);
    EXPECT_FALSE(ledger.find(1, "fp2")) << "another task under the same id is not this job's";
    EXPECT_FALSE(ledger.find(3, "fp1"));
    ledger.batch_submitted("b", 7);
    ledger.fetched("job_2", std::string("out\0put", 7));
  }
  struct stat st {};
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  RemoteLedger ledger(state);
  EXPECT_EQ(ledger.find(1, "fp1")->state, State::submitted);
  EXPECT_EQ(ledger.find(1, "fp1")->batch_id, 7);
  auto j2 = ledger.find(2, "fp2");
  ASSERT_TRUE(j2);
  EXPECT_EQ(j2->state, State::fetched);
  EXPECT_EQ(j2->output, std::string("out\0put", 7));
  EXPECT_TRUE(ledger.idle_batches().empty());
  // A new job for task 1 supersedes the old one.
  ledger.record_batch("c", {{"job_3", 1, "fp1"}});
  EXPECT_EQ(ledger.find(1, "fp1")->name, "job_3");
  ledger.job_state("job_2", State::done);
  EXPECT_FALSE(ledger.find(2, "fp2"));
  EXPECT_EQ(ledger.idle_batches(), (std::vector<std::int64_t>{7}));
  // A refused batch's jobs never existed, nor did the batch: nothing to retire.
  ledger.batch_refused("c");
  EXPECT_FALSE(ledger.find(1, "fp1"));
  // A pending batch the server turns out to have (found by name).
  ledger.record_batch("d", {{"job_4", 4, "fp4"}});
  ledger.batch_found("d", 9);
  EXPECT_EQ(ledger.find(4, "fp4")->batch_id, 9);
  EXPECT_EQ(ledger.find(4, "fp4")->state, State::pending) << "found is not yet taken up";
  EXPECT_TRUE(ledger.has_live_jobs(9));
  ledger.batch_retired(9);
  EXPECT_FALSE(ledger.find(4, "fp4"));
  ledger.batch_retired(7);
  EXPECT_TRUE(ledger.idle_batches().empty());
  EXPECT_EQ(ledger.batch_count(), 3u);
}

// A ledger written before batches were made by submit_batch (format 1:
// batches keyed by BOINC's id) is taken over with its ids.
TEST(BoincRemoteLedger, FormatOneLedgerKeepsItsBatchIds) {
  using mw::boinc::detail::RemoteLedger;
  mw::test::ScratchDir dir;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "boinc_remote.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE batches (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                           " retired INTEGER NOT NULL DEFAULT 0);"
                           "CREATE TABLE jobs (name TEXT PRIMARY KEY, task_id INTEGER NOT NULL,"
                           " fingerprint BLOB NOT NULL, batch_id INTEGER NOT NULL, state INTEGER NOT NULL, output BLOB);"
                           "INSERT INTO batches VALUES (41, 'old_1', 0);"
                           "INSERT INTO jobs VALUES ('old_41_5', 5, X'667035', 41, 0, NULL);"
                           "PRAGMA user_version = 1;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  RemoteLedger ledger(dir.path());
  auto job = ledger.find(5, "fp5");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->batch_id, 41);
  EXPECT_EQ(job->batch_name, "old_1");
  EXPECT_TRUE(ledger.has_live_jobs(41));
  ledger.record_batch("new_2", {{"new_2_6", 6, "fp6"}});
  ledger.batch_submitted("new_2", 42);
  EXPECT_EQ(ledger.find(6, "fp6")->batch_id, 42);
  EXPECT_EQ(ledger.batch_count(), 2u);
}

// ---- resuming after the master is killed (tests/programs/remote_resume_master.cpp)

// Starts the resume master with stdout and stderr in DIR/LOG.
pid_t start_resume_master(const std::string& dir, const std::string& url, int tasks, const std::string& mode,
                          const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open((dir + "/" + log).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    execl(MW_REMOTE_RESUME_MASTER, MW_REMOTE_RESUME_MASTER, dir.c_str(), url.c_str(),
          std::to_string(tasks).c_str(), mode.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits up to `seconds` for `pid` to end; its wait status, or -1 (then it is killed).
int wait_for_exit(pid_t pid, double seconds) {
  for (int i = 0; i < seconds * 50; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

template <typename Pred>
bool eventually(Pred done, double seconds = 60) {
  for (int i = 0; i < seconds * 50; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

TEST(BoincRemoteResume, KilledMasterTakesUpItsJobsAndFetchesEachOutputOnce) {
  Fixture f;
  const std::string dir = f.scratch.path();
  const int tasks = 12;
  f.server.set_paused(true);
  // What the three runs printed, for failure messages.
  auto logs = [&] {
    std::string all;
    for (const char* run : {"run1.log", "run2.log", "run3.log"})
      if (mw::detail::path_exists(f.scratch / run)) all += std::string("--- ") + run + "\n" + mw::test::read_text(f.scratch / run);
    return all;
  };

  // Run 1: killed while waiting for the reply of its second submit_batch,
  // which the server carried out (the ledger holds those jobs as pending).
  f.server.stall_next("submit_batch", 1);
  pid_t pid = start_resume_master(dir, f.server.url(), tasks, "run", "run1.log");
  ASSERT_TRUE(eventually([&] { return f.server.stalled() == 1; })) << logs();
  kill(pid, SIGKILL);
  int status = wait_for_exit(pid, 30);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status << logs();
  f.server.release_stalled();
  const std::size_t jobs_in_run1 = f.server.submitted_jobs().size();
  ASSERT_GE(jobs_in_run1, 2u) << logs();
  ASSERT_LT(jobs_in_run1, static_cast<std::size_t>(tasks)) << logs();

  // Run 2: takes up both batches, submits the rest, and dies inside the
  // master's task_finished for its third result: that output is downloaded
  // but not journaled.
  pid = start_resume_master(dir, f.server.url(), tasks, "die-at=3", "run2.log");
  ASSERT_TRUE(eventually([&] { return f.server.submitted_jobs().size() >= static_cast<std::size_t>(tasks); }))
      << logs();
  f.server.run_jobs(5);
  status = wait_for_exit(pid, 60);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << status << "\n" << logs();
  EXPECT_EQ(f.server.rpc_counts()["get_output3"], 3) << logs();

  // Run 3: finishes. (Forked while the double runs no job: a job's program
  // being written while the test forks could not be executed, ETXTBSY.)
  ASSERT_TRUE(eventually([&] { return f.server.jobs_idle(); }));
  pid = start_resume_master(dir, f.server.url(), tasks, "run", "run3.log");
  f.server.set_paused(false);
  status = wait_for_exit(pid, 120);
  const std::string out = mw::test::read_text(f.scratch / "run3.log");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << logs();
  EXPECT_NE(out.find("from_journal 2\n"), std::string::npos) << logs();
  EXPECT_NE(out.find("outputs_from_ledger 1\n"), std::string::npos) << logs();
  EXPECT_NE(out.find("taken_up " + std::to_string(tasks - 3) + "\n"), std::string::npos) << logs();

  // Every task went to BOINC as exactly one job ("resume_<batch>_<task id>"),
  // and every job's output was downloaded exactly once.
  const std::vector<std::string> jobs = f.server.submitted_jobs();
  std::map<int, int> jobs_of_task;
  for (const auto& job : jobs) {
    ++jobs_of_task[std::stoi(job.substr(job.rfind('_') + 1))];
    EXPECT_EQ(f.server.submissions_of(job), 1) << job;
    EXPECT_EQ(f.server.fetches_of(job), 1) << job << "\n" << logs();
  }
  EXPECT_EQ(jobs.size(), static_cast<std::size_t>(tasks));
  for (int id = 1; id <= tasks; ++id) EXPECT_EQ(jobs_of_task[id], 1) << "task " << id;
  // Each run numbers its batches on from the ledger: no name twice.
  const std::vector<std::string> names = f.server.batch_names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size()) << ::testing::PrintToString(names);
  EXPECT_EQ(f.server.rpc_counts()["get_output3"], tasks);

  // Every result was delivered once, and right.
  std::map<long, int> delivered;
  std::istringstream log(mw::test::read_text(f.scratch / "delivered.log"));
  for (long id, value; log >> id >> value;) {
    ++delivered[id];
    EXPECT_EQ(value, id * id * id) << "task " << id;
  }
  EXPECT_EQ(delivered.size(), static_cast<std::size_t>(tasks));
  for (const auto& [id, n] : delivered) EXPECT_EQ(n, 1) << "task " << id;
  // The last run retired every batch, its predecessors' included.
  for (std::int64_t batch = 1; batch <= static_cast<std::int64_t>(names.size()); ++batch)
    EXPECT_EQ(f.server.batch_state(batch), 4) << "batch " << batch;
  // Each batch was made by the submit_batch that made its jobs, and run 2
  // found run 1's unanswered one by its name (its id was never seen).
  EXPECT_EQ(f.server.rpc_counts()["create_batch"], 0);
  EXPECT_EQ(names.size(), static_cast<std::size_t>(f.server.rpc_counts()["submit_batch"]));
  bool found_by_name = false;
  for (const auto& body : f.server.request_bodies())
    found_by_name |= body.find("<query_batch>") == 0 && body.find("<batch_name>" + names[1] + "</batch_name>") != std::string::npos;
  EXPECT_TRUE(found_by_name) << logs();
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
}

// ---- mw-work-generator --remote

TEST(BoincRemoteCli, SubmitStatusFetchCancelOverTheRpcs) {
  Fixture f;
  std::vector<std::string> bundles;
  for (int i = 0; i < 3; ++i) {
    mw::TaskBuilder b("cli_" + std::to_string(i));
    b.host_program("/bin/echo").arg("hello " + std::to_string(i));
    bundles.push_back(f.scratch / ("t" + std::to_string(i) + ".zip"));
    b.write_bundle(bundles.back(), f.key);
  }
  bundles.push_back(bundles[0]);  // the same bytes twice: staged once
  std::vector<std::string> argv{MW_WORK_GENERATOR, "submit", "--remote", f.server.url(), "--auth-file",
                                f.scratch / "auth", "--batch", "cli run", "--min-quorum", "1"};
  argv.insert(argv.end(), bundles.begin(), bundles.end());
  auto r = mw::test::run_command(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
  EXPECT_EQ(f.server.jobs_total(), 4u);
  EXPECT_EQ(f.server.rpc_counts()["upload_files"], 1);
  EXPECT_EQ(f.server.stored_files(), 3u);
  for (int i = 0; i < 300 && f.server.batch_state(1) != 2; ++i) {
    mw::test::run_command({MW_WORK_GENERATOR, "status", "--remote", f.server.url(), "--auth-file",
                           f.scratch / "auth", "--batch", "1"});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r = mw::test::run_command({MW_WORK_GENERATOR, "status", "--remote", f.server.url(), "--auth-file",
                             f.scratch / "auth", "--batch", "1"});
  EXPECT_NE(r.out.find("done 4"), std::string::npos) << r.out << r.err;
  const std::vector<std::string> fetch{MW_WORK_GENERATOR, "fetch", "--remote", f.server.url(), "--auth-file",
                                       f.scratch / "auth", "--batch", "1", "--out", f.scratch / "out", "--keep"};
  r = mw::test::run_command(fetch);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fetched 4 result(s)"), std::string::npos) << r.out;
  r = mw::test::run_command(fetch);
  EXPECT_NE(r.out.find("fetched 0 result(s)"), std::string::npos) << "every output is fetched once: " << r.out;
  EXPECT_EQ(f.server.fetches_of(job_of("cli run", 0)), 1);
  const mw::ResultManifest m = mw::ResultBundle::open(f.scratch / ("out/" + job_of("cli run", 2) + ".result")).manifest();
  EXPECT_EQ(m.task_name, "cli_2");
  EXPECT_EQ(m.status, mw::ResultStatus::success) << m.reason;
  r = mw::test::run_command({MW_WORK_GENERATOR, "cancel", "--remote", f.server.url(), "--auth-file",
                             f.scratch / "auth", "--batch", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(f.server.batch_state(1), 3);
  // A readable authenticator file is refused, without showing its content.
  ::chmod((f.scratch / "auth").c_str(), 0644);
  r = mw::test::run_command({MW_WORK_GENERATOR, "status", "--remote", f.server.url(), "--auth-file",
                             f.scratch / "auth", "--batch", "1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("readable by others"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kAuth), std::string::npos) << r.err;
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
}

// ---- issue 18: a real BOINC 8 server (boinc-reference §11)

std::vector<std::string> cli(const Fixture& f, std::vector<std::string> args) {
  std::vector<std::string> argv{MW_WORK_GENERATOR};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--remote", f.server.url(), "--auth-file", f.scratch / "auth"});
  return argv;
}

std::vector<std::string> echo_bundles(Fixture& f, int n, const std::string& tag) {
  std::vector<std::string> bundles;
  for (int i = 0; i < n; ++i) {
    mw::TaskBuilder b(tag + "_" + std::to_string(i));
    b.host_program("/bin/echo").arg(tag + " " + std::to_string(i));
    bundles.push_back(f.scratch / (tag + std::to_string(i) + ".zip"));
    b.write_bundle(bundles.back(), f.key);
  }
  return bundles;
}

// Outputs come from results/<batch>/ (get_output3.php), which outlives the
// upload/ copies file_deleter removes right after assimilation; the batch is
// addressed by its name throughout, and retired after the last fetch.
TEST(BoincRemoteCli, FetchByNameLongAfterFileDeleterGetsEveryOutputThenRetires) {
  Fixture f;
  auto args = cli(f, {"submit", "--batch", "late fetch"});
  const auto bundles = echo_bundles(f, 10, "late");
  args.insert(args.end(), bundles.begin(), bundles.end());
  auto r = mw::test::run_command(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::int64_t id = std::stoll(r.out);
  ASSERT_TRUE(eventually([&] { return f.server.results_files(id) == 10; }));
  // Every upload/ copy is gone: get_output.php could serve none of them.
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  const std::string gone = mw::test::error_of([&] { rpc.workunit_file(job_of("late fetch", 0)); },
                                              mw::Errc::remote);
  EXPECT_NE(gone.find("no such file"), std::string::npos) << gone;

  r = mw::test::run_command(cli(f, {"status", "--batch", "late fetch"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("'late fetch': complete"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(unsent 0, in progress 0, done 10, errors 0)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("state 2"), std::string::npos) << r.out;

  r = mw::test::run_command(cli(f, {"fetch", "--batch", "late fetch", "--out", f.scratch / "out"}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("fetched 10 result(s), 0 error(s), 0 failed to fetch"), std::string::npos) << r.out;
  for (int i = 0; i < 10; ++i) {
    const std::string job = job_of("late fetch", i);
    const auto m = mw::ResultBundle::open(f.scratch / ("out/" + job + ".result")).manifest();
    EXPECT_EQ(m.task_name, "late_" + std::to_string(i)) << job;
  }
  EXPECT_EQ(f.server.batch_state(id), 4) << "retired after the last fetch";
  EXPECT_EQ(f.server.results_files(id), 0u) << "retire_batch deletes results/<batch>";
  EXPECT_EQ(f.server.rpc_counts()["get_output"], 1) << "only the probe above";
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
}

TEST(BoincRemoteCli, FetchGoesOnPastAFailureAndEndsEveryJobAsResultOrError) {
  Fixture f;
  f.server.set_paused(true);
  auto args = cli(f, {"submit", "--batch", "mixed"});
  const auto bundles = echo_bundles(f, 4, "mixed");
  args.insert(args.end(), bundles.begin(), bundles.end());
  auto r = mw::test::run_command(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  f.server.fail_job("mixed_1");  // BOINC gives up on it
  f.server.run_jobs(2);
  ASSERT_TRUE(eventually([&] { return f.server.jobs_idle(); }));
  f.server.set_batch_collect(false);  // job 2's output is kept nowhere (file_deleter still runs)
  f.server.run_jobs(1);
  ASSERT_TRUE(eventually([&] { return f.server.jobs_idle(); }));
  f.server.set_batch_collect(true);
  f.server.set_paused(false);
  ASSERT_TRUE(eventually([&] { return f.server.results_files(1) == 2; }));  // jobs 0 and 3
  r = mw::test::run_command(cli(f, {"fetch", "--batch", "1", "--out", f.scratch / "out"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("fetched 2 result(s), 1 error(s), 1 failed to fetch, 0 not finished"), std::string::npos)
      << r.out;
  EXPECT_TRUE(mw::detail::path_exists(f.scratch / "out/mixed_0.result"));
  EXPECT_TRUE(mw::detail::path_exists(f.scratch / "out/mixed_3.result")) << "jobs after the failure are fetched";
  const std::string gave_up = mw::test::read_text(f.scratch / "out/mixed_1.error");
  EXPECT_NE(gave_up.find("BOINC gave up on job mixed_1: error_mask 2 (too many errors), exit status 1"),
            std::string::npos) << gave_up;
  EXPECT_NE(gave_up.find("task exited with status 1"), std::string::npos) << "the server's reason: " << gave_up;
  const std::string why = mw::test::read_text(f.scratch / "out/mixed_2.error");
  EXPECT_NE(why.find("No such file or directory"), std::string::npos) << "the server's reason: " << why;
  EXPECT_NE(why.find("no such file"), std::string::npos) << "and get_output.php's: " << why;
  EXPECT_EQ(why.find(kAuth), std::string::npos) << why;
  EXPECT_EQ(f.server.batch_state(1), 2) << "not retired while an output could still be fetched";
  // The summary comes last; a second fetch tries the failed one again.
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
  r = mw::test::run_command(cli(f, {"fetch", "--batch", "mixed", "--out", f.scratch / "out"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("fetched 0 result(s), 0 error(s), 1 failed to fetch"), std::string::npos) << r.out;
}

// A submission BOINC refuses before it makes the batch leaves nothing: no
// batch row, no file tied to a batch, and its staged files go once their
// lease is over. One create_work refuses after BOINC made the batch row is
// found by name and retired: no live batch, nothing that keeps its files.
TEST(BoincRemoteCli, FailedSubmissionLeavesNothingOnTheServer) {
  Fixture f;
  // Another batch shares a file with the ones that fail: that file stays.
  auto args = cli(f, {"submit", "--batch", "kept"});
  const auto shared = echo_bundles(f, 1, "shared");
  args.insert(args.end(), shared.begin(), shared.end());
  ASSERT_EQ(mw::test::run_command(args).exit_code, 0);
  ASSERT_EQ(f.server.file_associations(), 1u);
  const auto own = echo_bundles(f, 2, "own");

  // The project's templates/mw_in takes two files: BOINC checks that first.
  f.server.set_app_template_files(2);
  args = cli(f, {"submit", "--batch", "refused"});
  args.insert(args.end(), own.begin(), own.end());
  args.insert(args.end(), shared.begin(), shared.end());
  auto r = mw::test::run_command(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("wrong # of input files for job 0: need 2, got 1"), std::string::npos) << r.err;
  EXPECT_EQ(f.server.batch_names(), (std::vector<std::string>{"kept"})) << "no batch row";
  EXPECT_EQ(f.server.file_associations(), 1u) << "no file tied to a batch that is not there";
  EXPECT_EQ(f.server.stored_files(), 3u);
  EXPECT_EQ(f.server.collect_job_files(), 0u) << "within the staging lease";
  const std::int64_t after_lease = std::time(nullptr) + mw::boinc::detail::kStagingLeaseSeconds + 60;
  EXPECT_EQ(f.server.collect_job_files(after_lease), 2u) << "the refused submission's own files";
  EXPECT_EQ(f.server.stored_files(), 1u);
  f.server.set_app_template_files(0);

  // create_work refuses after the insert: the row stays, retired.
  f.server.fail_create_work_next("disk full");
  args = cli(f, {"submit", "--batch", "doomed"});
  args.insert(args.end(), own.begin(), own.end());
  args.insert(args.end(), shared.begin(), shared.end());
  r = mw::test::run_command(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("create_work failed: disk full"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the server made batch 2 ('doomed') before it refused the jobs; it is retired"),
            std::string::npos) << r.err;
  EXPECT_EQ(f.server.live_batches(), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(f.server.batch_state(2), 4);
  EXPECT_EQ(f.server.jobs_total(), 1u) << "only batch 'kept''s";
  EXPECT_EQ(f.server.collect_job_files(after_lease), 2u) << "nothing keeps the failed batch's own files";
  EXPECT_EQ(f.server.stored_files(), 1u);
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();

  // A batch name the server has already is refused before anything is sent.
  const auto uploads = f.server.rpc_counts()["query_files"];
  args = cli(f, {"submit", "--batch", "kept"});
  args.insert(args.end(), own.begin(), own.end());
  r = mw::test::run_command(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the server has a batch named 'kept' already (batch 1"), std::string::npos) << r.err;
  EXPECT_EQ(f.server.rpc_counts()["query_files"], uploads);
  EXPECT_EQ(f.server.batch_names().size(), 2u);
}

TEST(BoincRemoteCli, ServersThatCannotTakeRemoteJobsAreNamed) {
  Fixture f;
  const auto bundles = echo_bundles(f, 1, "x");
  auto submit = [&](const std::string& url) {
    std::vector<std::string> argv{MW_WORK_GENERATOR, "submit", "--remote", url, "--auth-file", f.scratch / "auth",
                                  "--batch", "b", bundles[0]};
    return mw::test::run_command(argv);
  };
  // make_project's database has no batch_file_assoc: job_file.php dies with
  // PHP's error page when files are tied to a batch. Staging ties nothing
  // (the batch does not exist yet), so the jobs are made; tying their files
  // afterwards fails, which is told.
  f.server.set_no_batch_file_assoc(true);
  auto r = submit(f.server.url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("could not be tied to it"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no batch_file_assoc table"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("schema_condor.sql"), std::string::npos) << r.err;
  EXPECT_EQ(f.server.jobs_total(), 1u);
  mw::test::run_command(cli(f, {"retire", "--batch", "b"}));
  f.server.set_no_batch_file_assoc(false);
  // A user without a user_submit row.
  f.server.set_no_submit_rights(true);
  r = submit(f.server.url());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("may not submit jobs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no submit access"), std::string::npos) << r.err;
  f.server.set_no_submit_rights(false);
  // A URL that is not the project's.
  r = submit(f.server.url() + "user/");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no BOINC remote job submission at"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HTTP 404"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kAuth), std::string::npos) << r.err;
  EXPECT_TRUE(f.server.live_batches().empty());
}

TEST(BoincRemoteRpc, BatchesByNameOrId) {
  Fixture f;
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  const std::int64_t id = rpc.create_batch("mw", "by name");
  EXPECT_EQ(rpc.query_batch(mw::boinc::detail::BatchRef::parse("by name")).id, id);
  EXPECT_EQ(rpc.query_batch(mw::boinc::detail::BatchRef::parse(std::to_string(id))).name, "by name");
  rpc.abort_batch(mw::boinc::detail::BatchRef::parse("by name"));
  EXPECT_EQ(f.server.batch_state(id), 3);
  rpc.retire_batch(mw::boinc::detail::BatchRef::parse("by name"));
  EXPECT_EQ(f.server.batch_state(id), 4);
  bool by_name = false;
  for (const auto& body : f.server.request_bodies())
    by_name |= body.find("<retire_batch>") == 0 && body.find("<batch_name>by name</batch_name>") != std::string::npos;
  EXPECT_TRUE(by_name);
  const std::string msg = mw::test::error_of([&] { rpc.query_batch(mw::boinc::detail::BatchRef::parse("nope")); },
                                             mw::Errc::remote);
  EXPECT_NE(msg.find("no such batch"), std::string::npos) << msg;
  EXPECT_STREQ(mw::boinc::detail::batch_state_name(2), "complete");
}

// get_output3.php knows the user by the login cookie: the authenticator is
// in no URL (the fake records a violation if it is), and a wrong one is refused.
TEST(BoincRemoteRpc, BatchCollectOutputsTakeTheAuthenticatorInACookie) {
  Fixture f;
  f.server.keep_upload_files(true);
  mw::Master master(f.remote);
  auto t = master.submit_task(mw::fn("square"), mw::args(9));
  EXPECT_EQ(master.get_result(t).value<int>(), 81);
  EXPECT_EQ(f.server.rpc_counts()["get_output3"], 1);
  EXPECT_EQ(f.server.rpc_counts()["get_output"], 0) << "batch-collect first, though upload/ still has it";
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
  RpcClient wrong(f.server.url(), "deadbeefdeadbeef", fast_http());
  mw::boinc::detail::RemoteJobStatus job;
  job.name = job_of("remote test_1", t.id);
  job.canonical_instance_id = 7001;
  const std::string msg = mw::test::error_of([&] { wrong.batch_collect_file(7001, job.name); }, mw::Errc::remote);
  EXPECT_NE(msg.find("requires that you log in"), std::string::npos) << msg;
}

TEST(BoincRemoteRpc, WithoutBatchCollectOutputsTheUploadTreeIsTheFallback) {
  Fixture f;
  f.server.set_batch_collect(false);
  f.server.keep_upload_files(true);
  mw::Master master(f.remote);
  auto t = master.submit_task(mw::fn("square"), mw::args(5));
  EXPECT_EQ(master.get_result(t).value<int>(), 25);
  EXPECT_EQ(f.server.rpc_counts()["get_output3"], 1);
  EXPECT_EQ(f.server.rpc_counts()["get_output"], 1);
}

// Remote retires each batch once its last job is handed over (not only at
// shutdown), and a refused chunk leaves no live batch behind.
TEST(BoincRemote, BatchesAreRetiredAfterTheirLastFetchAndRefusedOnesAtOnce) {
  Fixture f;
  mw::Master master(f.remote);
  auto first = master.submit_task(mw::fn("square"), mw::args(3));
  EXPECT_EQ(master.get_result(first).value<int>(), 9);
  ASSERT_TRUE(eventually([&] { return f.server.batch_state(1) == 4; }, 10)) << "retired while the master runs";
  EXPECT_EQ(f.server.results_files(1), 0u);
  f.server.fail_create_work_next("disk full");  // after BOINC made batch 2
  auto refused = master.submit_task(mw::fn("square"), mw::args(4));
  try {
    master.get_result(refused);
    ADD_FAILURE() << "expected TaskFailed";
  } catch (const mw::TaskFailed& e) {
    EXPECT_NE(std::string(e.what()).find("disk full"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.server.batch_state(2), 4);
  EXPECT_TRUE(f.server.live_batches().empty());
}

// A chunk BOINC refuses before it makes the batch (here: the project's
// templates/mw_in takes one file, and a function task has two) leaves no
// batch row and ties no file; its files are the job_file_deleter's once the
// staging lease is over. The next chunk gets the next name.
TEST(BoincRemote, RefusedChunkLeavesNoBatchRow) {
  Fixture f;
  f.server.set_app_template_files(1);
  {
    mw::Master master(f.remote);
    const std::string why = failure_of(master, master.submit_task(mw::fn("square"), mw::args(4)));
    EXPECT_NE(why.find("wrong # of input files for job 0: need 1, got 2"), std::string::npos) << why;
    EXPECT_TRUE(f.server.batch_names().empty()) << ::testing::PrintToString(f.server.batch_names());
    EXPECT_EQ(f.server.file_associations(), 0u);
    EXPECT_EQ(f.server.stored_files(), 2u) << "the bundle and the program, staged";
    EXPECT_EQ(f.server.collect_job_files(), 0u) << "within the staging lease";
    EXPECT_EQ(f.server.collect_job_files(std::time(nullptr) + mw::boinc::detail::kStagingLeaseSeconds + 60), 2u);
    // A host program's task has one file: it goes through, as the next chunk.
    auto echo = master.submit_task(mw::Exec("/bin/echo", {"one"}));
    EXPECT_EQ(master.get_result(echo).stdout_text(), "one\n");
  }
  EXPECT_EQ(f.server.batch_names(), (std::vector<std::string>{"remote test_2"}));
  EXPECT_EQ(f.server.rpc_counts()["create_batch"], 0);
  EXPECT_TRUE(f.server.violations().empty()) << f.server.violations().front();
}

// BOINC finds a batch by name as the first row with it: a name an earlier
// run (without the ledger) or another user left on the server is skipped.
TEST(BoincRemote, BatchNamesTakenOnTheServerAreSkipped) {
  Fixture f;
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  rpc.create_batch("mw", "remote test_1");
  f.server.add_foreign_batch("remote test_2");
  {
    mw::Master master(f.remote);
    auto t = master.submit_task(mw::fn("square"), mw::args(5));
    EXPECT_EQ(master.get_result(t).value<int>(), 25);
  }
  EXPECT_EQ(f.server.batch_names(), (std::vector<std::string>{"remote test_1", "remote test_2", "remote test_3"}));
  EXPECT_EQ(f.server.submitted_jobs().front().rfind(mw::boinc::detail::job_name_stem("remote test_3"), 0), 0u)
      << f.server.submitted_jobs().front();
  EXPECT_EQ(f.server.batch_state(1), 0) << "the other batches are left alone";
  EXPECT_EQ(f.server.batch_state(2), 0);
}

TEST(BoincRemoteRpc, ReadinessProbeNamesWhatIsMissing) {
  Fixture f;
  RpcClient rpc(f.server.url(), kAuth, fast_http());
  EXPECT_EQ(mw::boinc::detail::remote_readiness_problems(rpc), "");
  f.server.set_no_submit_rights(true);
  const std::string problems = mw::boinc::detail::remote_readiness_problems(rpc);
  EXPECT_NE(problems.find("may not submit jobs"), std::string::npos) << problems;
  EXPECT_TRUE(f.server.live_batches().empty()) << "the probe changes nothing";
  EXPECT_EQ(f.server.stored_files(), 0u);
}

}  // namespace

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
