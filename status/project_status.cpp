#include "project_status.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "boinc/daemon_state.h"
#include "boinc/remote_rpc.h"
#include "boinc/status_indexes.h"
#include "mw/boinc/error_mask.h"
#include "mw/error.h"
#include "status/prometheus_text.h"
#include "util/terminal_text.h"

namespace mw::status {

namespace {

using boinc::detail::BatchCounts;
using boinc::detail::kErrorMaskBits;

// JSON and metrics names of kErrorMaskBits, in the same order.
constexpr const char* kErrorKeys[] = {"couldnt_send", "too_many_errors", "too_many_success",
                                      "too_many_total", "cancelled", "no_canonical"};
static_assert(std::size(kErrorKeys) == kErrorMaskBits.size());

constexpr const char* kOurDaemons[] = {"mw-validator", "mw-assimilator"};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The backlog's size is the batches' counts summed; its age is that of the
// waiting workunit created first (lowest id), which the daemons, taking work in
// id order, reach first: one entry of BOINC's (appid, need_validate) or
// (appid, assimilate_state) index and one row, where the oldest by mod_time
// would read every waiting row (3 s for 10^5 waiting on a 10^6-workunit project).
// `where` is ours, never data.
Backlog backlog(boinc::Database& db, std::int64_t workunits, const std::string& where, std::int64_t app_id) {
  Backlog b;
  b.workunits = workunits;
  if (workunits == 0) return b;
  auto rows = db.query("SELECT UNIX_TIMESTAMP() - UNIX_TIMESTAMP(mod_time) FROM workunit "
                       "WHERE appid = ? AND " + where + " ORDER BY id LIMIT 1",
                       {app_id});
  if (!rows.empty() && !rows[0].is_null(0)) b.oldest_age_seconds = std::max(0.0, rows[0].real(0));
  return b;
}

void add_pace(BatchStatus& b, double now) {
  const double hours = (now - b.created_at) / 3600;
  if (b.counts.assimilated == 0 || hours <= 0) return;
  b.throughput_per_hour = static_cast<double>(b.counts.assimilated) / hours;
  const auto left = static_cast<double>(std::max<std::int64_t>(0, b.counts.workunits - b.counts.assimilated));
  b.eta_seconds = left / *b.throughput_per_hour * 3600;
}

std::vector<DaemonHealth> daemons(const std::string& project_dir, const boinc::ProjectConfig& config,
                                  const CollectOptions& o, const std::string& host) {
  std::vector<DaemonHealth> out;
  for (const char* program : kOurDaemons) {
    bool listed = false;
    for (const auto& d : config.daemons) {
      if (!boinc::detail::is_app_daemon(d.cmd, program, o.app)) continue;
      listed = true;
      auto state = boinc::detail::daemon_state(project_dir, config, d, host);
      DaemonHealth h;
      h.program = program;
      h.cmd = d.cmd;
      h.running = state.running;
      h.pid = state.pid;
      h.why = state.why;
      h.log = state.log;
      h.recent_problems = boinc::detail::recent_problem_lines(state.log, o.log_lines);
      out.push_back(std::move(h));
    }
    if (!listed) {
      DaemonHealth h;
      h.program = program;
      h.why = config.config_path + " has no <daemon> running " + program + " --app " + o.app +
              " (mw-project-setup install adds it)";
      out.push_back(std::move(h));
    }
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "3 d 4 h", "2 h 5 min", "40 s": an ETA a person reads at a glance.
std::string duration_text(double s) {
  const auto t = static_cast<long long>(std::llround(s));
  if (t >= 86400) return std::to_string(t / 86400) + " d " + std::to_string(t % 86400 / 3600) + " h";
  if (t >= 3600) return std::to_string(t / 3600) + " h " + std::to_string(t % 3600 / 60) + " min";
  if (t >= 60) return std::to_string(t / 60) + " min " + std::to_string(t % 60) + " s";
  return std::to_string(t) + " s";
}

std::string utc_text(double t) {
  std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// The exposition format is UTF-8; bytes from the database may not be.
std::string valid_utf8(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    const auto c = static_cast<unsigned char>(in[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n != 0 && i + n <= in.size() && !(n == 2 && c < 0xC2);
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
    if (ok) {
      out.append(in, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}


// What the slow path costs and the one command that ends it.
std::string slow_path_text(const ProjectStatus& s) {
  std::string names;
  for (const auto& n : s.missing_indexes) names += (names.empty() ? "" : ", ") + n;
  return "batches counted by reading every workunit row of the app (slow on a big project): mwkit's indexes " +
         names + " are missing; `mw-project-setup install --project " + s.project_dir +
         "` adds them online (docs/project-status.md, \"Fast counts\")";
}

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

ProjectStatus collect_status(const std::string& project_dir, const boinc::ProjectConfig& config,
                             boinc::Database& db, const CollectOptions& o) {
  ProjectStatus s;
  s.project_dir = project_dir;
  s.app = o.app;
  s.generated_at = now_seconds();
  const auto started = std::chrono::steady_clock::now();
  auto app_rows = db.query("SELECT id FROM app WHERE name = ?", {o.app});
  if (app_rows.empty())
    throw Error(Errc::usage, "no app '" + o.app + "' in database " + config.db_name + " (table app)");
  const std::int64_t app_id = app_rows[0].integer(0);

  std::map<std::int64_t, BatchStatus> batches;
  for (const auto& row : db.query("SELECT id, name, state, create_time FROM batch WHERE app_id = ?", {app_id})) {
    BatchStatus& b = batches[row.integer(0)];
    b.id = row.integer(0);
    b.name = row.is_null(1) ? "" : row.text(1);
    b.state = boinc::detail::batch_state_name(static_cast<int>(row.integer(2)));
    b.created_at = row.real(3);
  }
  for (const auto& index : boinc::detail::missing_status_indexes(db))
    s.missing_indexes.push_back(std::string(index.table) + "." + index.name);
  s.count_path = s.missing_indexes.empty() ? boinc::detail::CountPath::index : boinc::detail::CountPath::scan;
  for (const auto& [id, counts] : boinc::detail::count_app_batches(db, app_id, s.count_path)) {
    BatchStatus& b = batches[id];
    if (b.state.empty()) {  // no batch row of this app: BOINC's "no batch" (0), or a row deleted since
      b.id = id;
      b.name = id == 0 ? "(no batch)" : "(batch " + std::to_string(id) + " has no row)";
      b.state = "none";
    }
    b.counts = counts;
  }
  std::int64_t waiting_validation = 0, waiting_assimilation = 0;
  for (const auto& [id, b] : batches) {
    waiting_validation += b.counts.waiting_validation;
    waiting_assimilation += b.counts.waiting_assimilation;
  }
  if (batches.count(0) != 0) {
    // Ids grow with create_time: the first one's is the earliest, read from one row.
    auto first = db.query("SELECT create_time FROM workunit WHERE batch = 0 AND appid = ? ORDER BY id LIMIT 1",
                          {app_id});
    if (!first.empty() && !first[0].is_null(0)) batches[0].created_at = first[0].real(0);
  }
  // = 1, not > 0: the transitioner sets 1 only (reference §2.4), and an
  // equality keeps the index's entries in id order, so LIMIT 1 reads one.
  s.validate = backlog(db, waiting_validation, "need_validate = 1", app_id);
  s.assimilate = backlog(db, waiting_assimilation, "assimilate_state = 1", app_id);
  s.query_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (auto& [id, b] : batches) {
    add_pace(b, s.generated_at);
    s.batches.push_back(std::move(b));
  }
  s.daemons = daemons(project_dir, config, o, o.host.empty() ? boinc::detail::short_hostname() : o.host);
  return s;
}

nlohmann::json to_json(const ProjectStatus& s) {
  nlohmann::json j;
  j["schema"] = kJsonSchema;
  j["generated_at"] = s.generated_at;
  j["project"] = s.project_dir;
  j["app"] = s.app;
  j["query_seconds"] = s.query_seconds;
  const bool indexed = s.count_path == boinc::detail::CountPath::index;
  j["counting"] = {{"path", indexed ? "index" : "scan"},
                   {"missing_indexes", s.missing_indexes},
                   {"fix", indexed ? "" : slow_path_text(s)}};
  j["batches"] = nlohmann::json::array();
  for (const auto& b : s.batches) {
    const BatchCounts& c = b.counts;
    nlohmann::json errors = {{"total", c.errors}};
    for (std::size_t i = 0; i < kErrorMaskBits.size(); ++i) errors[kErrorKeys[i]] = c.error_bits[i];
    j["batches"].push_back({{"id", b.id},
                            {"name", b.name},
                            {"state", b.state},
                            {"created_at", b.created_at},
                            {"workunits", c.workunits},
                            {"unsent_results", c.unsent_results},
                            {"in_progress_results", c.in_progress_results},
                            {"valid", c.valid},
                            {"waiting_validation", c.waiting_validation},
                            {"waiting_assimilation", c.waiting_assimilation},
                            {"assimilated", c.assimilated},
                            {"delivered", c.delivered},
                            {"errors", errors},
                            {"throughput_per_hour", optional_number(b.throughput_per_hour)},
                            {"eta_seconds", optional_number(b.eta_seconds)}});
  }
  auto backlog_json = [](const Backlog& b) {
    return nlohmann::json{{"workunits", b.workunits}, {"oldest_age_seconds", optional_number(b.oldest_age_seconds)}};
  };
  j["backlog"] = {{"validate", backlog_json(s.validate)}, {"assimilate", backlog_json(s.assimilate)}};
  j["daemons"] = nlohmann::json::array();
  for (const auto& d : s.daemons)
    j["daemons"].push_back({{"program", d.program},
                            {"cmd", d.cmd},
                            {"running", d.running},
                            {"pid", d.pid},
                            {"why", d.why},
                            {"log", d.log},
                            {"recent_problems", d.recent_problems}});
  return j;
}

std::string to_json_text(const ProjectStatus& s) {
  return to_json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string to_metrics(const ProjectStatus& s) {
  PrometheusText m;
  const Labels app = {{"app", valid_utf8(s.app)}};
  auto batch_labels = [&](const BatchStatus& b) {
    return Labels{{"app", s.app}, {"batch", std::to_string(b.id)}, {"name", valid_utf8(b.name)}};
  };
  auto with = [](Labels l, const std::string& k, const std::string& v) {
    l.emplace_back(k, v);
    return l;
  };
  m.family("mwkit_project_workunits", "gauge",
           "Workunits of an mwkit batch by state: total, valid (canonical result chosen), waiting_validation, "
           "waiting_assimilation, assimilated, delivered (assimilated with a result), error");
  for (const auto& b : s.batches) {
    const BatchCounts& c = b.counts;
    const std::pair<const char*, std::int64_t> states[] = {
        {"total", c.workunits},           {"valid", c.valid},
        {"waiting_validation", c.waiting_validation}, {"waiting_assimilation", c.waiting_assimilation},
        {"assimilated", c.assimilated},   {"delivered", c.delivered},
        {"error", c.errors}};
    for (const auto& [state, n] : states) m.sample("mwkit_project_workunits", with(batch_labels(b), "state", state), n);
  }
  m.family("mwkit_project_results", "gauge", "Results of an mwkit batch not yet returned: unsent, in_progress");
  for (const auto& b : s.batches) {
    m.sample("mwkit_project_results", with(batch_labels(b), "state", "unsent"), b.counts.unsent_results);
    m.sample("mwkit_project_results", with(batch_labels(b), "state", "in_progress"), b.counts.in_progress_results);
  }
  m.family("mwkit_project_workunit_errors", "gauge",
           "Failed workunits of an mwkit batch by error_mask reason (a workunit may have several)");
  for (const auto& b : s.batches)
    for (std::size_t i = 0; i < kErrorMaskBits.size(); ++i)
      m.sample("mwkit_project_workunit_errors", with(batch_labels(b), "reason", kErrorKeys[i]), b.counts.error_bits[i]);
  m.family("mwkit_project_batch_throughput_per_hour", "gauge",
           "Workunits assimilated per hour since the batch was created (absent before the first)");
  for (const auto& b : s.batches)
    if (b.throughput_per_hour) m.sample("mwkit_project_batch_throughput_per_hour", batch_labels(b), *b.throughput_per_hour);
  m.family("mwkit_project_batch_eta_seconds", "gauge",
           "Seconds until the batch's last workunit is assimilated at its pace so far (absent before the first)");
  for (const auto& b : s.batches)
    if (b.eta_seconds) m.sample("mwkit_project_batch_eta_seconds", batch_labels(b), *b.eta_seconds);
  m.family("mwkit_project_backlog_workunits", "gauge",
           "Workunits waiting for mw-validator (stage validate) or mw-assimilator (stage assimilate)");
  m.sample("mwkit_project_backlog_workunits", with(app, "stage", "validate"), s.validate.workunits);
  m.sample("mwkit_project_backlog_workunits", with(app, "stage", "assimilate"), s.assimilate.workunits);
  m.family("mwkit_project_backlog_oldest_age_seconds", "gauge",
           "Age of the oldest waiting workunit of a stage (since its row last changed); 0 when none waits");
  m.sample("mwkit_project_backlog_oldest_age_seconds", with(app, "stage", "validate"),
           s.validate.oldest_age_seconds.value_or(0));
  m.sample("mwkit_project_backlog_oldest_age_seconds", with(app, "stage", "assimilate"),
           s.assimilate.oldest_age_seconds.value_or(0));
  m.family("mwkit_project_daemon_up", "gauge",
           "1 when the daemon holds its lock in pid_HOST/ (as bin/status judges), else 0");
  for (const auto& d : s.daemons)
    m.sample("mwkit_project_daemon_up", with(with(app, "program", d.program), "cmd", valid_utf8(d.cmd)), d.running ? 1 : 0);
  m.family("mwkit_project_daemon_recent_problems", "gauge",
           "[CRITICAL] and [warning] lines among the last lines of the daemon's log that mw-status reads");
  for (const auto& d : s.daemons)
    m.sample("mwkit_project_daemon_recent_problems", with(with(app, "program", d.program), "cmd", valid_utf8(d.cmd)),
             static_cast<double>(d.recent_problems.size()));
  m.family("mwkit_project_status_indexed", "gauge",
           "1 when batches are counted from mwkit's indexes, 0 when by reading every workunit row of the app "
           "(mw-project-setup install adds the indexes)");
  m.sample("mwkit_project_status_indexed", app, s.count_path == boinc::detail::CountPath::index ? 1 : 0);
  m.family("mwkit_project_status_query_seconds", "gauge", "Seconds the database took to answer this status");
  m.sample("mwkit_project_status_query_seconds", app, s.query_seconds);
  return m.str();
}

std::string to_table(const ProjectStatus& s) {
  std::ostringstream out;
  const auto safe = [](const std::string& t) { return mw::detail::terminal_safe(t); };
  out << "mwkit app '" << safe(s.app) << "' in " << safe(s.project_dir) << " at " << utc_text(s.generated_at) << "\n\n";
  std::vector<std::vector<std::string>> rows = {{"batch", "name", "state", "workunits", "unsent", "in progress",
                                                 "valid", "errors", "assimilated", "delivered", "wu/h", "ETA"}};
  for (const auto& b : s.batches) {
    const BatchCounts& c = b.counts;
    std::string name = safe(b.name);
    if (name.size() > 32) name = name.substr(0, 31) + "~";
    rows.push_back({std::to_string(b.id), name, b.state, std::to_string(c.workunits), std::to_string(c.unsent_results),
                    std::to_string(c.in_progress_results), std::to_string(c.valid), std::to_string(c.errors),
                    std::to_string(c.assimilated), std::to_string(c.delivered),
                    b.throughput_per_hour ? fixed(*b.throughput_per_hour, 1) : "-",
                    b.eta_seconds ? duration_text(*b.eta_seconds) : "-"});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const std::string pad(width[i] - r[i].size(), ' ');
      line += (i == 1 || i == 2) ? r[i] + pad : pad + r[i];  // text left, numbers right
      if (i + 1 < r.size()) line += "  ";
    }
    out << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  }
  if (s.batches.empty()) out << "(no batches)\n";
  for (const auto& b : s.batches) {
    if (b.counts.errors == 0) continue;
    out << "errors of batch " << b.id << ":";
    const char* sep = " ";
    for (std::size_t i = 0; i < kErrorMaskBits.size(); ++i) {
      if (b.counts.error_bits[i] == 0) continue;
      out << sep << boinc::describe_error_mask(kErrorMaskBits[i]) << " " << b.counts.error_bits[i];
      sep = ", ";
    }
    out << "\n";
  }
  auto backlog_text = [](const Backlog& b) {
    return std::to_string(b.workunits) + " workunit(s)" +
           (b.oldest_age_seconds ? ", oldest waiting " + duration_text(*b.oldest_age_seconds) : "");
  };
  out << "\nwaiting for validation: " << backlog_text(s.validate) << "\n"
      << "waiting for assimilation: " << backlog_text(s.assimilate) << "\n\n";
  for (const auto& d : s.daemons) {
    const std::string what = d.cmd.empty() ? d.program : safe(d.cmd);
    if (d.running) out << "running      " << what << " (pid " << d.pid << ")\n";
    else out << "NOT RUNNING  " << what << ": " << safe(d.why) << "\n";
    for (const auto& line : d.recent_problems) out << "    " << safe(line) << "\n";
  }
  out << "\n(database answered in " << fixed(s.query_seconds, 3) << " s)\n";
  if (s.count_path == boinc::detail::CountPath::scan) out << "SLOW PATH: " << safe(slow_path_text(s)) << "\n";
  return out.str();
}

}  // namespace mw::status
