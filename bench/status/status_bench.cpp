// bench_status: mw-status on a big project (issue 22): the tests' private
// MariaDB filled with N workunits (one result each) in B batches, spread over
// the states a running project has, then the time of one look rendered as
// the table, the JSON and the /metrics text (each a fresh look at the
// database, as with --max-age 0), and the same through mw-status's HTTP
// server. Each figure is taken first without mwkit's indexes (the slow path
// of a project mw-project-setup has not given them), then with them, added
// by the code mw-project-setup runs (boinc/status_indexes.h), whose time is a
// figure too. Prints JSON lines (bench/README.md).
#include <CLI/CLI.hpp>
#include <httplib.h>

#include <chrono>
#include <iostream>
#include <string>

#include <unistd.h>

#include "bench_common.h"
#include "boinc/batch_counts.h"
#include "boinc/status_indexes.h"
#include "mw/boinc/database.h"
#include "project_status.h"
#include "status/http_status_server.h"
#include "status_page.h"
#include "support/boinc_project.h"
#include "support/boinc_rows.h"

namespace {

struct Options {
  std::int64_t workunits = 1000000;
  std::int64_t batches = 100;
  int repeats = 5;
  std::int64_t rows_per_insert = 5000;
  bool without_indexes_only = false;
  bool with_indexes_only = false;
};

int parse_command_line(Options& o, int argc, char** argv) {
  CLI::App app{"mw-status on a project of many workunits: time of the table, the JSON and /metrics; "
               "prints JSON lines",
               "bench_status"};
  app.add_option("--workunits", o.workunits, "Workunits (each with one result) in the project")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batches", o.batches, "Batches they are spread over")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--repeats", o.repeats, "Looks per figure (the median is printed)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--rows-per-insert", o.rows_per_insert, "Rows of each multi-row INSERT while filling")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--without-mw-indexes", o.without_indexes_only, "Only the figures without mwkit's indexes");
  app.add_flag("--with-mw-indexes-only", o.with_indexes_only,
               "Add mwkit's indexes before filling (the fill rate then includes their cost): skip the slow figures");
  return mw::bench::parse_options(app, argc, argv);
}

// Workunit i's state, in the shares a project in full swing has: 50% delivered,
// 10% each unsent, in progress, waiting for validation, waiting for
// assimilation, failed.
void state_of(std::int64_t i, mw::test::WorkunitRow& w, mw::test::ResultRow& r) {
  r.server_state = 5;
  r.outcome = 1;
  switch (i % 10) {
    case 0: r.server_state = 2; r.outcome = 0; break;
    case 1: r.server_state = 4; r.outcome = 0; break;
    case 2: w.need_validate = 1; break;
    case 3: w.canonical_resultid = r.id; w.assimilate_state = 1; break;
    case 4: w.error_mask = 2; w.assimilate_state = 2; r.outcome = 3; break;
    default: w.canonical_resultid = r.id; w.assimilate_state = 2; break;
  }
}

