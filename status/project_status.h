// project_status.h — one look at an mwkit app in a BOINC project: its batches
// (counted in the database), the backlog of the validator and the assimilator,
// and whether mw-validator and mw-assimilator run (their lock files and logs),
// rendered as a table, as JSON (schema "mwkit.project.status/1", fields in
// docs/project-status.md) and as Prometheus metrics.
//
// Reading only: every query is a SELECT, so a database user with nothing but
// SELECT is enough. Batches are counted from mwkit's indexes when the project
// has them (boinc/status_indexes.h), else by reading the app's workunit rows,
// which the status says, with the command that adds them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "boinc/batch_counts.h"
#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"

namespace mw::status {

inline constexpr const char* kJsonSchema = "mwkit.project.status/1";

struct BatchStatus {
  std::int64_t id = 0;  // 0: workunits outside any batch
  std::string name;     // from the database: untrusted text
  std::string state;    // BOINC's batch state in words
  double created_at = 0;
  boinc::detail::BatchCounts counts;
  // Workunits assimilated per hour since the batch was created, and the
  // seconds left at that pace; nullopt when nothing was assimilated yet.
  std::optional<double> throughput_per_hour;
  std::optional<double> eta_seconds;
};

struct DaemonHealth {
  std::string program;  // mw-validator or mw-assimilator
  std::string cmd;      // its <cmd> in config.xml; empty when config.xml has none for the app
  bool running = false;
  long pid = 0;
  std::string why;      // when not running
  std::string log;
  std::vector<std::string> recent_problems;  // last [CRITICAL]/[warning] lines of its log
};

struct Backlog {
  std::int64_t workunits = 0;
  // Since the row of the waiting workunit created first (lowest id) last changed.
  std::optional<double> oldest_age_seconds;
};

struct ProjectStatus {
  std::string project_dir;
  std::string app;
  double generated_at = 0;
  double query_seconds = 0;  // what the database took
  boinc::detail::CountPath count_path = boinc::detail::CountPath::index;
  std::vector<std::string> missing_indexes;  // "table.name" of mwkit's indexes the database lacks
  std::vector<BatchStatus> batches;
  Backlog validate, assimilate;
  std::vector<DaemonHealth> daemons;
};

struct CollectOptions {
  std::string app = "mw";
  std::size_t log_lines = 5;  // recent problem lines per daemon
  std::string host;           // this machine's short name; empty: hostname -s
};

// Throws mw::Error(Errc::usage) when the app is not in the database, and the
// database's errors (naming the statement) as they come.
ProjectStatus collect_status(const std::string& project_dir, const boinc::ProjectConfig& config,
                             boinc::Database& db, const CollectOptions& options);

std::string to_table(const ProjectStatus& status);
nlohmann::json to_json(const ProjectStatus& status);
std::string to_json_text(const ProjectStatus& status);  // invalid UTF-8 from the database replaced
std::string to_metrics(const ProjectStatus& status);

}  // namespace mw::status
