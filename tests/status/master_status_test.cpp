// A master's status server (MasterOptions::status_listen, docs/status.md)
// against running masters: /status.json and /metrics follow the tasks, the
// metrics pass Prometheus' own linter, and the page, rendered by headless
// Chromium, shows the numbers of /status.json and task strings as text.
// This binary is its own worker program (see main at the bottom).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "interfaces/host_tally.h"
#include "mw/interface.h"
#include "mw/master.h"
#include "mw/multicore.h"
#include "mw/simulator.h"
#include "mw/worker.h"
#include "support/test_support.h"

// ---- functions the workers run ---------------------------------------------
// Runs until `path` exists, so a test sees tasks held in the running state.
int wait_for_file(std::string path) {
  struct stat st {};
  while (stat(path.c_str(), &st) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return 1;
}
MW_TASK(wait_for_file);

int fail_with(std::string message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  throw std::runtime_error(message);
}
MW_TASK(fail_with);

namespace mw {
namespace {

using nlohmann::json;
using test::ScratchDir;

const char* const kScript = "<script>document.title='owned'</script>";

httplib::Client client_for(const std::string& address) {
  const auto colon = address.rfind(':');
  httplib::Client c(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  c.set_read_timeout(10, 0);
  return c;
}

std::string get(const std::string& address, const std::string& path, int expected_status = 200) {
  auto client = client_for(address);
  auto res = client.Get(path.c_str());
  if (!res) {
    ADD_FAILURE() << "GET " << path << " on " << address << ": no response";
    return "";
  }
  EXPECT_EQ(res->status, expected_status) << path << ": " << res->body;
  return res->body;
}

json status_json(const std::string& address, const std::string& token = "") {
  auto client = client_for(address);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto res = client.Get("/status.json", headers);
  if (!res || res->status != 200) throw std::runtime_error("GET /status.json failed");
  return json::parse(res->body);
}

// Waits (up to 30 s) until the task counts stop changing with at least
// `running` tasks running: the tasks are held, so the state is then stable.
json wait_until_settled(const std::string& address, std::uint64_t running, const std::string& token = "") {
  json last = status_json(address, token);
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // well within the request rate
    json now = status_json(address, token);
    if (now["tasks"] == last["tasks"] && now["tasks"]["running"].get<std::uint64_t>() >= running) return now;
    last = now;
  }
  ADD_FAILURE() << "the status never settled: " << last.dump();
  return last;
}

// The value of one sample line "name{labels} value" of a /metrics text.
double metric(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no sample " << series << " in:\n" << text;
    return -1;
  }
  return std::stod(text.substr(at + series.size() + 2));
}

void expect_promtool_accepts(const std::string& metrics_text) {
  const std::string promtool = "/usr/bin/promtool";
  if (access(promtool.c_str(), X_OK) != 0) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  ScratchDir dir;
  test::write_text(dir / "metrics.txt", metrics_text);
  auto r = test::run_command({promtool, "check", "metrics"}, dir / "metrics.txt");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\n--- metrics:\n" << metrics_text;
  // promtool prints lint problems and still exits 0 for some of them.
  EXPECT_EQ(r.out + r.err, "") << "\n--- metrics:\n" << metrics_text;
}

TaskOptions named(const std::string& name) {
  TaskOptions o;
  o.name = name;
  return o;
}

MasterOptions with_status(const std::string& token = "") {
  MasterOptions o;
  o.status_listen = "127.0.0.1:0";
  o.status_token = token;
  return o;
}

TEST(MasterStatus, OffByDefault) {
  Master master(Multicore{1});
  EXPECT_EQ(master.status_address(), "");
}

TEST(MasterStatus, ANonLoopbackAddressWithoutATokenIsRefused) {
  MasterOptions o;
  o.status_listen = "0.0.0.0:0";
  const std::string message = test::error_of([&] { Master master(Multicore{1}, o); }, Errc::usage);
  EXPECT_NE(message.find("0.0.0.0:0"), std::string::npos) << message;
  EXPECT_NE(message.find("token"), std::string::npos) << message;
}

TEST(MasterStatus, JsonAndMetricsFollowAMulticoreMaster) {
  ScratchDir dir;
  const std::string release = dir / "release";
  Master master(Multicore{2}, with_status());
  const std::string address = master.status_address();
  ASSERT_FALSE(address.empty());
  std::vector<TypedTask<int>> held;
  for (int i = 0; i < 5; ++i) held.push_back(master.submit(mw_task_wait_for_file, release));

  json s = wait_until_settled(address, 2);
  EXPECT_EQ(s["schema"], "mwkit.master.status/1");
  EXPECT_EQ(s["interface"], "multicore");
  EXPECT_EQ(s["tasks"]["submitted"], 5);
  // The multicore interface queues a few tasks per worker: running counts those too.
  const auto running = s["tasks"]["running"].get<std::uint64_t>();
  EXPECT_EQ(s["tasks"]["waiting"], 5 - running);
  EXPECT_EQ(s["tasks"]["succeeded"], 0);
  EXPECT_TRUE(s["eta_seconds"].is_null());  // nothing has ended: no rate to go by
  ASSERT_EQ(s["workers"].size(), 2u);
  for (const auto& w : s["workers"]) {
    EXPECT_EQ(w["state"], "busy") << w.dump();
    EXPECT_TRUE(w["task"].is_number()) << w.dump();
  }
  std::string text = get(address, "/metrics");
  EXPECT_EQ(metric(text, "mwkit_master_queue_depth"), 5 - running);
  EXPECT_EQ(metric(text, "mwkit_master_tasks{state=\"running\"}"), running);
  EXPECT_EQ(metric(text, "mwkit_master_workers{state=\"busy\"}"), 2);
  expect_promtool_accepts(text);

  test::write_text(release, "");
  for (auto& t : held) EXPECT_EQ(master.get_result(t), 1);
  auto failing = master.submit(named(std::string("bad ") + kScript), mw_task_fail_with,
                               std::string("stderr says ") + kScript);
  EXPECT_THROW(master.get_result(failing), TaskFailed);

  s = status_json(address);
  EXPECT_EQ(s["tasks"]["submitted"], 6);
  EXPECT_EQ(s["tasks"]["delivered"], 6);
  EXPECT_EQ(s["tasks"]["succeeded"], 5);
  EXPECT_EQ(s["tasks"]["failed"], 1);
  EXPECT_EQ(s["tasks"]["waiting"], 0);
  EXPECT_EQ(s["tasks"]["running"], 0);
  EXPECT_EQ(s["eta_seconds"], 0.0);
  EXPECT_EQ(s["task_duration_seconds"]["count"], 6);
  std::uint64_t done_by_workers = 0;
  for (const auto& w : s["workers"]) done_by_workers += w["tasks_done"].get<std::uint64_t>();
  EXPECT_EQ(done_by_workers, 6u);
  ASSERT_EQ(s["failures"].size(), 1u);
  const json& f = s["failures"][0];
  EXPECT_EQ(f["task"], failing.id);
  EXPECT_EQ(f["name"], std::string("bad ") + kScript);
  EXPECT_NE(f["stderr_tail"].get<std::string>().find(std::string("stderr says ") + kScript), std::string::npos)
      << f.dump();
  EXPECT_NE(f["reason"].get<std::string>(), "");

  text = get(address, "/metrics");
  EXPECT_EQ(metric(text, "mwkit_master_tasks_submitted_total"), 6);
  EXPECT_EQ(metric(text, "mwkit_master_tasks_ended_total{outcome=\"succeeded\"}"), 5);
  EXPECT_EQ(metric(text, "mwkit_master_tasks_ended_total{outcome=\"failed\"}"), 1);
  EXPECT_EQ(metric(text, "mwkit_master_task_duration_seconds_count"), 6);
  EXPECT_EQ(metric(text, "mwkit_master_task_duration_seconds_bucket{le=\"+Inf\"}"), 6);
  EXPECT_EQ(metric(text, "mwkit_master_queue_depth"), 0);
  expect_promtool_accepts(text);
}

TEST(MasterStatus, TheSimulatorsFiguresAreInterfaceGauges) {
  Simulator sim;
  sim.workers.resize(2);
  sim.workers[0].name = "fast";
  sim.workers[0].speed = 2.0;
  sim.workers[1].name = "slow";
  Master master(sim, with_status());
  const std::string address = master.status_address();
  std::vector<TypedTask<int>> tasks;
  TaskOptions ten_units;
  ten_units.estimates.cpu_seconds = 10.0;
  for (int i = 0; i < 4; ++i) tasks.push_back(master.submit(ten_units, mw_task_wait_for_file, std::string("/")));
  for (auto& t : tasks) master.get_result(t);
  json s = status_json(address);
  EXPECT_EQ(s["interface"], "simulator");
  EXPECT_EQ(s["tasks"]["succeeded"], 4);
  ASSERT_TRUE(s["interface_details"].contains("makespan")) << s.dump();
  ASSERT_EQ(s["workers"].size(), 2u);
  // Simulated seconds, not the wall clock: 10 work units at speed 2 and 1.
  EXPECT_EQ(s["task_duration_seconds"]["count"], 4);
  const std::string text = get(address, "/metrics");
  EXPECT_EQ(metric(text, "mwkit_master_interface_value{name=\"makespan\"}"),
            std::stod(s["interface_details"]["makespan"].get<std::string>()));
  EXPECT_EQ(metric(text, "mwkit_master_info{interface=\"simulator\",schema=\"mwkit.master.status/1\"}"), 1);
  expect_promtool_accepts(text);
}

TEST(MasterStatus, WithATokenRequestsWithoutItAre401) {
  Master master(Multicore{1}, with_status("t0ken"));
  get(master.status_address(), "/status.json", 401);
  get(master.status_address(), "/metrics", 401);
  const json s = json::parse(get(master.status_address(), "/status.json?token=t0ken"));
  EXPECT_EQ(s["schema"], "mwkit.master.status/1");
}

// ---- the page in headless Chromium -----------------------------------------

// The page's DOM after its script has fetched /status.json and rendered it.
std::string rendered_dom(const std::string& url) {
  ScratchDir profile;
  auto r = test::run_command({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                              "--disable-quic", "--no-first-run", "--disable-background-networking",
                              "--disable-component-update", "--disable-sync",
                              "--user-data-dir=" + profile.path(), "--virtual-time-budget=3000",
                              "--dump-dom", url});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// data-field="F">TEXT< for every field the page shows.
std::map<std::string, std::string> rendered_fields(const std::string& dom) {
  std::map<std::string, std::string> out;
  static const std::regex field(R"re(data-field="([a-z_.]+)">([^<]*)<)re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), field); it != std::sregex_iterator(); ++it)
    out[(*it)[1]] = (*it)[2];
  return out;
}

void expect_page_matches(const std::map<std::string, std::string>& page, const json& s) {
  ASSERT_FALSE(page.empty());
  for (const char* state : {"submitted", "waiting", "running", "succeeded", "failed", "cancelled",
                            "finished", "delivered", "from_journal"}) {
    const std::string key = std::string("tasks.") + state;
    ASSERT_TRUE(page.count(key)) << key;
    EXPECT_EQ(page.at(key), std::to_string(s["tasks"][state].get<std::uint64_t>())) << key;
  }
  EXPECT_EQ(page.at("interface"), s["interface"].get<std::string>());
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A back end that learns afterwards which of `hosts` machines ran a task, as
// HTCondor and BOINC do: task i ends on host i % hosts (host 0 is named with a
// script), every 7th fails, and later tasks are seen later.
class ManyHosts final : public Interface {
 public:
  explicit ManyHosts(std::size_t hosts) : hosts_(hosts) {}
  ~ManyHosts() override { shutdown(); }
  std::string name() const override { return "many-hosts"; }
  void start(InterfaceEvents& events) override {
    events_ = &events;
    reporter_ = std::thread([this] { report_loop(); });
  }
  std::optional<WorkerId> reserve_worker() override { return WorkerId{0}; }
  void execute_task(WorkerId, std::shared_ptr<const TaskSpec> task) override {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(task->id);
    wake_.notify_all();
  }
  void cancel_task(std::uint64_t) override {}
  void each_worker(const Function&, const Args&) override {}
  InterfaceStatus status() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    InterfaceStatus st;
    tally_.fill(st);
    return st;
  }
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    wake_.notify_all();
    if (reporter_.joinable()) reporter_.join();
  }

 private:
  void report_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
      if (stopped_) return;
      const std::uint64_t id = queue_.front();
      queue_.pop_front();
      const std::size_t n = id % hosts_;
      const detail::HostRef host{"host-" + std::to_string(n), n == 0 ? std::string("evil ") + kScript : "",
                                 "Linux x86_64"};
      Outcome o;
      o.worker = "many-hosts";
      if (id % 7 == 3) {
        o.status = ResultStatus::nonzero_exit;
        o.reason = "exit 1";
      }
      tally_.ended(host, o.status != ResultStatus::success, false, 1.7e9 + static_cast<double>(id));
      lock.unlock();
      events_->task_finished(id, std::move(o));
      events_->worker_available();
      lock.lock();
    }
  }

  const std::size_t hosts_;
  InterfaceEvents* events_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::uint64_t> queue_;
  bool stopped_ = false;
  detail::HostTally tally_{false};
  std::thread reporter_;
};

// 120 tasks on 100 hosts: the JSON lists the 50 seen last, latest first,
// counts all 100, and /metrics has one gauge for them, no series per host.
TEST(MasterStatus, HostsAreListedLatestFirstAndBounded) {
  Master master(std::make_unique<ManyHosts>(100), with_status());
  const std::string address = master.status_address();
  for (int i = 0; i < 120; ++i) master.submit_task(Exec("/bin/true"));
  json s;
  for (int i = 0; i < 100; ++i) {
    s = status_json(address);
    if (s["tasks"]["finished"].get<std::uint64_t>() + s["tasks"]["delivered"].get<std::uint64_t>() == 120) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(s["tasks"]["finished"], 120) << s.dump();
  EXPECT_EQ(s["hosts_seen"], 100);
  ASSERT_EQ(s["hosts"].size(), kHostsListed);
  std::uint64_t done = 0, failed = 0;
  double previous = 1e300;
  bool evil_listed = false;
  for (const auto& h : s["hosts"]) {
    EXPECT_LE(h["last_seen"].get<double>(), previous) << h.dump();
    previous = h["last_seen"].get<double>();
    EXPECT_TRUE(h["running"].is_null()) << h.dump();  // this back end does not know
    EXPECT_EQ(h["details"], "Linux x86_64");
    done += h["tasks_done"].get<std::uint64_t>();
    failed += h["tasks_failed"].get<std::uint64_t>();
    if (h["id"] == "host-0") {
      evil_listed = true;
      EXPECT_EQ(h["name"], std::string("evil ") + kScript);
      EXPECT_EQ(h["tasks_done"].get<std::uint64_t>() + h["tasks_failed"].get<std::uint64_t>(), 1u);  // task 100
    }
  }
  EXPECT_TRUE(evil_listed) << s.dump();
  // Task ids start at 1. The hosts that ran tasks 71..120 are 50, with 70
  // tasks: hosts 1..20 ran two each (1..20 and 101..120).
  EXPECT_EQ(done + failed, 70u);
  EXPECT_GT(failed, 0u);
  EXPECT_EQ(s["hosts"][0]["id"], "host-20");  // task 120, the last
  const std::string text = get(address, "/metrics");
  EXPECT_EQ(metric(text, "mwkit_master_hosts_seen"), 100);
  EXPECT_EQ(text.find("host-"), std::string::npos);
  expect_promtool_accepts(text);

  if (access("/usr/bin/chromium", X_OK) != 0) GTEST_SKIP() << "chromium is not installed (Debian package chromium)";
  const std::string dom = rendered_dom("http://" + address + "/");
  EXPECT_EQ(count_of(dom, "<tr class=\"host\">"), kHostsListed) << dom;
  EXPECT_NE(dom.find("and 50 more hosts seen earlier (100 in all)"), std::string::npos) << dom;
  EXPECT_NE(dom.find("evil &lt;script&gt;document.title='owned'&lt;/script&gt;"), std::string::npos) << dom;
  EXPECT_EQ(count_of(dom, "<script"), 1u) << dom;
}

TEST(MasterStatus, AMulticoreMasterListsWorkersAndNoHosts) {
  Master master(Multicore{1}, with_status());
  const json s = status_json(master.status_address());
  EXPECT_TRUE(s["hosts"].is_array());
  EXPECT_TRUE(s["hosts"].empty());
  EXPECT_EQ(s["hosts_seen"], 0);
  EXPECT_EQ(metric(get(master.status_address(), "/metrics"), "mwkit_master_hosts_seen"), 0);
}

TEST(MasterStatus, ThePageShowsTheNumbersOfStatusJsonAndTaskStringsAsText) {
  if (access("/usr/bin/chromium", X_OK) != 0) GTEST_SKIP() << "chromium is not installed (Debian package chromium)";
  ScratchDir dir;
  const std::string release = dir / "release";
  Master master(Multicore{2}, with_status("page-token"));
  const std::string address = master.status_address();
  const std::string url = "http://" + address + "/?token=page-token";
  std::vector<TypedTask<int>> held;
  for (int i = 0; i < 3; ++i) held.push_back(master.submit(mw_task_wait_for_file, release));
  // With the tasks held, nothing changes while Chromium renders.
  json s = wait_until_settled(address, 2, "page-token");
  std::string dom = rendered_dom(url);
  auto page = rendered_fields(dom);
  expect_page_matches(page, s);
  EXPECT_EQ(count_of(dom, "<tr>") - 1, s["workers"].size()) << dom;  // one row per worker, plus the head

  test::write_text(release, "");
  for (auto& t : held) master.get_result(t);
  auto failing = master.submit(named(std::string("bad ") + kScript), mw_task_fail_with,
                               std::string("stderr says ") + kScript);
  EXPECT_THROW(master.get_result(failing), TaskFailed);
  s = status_json(address, "page-token");
  dom = rendered_dom(url);
  const auto after = rendered_fields(dom);
  expect_page_matches(after, s);
  EXPECT_NE(after.at("tasks.succeeded"), page.at("tasks.succeeded"));  // it follows the tasks
  // And refreshes itself: Chromium's virtual clock ran past the first refresh.
  std::smatch renders;
  ASSERT_TRUE(std::regex_search(dom, renders, std::regex(R"re(data-renders="([0-9]+)")re"))) << dom;
  EXPECT_GE(std::stoi(renders[1]), 2);
  // The task's name and stderr are shown as text: escaped in the DOM, not elements.
  EXPECT_NE(dom.find("bad &lt;script&gt;document.title='owned'&lt;/script&gt;"), std::string::npos) << dom;
  EXPECT_NE(dom.find("stderr says &lt;script&gt;"), std::string::npos) << dom;
  EXPECT_EQ(count_of(dom, "<script"), 1u) << dom;  // the page's own
  EXPECT_EQ(dom.find("<title>owned"), std::string::npos);
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  mw::worker_main_if_requested(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