void fill(const Options& o, mw::test::BoincTestProject& project, bool indexed) {
  auto conn = project.server().connect(project.db_name());
  const std::int64_t app = project.app_id();
  for (std::int64_t b = 1; b <= o.batches; ++b)
    conn.execute("INSERT INTO batch (id, user_id, create_time, logical_start_time, logical_end_time, "
                 "est_completion_time, njobs, fraction_done, nerror_jobs, state, completion_time, credit_estimate, "
                 "credit_canonical, credit_total, name, app_id, project_state, description, expire_time) VALUES (" +
                 std::to_string(b) + ", 1, UNIX_TIMESTAMP() - 86400, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 'batch_" +
                 std::to_string(b) + "', " + std::to_string(app) + ", 0, '', 0)");
  const auto started = std::chrono::steady_clock::now();
  for (std::int64_t first = 1; first <= o.workunits; first += o.rows_per_insert) {
    std::string wus = mw::test::workunit_insert_head(), results = mw::test::result_insert_head();
    const std::int64_t last = std::min(o.workunits, first + o.rows_per_insert - 1);
    for (std::int64_t i = first; i <= last; ++i) {
      mw::test::WorkunitRow w;
      mw::test::ResultRow r;
      w.id = r.id = r.workunit_id = i;
      w.app_id = r.app_id = app;
      w.batch = r.batch = 1 + (i - 1) * o.batches / o.workunits;  // contiguous, as submitted
      w.name = "wu_" + std::to_string(i);
      r.name = w.name + "_0";
      state_of(i, w, r);
      wus += (i == first ? "" : ",") + values_of(w);
      results += (i == first ? "" : ",") + values_of(r);
    }
    conn.execute("START TRANSACTION");
    conn.execute(wus);
    conn.execute(results);
    conn.execute("COMMIT");
  }
  conn.execute("ANALYZE TABLE workunit, result");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  mw::bench::emit("status", "fill_rows_per_s", 2.0 * static_cast<double>(o.workunits) / s, "rows/s",
                  {{"workunits", o.workunits}, {"mw_indexes", indexed}});
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int code = parse_command_line(o, argc, argv); code >= 0) return code;
  ::setenv("MW_TEST_MARIADB_SERVER_DEFAULTS", "1", 0);  // a stock server's InnoDB
  try {
    mw::test::BoincTestProject project("bench_status");
    auto db = project.database();
    // Indexes present while filling: what they cost inserts.
    if (o.with_indexes_only) mw::boinc::detail::add_status_indexes(*db);
    fill(o, project, o.with_indexes_only);
    mw::status::CollectOptions collect;
    auto look = [&] { return mw::status::collect_status(project.dir(), project.config(), *db, collect); };
    auto figures = [&](bool indexed) {
      const nlohmann::json params = {{"workunits", o.workunits}, {"batches", o.batches}, {"mw_indexes", indexed}};
      const auto path = indexed ? mw::boinc::detail::CountPath::index : mw::boinc::detail::CountPath::scan;
      look();  // the first look warms the buffer pool, as a long-running server's would be
      mw::bench::emit("status", "counts_s", mw::bench::median_seconds(o.repeats, [&] {
        mw::boinc::detail::count_app_batches(*db, project.app_id(), path);
      }), "s", params);
      double query = 0;
      const double table = mw::bench::median_seconds(o.repeats, [&] {
        auto s = look();
        if (s.count_path != path) throw std::runtime_error("the look took the other counting path");
        query = s.query_seconds;
        mw::status::to_table(s);
      });
      mw::bench::emit("status", "table_s", table, "s", params);
      mw::bench::emit("status", "query_s", query, "s", params);
      return params;
    };
    if (!o.with_indexes_only) {
      figures(false);
      if (o.without_indexes_only) return 0;
      // As mw-project-setup install adds them to a project already full of work.
      const auto started = std::chrono::steady_clock::now();
      mw::boinc::detail::add_status_indexes(*db);
      mw::bench::emit("status", "add_mw_indexes_s",
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), "s",
                      {{"workunits", o.workunits}});
    }
    // What the indexes take on disk and in the buffer pool (InnoDB's persistent statistics).
    db->execute("ANALYZE TABLE workunit, result");
    for (const auto& row : db->query("SELECT index_name, stat_value * @@innodb_page_size FROM mysql.innodb_index_stats "
                                     "WHERE database_name = DATABASE() AND stat_name = 'size' AND index_name LIKE 'mw%'"))
      mw::bench::emit("status", "index_bytes", row.real(1), "bytes",
                      {{"workunits", o.workunits}, {"index", row.text(0)}, {"grown_by_inserts", o.with_indexes_only}});
    const nlohmann::json params = figures(true);
    mw::bench::emit("status", "json_s", mw::bench::median_seconds(o.repeats, [&] { mw::status::to_json_text(look()); }),
                    "s", params);
    mw::bench::emit("status", "metrics_s",
                    mw::bench::median_seconds(o.repeats, [&] { mw::status::to_metrics(look()); }), "s", params);
    // Through the HTTP server, as a browser or Prometheus asks.
    mw::status::Routes routes;
    routes.page_html = [] { return std::string(mw::status::project_status_page()); };
    routes.status_json = [&] { return mw::status::to_json_text(look()); };
    routes.metrics = [&] { return mw::status::to_metrics(look()); };
    mw::status::HttpServerOptions http_options;
    http_options.listen = "127.0.0.1:0";
    mw::status::HttpStatusServer server(http_options, routes);
    const std::string bound = server.bound_address();
    httplib::Client client(bound.substr(0, bound.rfind(':')), std::stoi(bound.substr(bound.rfind(':') + 1)));
    client.set_read_timeout(60, 0);
    for (const char* path : {"/", "/status.json", "/metrics"}) {
      const double s = mw::bench::median_seconds(o.repeats, [&] {
        auto reply = client.Get(path);
        if (!reply || reply->status != 200) throw std::runtime_error(std::string("GET ") + path + " failed");
        ::usleep(60 * 1000);  // under the server's rate limit
      });
      nlohmann::json p = params;
      p["path"] = path;
      mw::bench::emit("status", "http_get_s", s - 0.06, "s", p);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_status: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
