// mw-status — what an mwkit app in a BOINC project is doing: its batches
// (unsent, in progress, valid, errors by reason, assimilated, delivered,
// throughput, ETA) and the health of mw-validator and mw-assimilator (running,
// backlog, recent problems in their logs).
//
//   mw-status --project DIR [--app mw] [--format table|json|metrics]
//   mw-status --project DIR --listen HOST:PORT [--token-file FILE]
//       serves the same as a page (/), /status.json and /metrics until SIGTERM
//
// It only reads: the database (SELECT only; --db-user for a read-only
// account), config.xml, and the daemons' lock files and logs.
#include <CLI/CLI.hpp>

#include <csignal>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>

#include <pthread.h>

#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"
#include "project_status.h"
#include "status/http_status_server.h"
#include "status_page.h"
#include "tool_common.h"

namespace {

using namespace mw;

struct Options {
  std::string project;
  std::string format = "table";
  std::string db_user;
  std::string db_password_file;
  std::string listen;
  std::string token_file;
  double max_age = 5;
  status::CollectOptions collect;
};

// The database as config.xml names it, with another account when asked:
// the read-only one an operator gives a status page.
boinc::DbParams db_params(const boinc::ProjectConfig& config, const Options& o) {
  boinc::DbParams params = boinc::db_params_from(config);
  if (!o.db_user.empty()) {
    params.user = o.db_user;
    params.password.clear();
  }
  if (!o.db_password_file.empty()) {
    std::string password = tools::read_regular_file(o.db_password_file, 4096);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    params.password = password;
  }
  return params;
}

// What --listen serves: one look at the database renders both JSON and
// metrics, and is reused for `max_age` seconds, so a page left open in many
// browsers, or several Prometheus servers, cost the database one look at a
// time. Routes run on the server's threads, hence the lock.
class Snapshots {
 public:
  Snapshots(std::string dir, boinc::ProjectConfig config, boinc::DbParams params, status::CollectOptions collect,
            double max_age)
      : dir_(std::move(dir)), config_(std::move(config)), params_(std::move(params)),
        collect_(std::move(collect)), max_age_(max_age) {}

  std::string json() { return current().first; }
  std::string metrics() { return current().second; }

 private:
  std::pair<std::string, std::string> current() {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (taken_ && now - *taken_ < std::chrono::duration<double>(max_age_)) return rendered_;
    try {
      if (!db_) db_ = std::make_unique<boinc::Database>(params_);
      const status::ProjectStatus s = status::collect_status(dir_, config_, *db_, collect_);
      rendered_ = {status::to_json_text(s), status::to_metrics(s)};
      taken_ = now;
    } catch (const std::exception& e) {
      db_.reset();  // the next request connects afresh
      std::cerr << "mw-status: " << e.what() << std::endl;
      throw;
    }
    return rendered_;
  }

  std::mutex mutex_;
  const std::string dir_;
  const boinc::ProjectConfig config_;
  const boinc::DbParams params_;
  const status::CollectOptions collect_;
  const double max_age_;
  std::unique_ptr<boinc::Database> db_;
  std::optional<std::chrono::steady_clock::time_point> taken_;
  std::pair<std::string, std::string> rendered_;
};

int serve(const Options& o, const std::string& dir, const boinc::ProjectConfig& config) {
  // Blocked before the server's threads start, so they inherit the mask and
  // only sigwait below sees these.
  sigset_t stop;
  sigemptyset(&stop);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, sig);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  status::HttpServerOptions server;
  server.listen = o.listen;
  if (!o.token_file.empty()) {
    server.token = tools::read_regular_file(o.token_file, 4096);
    while (!server.token.empty() && (server.token.back() == '\n' || server.token.back() == '\r'))
      server.token.pop_back();
    if (server.token.empty()) throw tools::UsageError("--token-file " + o.token_file + " is empty");
  }
  Snapshots snapshots(dir, config, db_params(config, o), o.collect, o.max_age);
  // Look once before serving: a wrong password or app is reported now, not as HTTP 500s.
  snapshots.json();
  status::Routes routes;
  routes.page_html = [] { return std::string(status::project_status_page()); };
  routes.status_json = [&] { return snapshots.json(); };
  routes.metrics = [&] { return snapshots.metrics(); };
  status::HttpStatusServer http(server, routes);
  std::cout << "mw-status: serving http://" << http.bound_address() << "/ (app " << o.collect.app << " of "
            << dir << ")" << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  return tools::kExitOk;
}

int status_main(int argc, char** argv) {
  Options o;
  CLI::App app{"Show the batches and daemons of an mwkit app in a BOINC project", "mw-status"};
  mw::cli::set_up(app);
  app.add_option("--project", o.project,
                 "Project directory (default: $BOINC_PROJECT_DIR, else . or .. as BOINC finds it)");
  app.add_option("--app", o.collect.app, "BOINC app name")->capture_default_str();
  app.add_option("--format", o.format, "What to print: table, json (schema mwkit.project.status/1) or metrics")
      ->check(CLI::IsMember({"table", "json", "metrics"}))
      ->capture_default_str();
  app.add_option("--log-lines", o.collect.log_lines, "Recent problem lines shown per daemon")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--db-user", o.db_user, "Database account instead of config.xml's db_user (e.g. a read-only one)");
  app.add_option("--db-password-file", o.db_password_file,
                 "File holding that account's password (default: none with --db-user, else config.xml's)");
  app.add_option("--listen", o.listen,
                 "Serve the page (/), /status.json and /metrics on HOST:PORT (port 0: any free one) until SIGTERM");
  app.add_option("--token-file", o.token_file,
                 "File holding the token every request must carry (Authorization: Bearer T or ?token=T); "
                 "needed unless HOST is loopback");
  app.add_option("--max-age", o.max_age, "With --listen: seconds one look at the database is served for")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;
  if (!o.token_file.empty() && o.listen.empty()) throw tools::UsageError("--token-file needs --listen");

  const std::string dir = boinc::find_project_dir(o.project);
  const boinc::ProjectConfig config = boinc::read_project_config(dir);
  if (!o.listen.empty()) return serve(o, dir, config);
  boinc::Database db(db_params(config, o));
  const status::ProjectStatus s = status::collect_status(dir, config, db, o.collect);
  if (o.format == "json") std::cout << status::to_json_text(s);
  else if (o.format == "metrics") std::cout << status::to_metrics(s);
  else std::cout << status::to_table(s);
  return tools::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  return mw::tools::run_tool("mw-status", [&] { return status_main(argc, argv); });
}
