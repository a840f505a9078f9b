// The shared status server (status/http_status_server.h) through real HTTP
// requests: routes, token, size and rate limits.
#include "status/http_status_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>

#include "mw/error.h"
#include "status/prometheus_text.h"

namespace mw::status {
namespace {

Routes test_routes(std::atomic<int>* calls = nullptr) {
  Routes r;
  r.page_html = [calls] {
    if (calls) ++*calls;
    return std::string("<!doctype html><title>t</title>");
  };
  r.status_json = [] { return std::string(R"({"schema":"test/1"})"); };
  r.metrics = [] { return std::string("# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n"); };
  return r;
}

// host:port of a bound address, for httplib::Client.
httplib::Client client_for(const HttpStatusServer& server) {
  const std::string address = server.bound_address();
  const auto colon = address.rfind(':');
  return httplib::Client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
}

TEST(HttpStatusServer, PortZeroBindsAFreePortAndServesTheThreeRoutes) {
  HttpStatusServer server({"127.0.0.1:0", "", 16 * 1024, 1000}, test_routes());
  const std::string address = server.bound_address();
  ASSERT_EQ(address.rfind("127.0.0.1:", 0), 0u) << address;
  EXPECT_NE(address, "127.0.0.1:0");
  auto client = client_for(server);
  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<title>t</title>"), std::string::npos);
  auto json = client.Get("/status.json");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200);
  EXPECT_EQ(json->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json->body, R"({"schema":"test/1"})");
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(HttpStatusServer, OtherPathsAre404AndOtherMethods405) {
  HttpStatusServer server({"127.0.0.1:0", "", 16 * 1024, 1000}, test_routes());
  auto client = client_for(server);
  for (const char* path : {"/../etc/passwd", "/etc/passwd", "/status.jsonx", "/status_json",
                           "/index.html", "//", "/metrics/"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body.find("root:"), std::string::npos) << path;
  }
  auto post = client.Post("/status.json", "x=1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  auto del = client.Delete("/metrics");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  // The connection is still in step after a request whose body was refused.
  auto after = client.Get("/status.json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST(HttpStatusServer, ANonLoopbackAddressNeedsAToken) {
  try {
    HttpStatusServer server({"0.0.0.0:0", "", 16 * 1024, 20}, test_routes());
    FAIL() << "started on 0.0.0.0 without a token";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::usage);
    EXPECT_NE(std::string(e.what()).find("0.0.0.0:0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("token"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.8.9.10"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(is_loopback_host("example.org"));
}

TEST(HttpStatusServer, BadAddressesAreRefusedNamingThem) {
  for (const char* listen : {"127.0.0.1", "127.0.0.1:", ":8787", "127.0.0.1:http", "127.0.0.1:70000",
                             "::1:8787", "[::1]8787"}) {
    try {
      HttpStatusServer server({listen, "", 16 * 1024, 20}, test_routes());
      ADD_FAILURE() << "accepted " << listen;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(listen), std::string::npos) << e.what();
    }
  }
}

TEST(HttpStatusServer, ABindFailureNamesTheAddress) {
  HttpStatusServer first({"127.0.0.1:0", "", 16 * 1024, 20}, test_routes());
  try {
    HttpStatusServer second({first.bound_address(), "", 16 * 1024, 20}, test_routes());
    FAIL() << "bound " << first.bound_address() << " twice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(first.bound_address()), std::string::npos) << e.what();
  }
}

TEST(HttpStatusServer, WithATokenEveryRequestMustCarryIt) {
  std::atomic<int> calls{0};
  // A token on loopback too: it is then required there as well.
  HttpStatusServer server({"127.0.0.1:0", "s3cret-token", 16 * 1024, 1000}, test_routes(&calls));
  auto client = client_for(server);
  // The status each request gets, by what it carries.
  const auto status_of = [&](const std::string& path, const httplib::Headers& headers) {
    auto res = client.Get(path.c_str(), headers);
    return res ? res->status : -1;
  };
  EXPECT_EQ(status_of("/", {}), 401);
  EXPECT_EQ(status_of("/", {{"Authorization", "Bearer s3cret-tokeN"}}), 401);
  EXPECT_EQ(status_of("/", {{"Authorization", "s3cret-token"}}), 401);
  EXPECT_EQ(status_of("/?token=s3cret", {}), 401);
  EXPECT_EQ(calls.load(), 0) << "a route ran for an unauthorised request";
  EXPECT_EQ(status_of("/", {{"Authorization", "Bearer s3cret-token"}}), 200);
  EXPECT_EQ(status_of("/status.json?token=s3cret-token", {}), 200);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpStatusServer, ARequestOverTheSizeBoundIs413) {
  HttpStatusServer server({"127.0.0.1:0", "", 2048, 1000}, test_routes());
  auto client = client_for(server);
  auto small = client.Get("/", {{"X-Pad", std::string(1000, 'a')}});
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  auto big_headers = client.Get("/", {{"X-Pad", std::string(3000, 'a')}});
  ASSERT_TRUE(big_headers);
  EXPECT_EQ(big_headers->status, 413);
  auto big_body = client.Post("/status.json", std::string(4000, 'b'), "text/plain");
  ASSERT_TRUE(big_body);
  EXPECT_EQ(big_body->status, 413);
}

TEST(HttpStatusServer, RequestsBeyondTheRateAre429) {
  HttpStatusServer server({"127.0.0.1:0", "", 16 * 1024, 5}, test_routes());
  auto client = client_for(server);
  int ok = 0, limited = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 12; ++i) {
    auto res = client.Get("/status.json");
    ASSERT_TRUE(res);
    if (res->status == 200) ++ok;
    else if (res->status == 429) ++limited;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // 5 at once, plus 5 a second for as long as the 12 requests took (well under a second, unless
  // the machine is very busy).
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 5 + static_cast<int>(seconds * 5) + 1) << seconds << " s";
  if (seconds < 1) {
    EXPECT_GE(limited, 1);
  }
  EXPECT_EQ(ok + limited, 12);
}

TEST(HttpStatusServer, ARouteThatThrowsIs500WithoutItsMessage) {
  Routes routes = test_routes();
  routes.status_json = []() -> std::string { throw std::runtime_error("/secret/path/db.sqlite"); };
  HttpStatusServer server({"127.0.0.1:0", "", 16 * 1024, 1000}, routes);
  auto client = client_for(server);
  auto res = client.Get("/status.json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body.find("secret"), std::string::npos);
  for (const auto& [name, value] : res->headers) EXPECT_EQ(value.find("secret"), std::string::npos) << name;
}

TEST(PrometheusText, WritesFamiliesSamplesAndHistograms) {
  PrometheusText out;
  out.family("jobs_total", "counter", "Jobs by state.\nSecond line \\ here.");
  out.sample("jobs_total", {{"state", "a\"b\\c\nd"}}, 3);
  out.gauge("depth", "Queue depth.", 2.5);
  HistogramCounts h{{0.1, 1}, {2, 0, 1}, 5.25};
  out.histogram("duration_seconds", "Durations.", h);
  EXPECT_EQ(out.str(),
            "# HELP jobs_total Jobs by state.\\nSecond line \\\\ here.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total{state=\"a\\\"b\\\\c\\nd\"} 3\n"
            "# HELP depth Queue depth.\n# TYPE depth gauge\ndepth 2.5\n"
            "# HELP duration_seconds Durations.\n# TYPE duration_seconds histogram\n"
            "duration_seconds_bucket{le=\"0.1\"} 2\n"
            "duration_seconds_bucket{le=\"1\"} 2\n"
            "duration_seconds_bucket{le=\"+Inf\"} 3\n"
            "duration_seconds_sum 5.25\n"
            "duration_seconds_count 3\n");
  EXPECT_THROW(out.family("jobs_total", "counter", "again"), Error);
  EXPECT_THROW(out.family("9bad", "gauge", "x"), Error);
  EXPECT_THROW(out.sample("other", {}, 1), Error);
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
  EXPECT_EQ(format_value(1e-7), "1e-07");
}

}  // namespace
}  // namespace mw::status
