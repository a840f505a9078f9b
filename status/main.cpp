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
#include <condition_variable>
#include <optional>
#include <thread>

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

// What --listen serves: the last look at the database, rendered as JSON and
// metrics. A thread of its own takes a new look every `max_age` seconds, so a
// request never waits for the database (a look at 10^6 workunits can take
// seconds) and many open pages or scrapers cost the database one look per
// period. A look that fails is logged and the previous one stays served; its
// generated_at tells how old it is.
class Snapshots {
 public:
  // Takes the first look before returning: a wrong password or app is
  // reported now (mw::Error), not as stale pages.
  Snapshots(std::string dir, boinc::ProjectConfig config, boinc::DbParams params, status::CollectOptions collect,
            double max_age)
      : dir_(std::move(dir)), config_(std::move(config)), params_(std::move(params)),
        collect_(std::move(collect)), max_age_(max_age) {
    rendered_ = look();
    thread_ = std::thread([this] { refresh_loop(); });
  }
  ~Snapshots() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  std::string json() {
    std::lock_guard<std::mutex> lock(mutex_);
    return rendered_.first;
  }
  std::string metrics() {
    std::lock_guard<std::mutex> lock(mutex_);
    return rendered_.second;
  }

 private:
  std::pair<std::string, std::string> look() {
    if (!db_) db_ = std::make_unique<boinc::Database>(params_);
    const status::ProjectStatus s = status::collect_status(dir_, config_, *db_, collect_);
    return {status::to_json_text(s), status::to_metrics(s)};
  }

  void refresh_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::duration<double>(max_age_), [this] { return stopping_; })) {
      lock.unlock();
      try {
        auto fresh = look();
        lock.lock();
        rendered_ = std::move(fresh);
      } catch (const std::exception& e) {
        db_.reset();  // the next look connects afresh
        std::cerr << "mw-status: " << e.what() << " (still serving the previous look)" << std::endl;
        lock.lock();
      }
    }
  }

  const std::string dir_;
  const boinc::ProjectConfig config_;
  const boinc::DbParams params_;
  const status::CollectOptions collect_;
  const double max_age_;
  std::unique_ptr<boinc::Database> db_;  // the refresh thread's only (and the constructor's)
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::pair<std::string, std::string> rendered_;
  std::thread thread_;
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
  app.add_option("--max-age", o.max_age,
                 "With --listen: seconds between two looks at the database (requests are answered from the last)")
      ->check(CLI::Range(0.5, 3600.0))
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
