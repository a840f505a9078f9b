#include "mw/boinc/work_creator.h"

#include <sys/stat.h>

#include <charconv>
#include <climits>
#include <cstdio>
#include <variant>
#include <future>
#include <memory>
#include <ctime>

#include "boinc/batch_counts.h"
#include "mw/error.h"

namespace mw::boinc {
namespace {

// BOINC states and bits this file writes (see BOINC's boinc_db_types.h).
constexpr int kBatchInit = 0, kBatchInProgress = 1, kBatchAborted = 3, kBatchRetired = 4;
constexpr int kResultUnsent = 2, kResultOver = 5;
constexpr int kOutcomeDidntNeed = 5;
constexpr int kWuErrorCancelled = 16;
constexpr int kAssimilateDone = 2;

// Workunit columns in BOINC's order, without id and mod_time. The ten state
// columns every new workunit starts with at 0 are literals in the statement;
// the rest are bound.
constexpr const char* kWorkunitColumns =
    "create_time, appid, name, xml_doc, batch, rsc_fpops_est, rsc_fpops_bound, rsc_memory_bound, "
    "rsc_disk_bound, need_validate, canonical_resultid, canonical_credit, transition_time, "
    "delay_bound, error_mask, file_delete_state, assimilate_state, hr_class, opaque, min_quorum, "
    "target_nresults, max_error_results, max_total_results, max_success_results, "
    "result_template_file, priority, rsc_bandwidth_bound, fileset_id, app_version_id, "
    "transitioner_flags, size_class, keywords, app_version_num";
constexpr const char* kWorkunitRow =
    "(?,?,?,?,?,?,?,?,?,0,0,?,?,?,0,0,0,0,0,?,?,?,?,?,?,?,?,0,0,0,?,?,?)";
constexpr std::size_t kBoundPerRow = 23;

std::string insert_sql(std::size_t rows) {
  std::string sql = "INSERT INTO workunit (";
  sql += kWorkunitColumns;
  sql += ") VALUES ";
  sql.reserve(sql.size() + rows * (std::char_traits<char>::length(kWorkunitRow) + 1));
  for (std::size_t i = 0; i < rows; ++i) {
    if (i) sql += ',';
    sql += kWorkunitRow;
  }
  return sql;
}

// The same rows for LOAD DATA LOCAL INFILE: bound columns listed, the zero
// state columns set.
constexpr const char* kLoadWorkunits =
    "LOAD DATA LOCAL INFILE 'mw-workunits' INTO TABLE workunit CHARACTER SET utf8mb4 "
    "(create_time, appid, name, xml_doc, batch, rsc_fpops_est, rsc_fpops_bound, rsc_memory_bound, "
    "rsc_disk_bound, canonical_credit, transition_time, delay_bound, min_quorum, target_nresults, "
    "max_error_results, max_total_results, max_success_results, result_template_file, priority, "
    "rsc_bandwidth_bound, size_class, keywords, app_version_num) "
    "SET need_validate = 0, canonical_resultid = 0, error_mask = 0, file_delete_state = 0, "
    "assimilate_state = 0, hr_class = 0, opaque = 0, fileset_id = 0, app_version_id = 0, "
    "transitioner_flags = 0";

// Rows of bound values (kBoundPerRow each) as LOAD DATA text.
std::string load_text(const std::vector<DbValue>& values) {
  std::string text;
  text.reserve(values.size() * 24);
  char number[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    const DbValue& v = values[i];
    if (std::holds_alternative<std::nullptr_t>(v)) {
      text += "\\N";
    } else if (auto* n = std::get_if<std::int64_t>(&v)) {
      text += std::to_string(*n);
    } else if (auto* d = std::get_if<double>(&v)) {
      // The shortest text that reads back as the same double (snprintf's
      // %.17g also round-trips, at several times the cost).
      const auto written = std::to_chars(number, number + sizeof number, *d);
      text.append(number, written.ptr);
    } else {
      escape_load_field(text, std::get<std::string>(v));
    }
    text += (i + 1) % kBoundPerRow == 0 ? '\n' : '\t';
  }
  return text;
}

// The template's <workunit> numbers override the caller's, as in BOINC.
WorkunitSettings apply_template(WorkunitSettings s, const TemplateWorkunitValues& v) {
  if (v.rsc_fpops_est) s.rsc_fpops_est = *v.rsc_fpops_est;
  if (v.rsc_fpops_bound) s.rsc_fpops_bound = *v.rsc_fpops_bound;
  if (v.rsc_memory_bound) s.rsc_memory_bound = *v.rsc_memory_bound;
  if (v.rsc_bandwidth_bound) s.rsc_bandwidth_bound = *v.rsc_bandwidth_bound;
  if (v.rsc_disk_bound) s.rsc_disk_bound = *v.rsc_disk_bound;
  if (v.delay_bound) s.delay_bound = *v.delay_bound;
  if (v.min_quorum) s.min_quorum = *v.min_quorum;
  if (v.target_nresults) s.target_nresults = *v.target_nresults;
  if (v.max_error_results) s.max_error_results = *v.max_error_results;
  if (v.max_total_results) s.max_total_results = *v.max_total_results;
  if (v.max_success_results) s.max_success_results = *v.max_success_results;
  if (v.size_class) s.size_class = *v.size_class;
  return s;
}

bool is_duplicate_key(const Error& e) {
  return std::string(e.what()).find("Duplicate entry") != std::string::npos;
}

}  // namespace

WorkCreator::WorkCreator(ProjectConfig config, Database& db, std::string app_name,
                         InputTemplate input_template, std::string result_template)
    : config_(std::move(config)),
      db_(db),
      app_name_(std::move(app_name)),
      template_(std::move(input_template)),
      result_template_(std::move(result_template)) {
  auto rows = db_.query("SELECT id FROM app WHERE name = ?", {app_name_});
  if (rows.empty())
    throw Error(Errc::usage, "app '" + app_name_ + "' is not in the app table of " + config_.db_name +
                                 " (register it first, e.g. with mw-project-setup)");
  app_id_ = rows[0].integer(0);
  if (result_template_.empty() || result_template_.front() == '/' || result_template_.size() > 63)
    throw Error(Errc::usage, "result template '" + result_template_ +
                                 "' must be a path relative to the project directory of at most 63 "
                                 "characters (BOINC's result_template_file)");
  const std::string path = config_.project_dir + "/" + result_template_;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(Errc::io, "result template '" + path + "' does not exist; the transitioner reads it "
                                                       "for every result it creates");
}

std::int64_t WorkCreator::create_batch(const std::string& name, int user_id,
                                       const std::string& description, double expire_time) {
  if (name.size() > 255) throw Error(Errc::usage, "batch name is longer than 255 characters");
  db_.execute(
      "INSERT INTO batch (user_id, create_time, logical_start_time, logical_end_time, "
      "est_completion_time, njobs, fraction_done, nerror_jobs, state, completion_time, "
      "credit_estimate, credit_canonical, credit_total, name, app_id, project_state, description, "
      "expire_time) VALUES (?, ?, 0, 0, 0, 0, 0, 0, ?, 0, 0, 0, 0, ?, ?, 0, ?, ?)",
      {std::int64_t{user_id}, std::int64_t(std::time(nullptr)), std::int64_t{kBatchInit}, name,
       app_id_, description, expire_time});
  return static_cast<std::int64_t>(db_.last_insert_id());
}

void WorkCreator::insert_rows(const std::vector<DbValue>& values, std::size_t rows) {
  const std::string taken = "a workunit name is already taken (names must be unique in the project): ";
  if (use_load_data_) {
    std::uint64_t loaded = 0;
    bool refused = false;
    try {
      loaded = db_.load_data_local(kLoadWorkunits, load_text(values));
    } catch (const Error& e) {
      // A server with local_infile off: INSERT from now on (same rows).
      const std::string why = e.what();
      if (why.find("not allowed") == std::string::npos && why.find("disabled") == std::string::npos) throw;
      refused = true;
      use_load_data_ = false;
    }
    if (!refused) {
      if (loaded == rows) return;
      // With LOCAL the server skips a duplicate with a warning: say which.
      std::string detail = std::to_string(rows - loaded) + " of " + std::to_string(rows) + " rows refused";
      for (const DbRow& w : db_.query("SHOW WARNINGS LIMIT 3")) detail += "; " + w.text(2);
      throw Error(Errc::usage, taken + detail);
    }
  }
  try {
    db_.execute(insert_sql(rows), values);
  } catch (const Error& e) {
    if (!is_duplicate_key(e)) throw;
    throw Error(Errc::usage, taken + e.what());
  }
}

std::size_t WorkCreator::submit(std::int64_t batch_id, const WorkunitSettings& settings,
                                const JobSource& next, Stager* stager, std::size_t rows_per_insert) {
  if (rows_per_insert == 0) rows_per_insert = 1;
  if (batch_id != 0) {
    auto rows = db_.query("SELECT state, app_id FROM batch WHERE id = ?", {batch_id});
    if (rows.empty()) throw Error(Errc::usage, "batch " + std::to_string(batch_id) + " does not exist");
    const auto state = rows[0].integer(0);
    if (state != kBatchInit && state != kBatchInProgress)
      throw Error(Errc::usage, "batch " + std::to_string(batch_id) +
                                   " is closed (state " + std::to_string(state) + ")");
  }
  const std::int64_t now = std::time(nullptr);
  std::size_t created = 0;
  std::vector<DbValue> values;
  values.reserve(rows_per_insert * kBoundPerRow);
  std::size_t rows_in_chunk = 0;

  // While the server inserts one chunk (on a helper thread: the connection is
  // used by nobody else meanwhile), this thread stages and prepares the next.
  std::future<void> inserting;
  auto wait_for_insert = [&] {
    if (inserting.valid()) inserting.get();  // rethrows the insert's error
  };
  auto insert_chunk = [&] {
    if (rows_in_chunk == 0) return;
    wait_for_insert();
    auto chunk = std::make_shared<std::vector<DbValue>>(std::move(values));
    const std::size_t rows = rows_in_chunk;
    inserting = std::async(std::launch::async, [this, chunk, rows] { insert_rows(*chunk, rows); });
    created += rows;
    values = std::vector<DbValue>();
    values.reserve(rows_per_insert * kBoundPerRow);
    rows_in_chunk = 0;
  };

  try {
    db_.transaction([&] {
      // Whatever ends this body, the connection must be ours again before the
      // transaction commits or rolls back.
      struct Join {
        std::future<void>& f;
        ~Join() {
          if (f.valid()) f.wait();
        }
      } join{inserting};
      JobSpec job;
      while (true) {
        job = JobSpec{};
        if (!next(job)) break;
        if (!valid_physical_name(job.name) || job.name.size() > 120)
          throw Error(Errc::usage, "workunit name '" + job.name + "' is not valid: use 1-120 characters "
                                   "of [A-Za-z0-9._-], not starting with '.', without '..'");
        WorkunitDoc doc = make_workunit_doc(job.input_template ? *job.input_template : template_,
                                            job.files, config_, job.command_line, job.additional_xml);
        WorkunitSettings s =
            resolve_replication(apply_template(job.settings ? *job.settings : settings, doc.values));
        check_workunit_settings(s, job.name);
        const std::int64_t batch = doc.values.batch ? *doc.values.batch : batch_id;
        values.insert(values.end(),
                      {now, app_id_, job.name, std::move(doc.xml_doc), batch, s.rsc_fpops_est,
                       s.rsc_fpops_bound, s.rsc_memory_bound, s.rsc_disk_bound, s.canonical_credit,
                       now, std::int64_t{s.delay_bound}, std::int64_t{s.min_quorum},
                       std::int64_t{s.target_nresults}, std::int64_t{s.max_error_results},
                       std::int64_t{s.max_total_results}, std::int64_t{s.max_success_results},
                       result_template_, std::int64_t{s.priority}, s.rsc_bandwidth_bound,
                       std::int64_t{s.size_class}, s.keywords, std::int64_t{s.app_version_num}});
        if (++rows_in_chunk == rows_per_insert) insert_chunk();
      }
      insert_chunk();
      // Files durable and in place before the commit makes rows refer to
      // them — made so while the server takes the last rows (the stager does
      // not use the connection; a failed insert still ends in discard()).
      if (stager) stager->commit();
      wait_for_insert();
      if (batch_id != 0 && created > 0)
        db_.execute("UPDATE batch SET njobs = njobs + ?, state = ? WHERE id = ?",
                    {std::int64_t(created), std::int64_t{kBatchInProgress}, batch_id});
    });
  } catch (...) {
    if (stager) stager->discard();
    throw;
  }
  if (stager) stager->forget();
  return created;
}

std::size_t WorkCreator::submit(std::int64_t batch_id, const WorkunitSettings& settings,
                                const std::vector<JobSpec>& jobs, Stager* stager) {
  std::size_t i = 0;
  return submit(
      batch_id, settings,
      [&](JobSpec& job) {
        if (i == jobs.size()) return false;
        job = jobs[i++];
        return true;
      },
      stager);
}

BatchInfo WorkCreator::batch_info(std::int64_t batch_id) {
  auto rows = db_.query("SELECT id, name, state, njobs FROM batch WHERE id = ?", {batch_id});
  if (rows.empty()) throw Error(Errc::usage, "batch " + std::to_string(batch_id) + " does not exist");
  BatchInfo info;
  info.id = rows[0].integer(0);
  info.name = rows[0].text(1);
  info.state = static_cast<int>(rows[0].integer(2));
  info.njobs = static_cast<int>(rows[0].integer(3));
  const detail::BatchCounts counts = detail::count_batch(db_, batch_id, detail::count_path(db_))[batch_id];
  info.nfinished = static_cast<int>(counts.assimilated);
  info.nerrors = static_cast<int>(counts.errors);
  info.nunsent_results = static_cast<int>(counts.unsent_results);
  info.nin_progress_results = static_cast<int>(counts.in_progress_results);
  return info;
}

std::size_t WorkCreator::cancel_where(const char* column, const DbValue& key) {
  const std::string col = column;  // "batch" or "name": ours, never data
  db_.execute(
      "UPDATE result r JOIN workunit w ON r.workunitid = w.id SET r.server_state = ?, r.outcome = ? "
      "WHERE w." + col + " = ? AND r.server_state = ?",
      {std::int64_t{kResultOver}, std::int64_t{kOutcomeDidntNeed}, key, std::int64_t{kResultUnsent}});
  // Assimilated workunits are finished; marking them cancelled would only
  // confuse whoever reads their results.
  return db_.execute(
      "UPDATE workunit SET error_mask = error_mask | ?, transition_time = ? "
      "WHERE " + col + " = ? AND assimilate_state <> ? AND (error_mask & ?) = 0",
      {std::int64_t{kWuErrorCancelled}, std::int64_t(std::time(nullptr)), key,
       std::int64_t{kAssimilateDone}, std::int64_t{kWuErrorCancelled}});
}

std::size_t WorkCreator::close_batch(std::int64_t batch_id, int new_state) {
  std::size_t cancelled = 0;
  db_.transaction([&] {
    auto rows = db_.query("SELECT state FROM batch WHERE id = ? FOR UPDATE", {batch_id});
    if (rows.empty()) throw Error(Errc::usage, "batch " + std::to_string(batch_id) + " does not exist");
    cancelled = cancel_where("batch", batch_id);
    // A retired batch stays retired.
    db_.execute("UPDATE batch SET state = ? WHERE id = ? AND state <> ?",
                {std::int64_t{new_state}, batch_id, std::int64_t{kBatchRetired}});
  });
  return cancelled;
}

std::size_t WorkCreator::cancel_batch(std::int64_t batch_id) { return close_batch(batch_id, kBatchAborted); }

std::size_t WorkCreator::retire_batch(std::int64_t batch_id) { return close_batch(batch_id, kBatchRetired); }

bool WorkCreator::cancel_workunit(const std::string& name) {
  bool cancelled = false;
  db_.transaction([&] { cancelled = cancel_where("name", name) == 1; });
  return cancelled;
}

void WorkCreator::discard_batch_if_empty(std::int64_t batch_id) noexcept {
  try {
    db_.execute("DELETE FROM batch WHERE id = ? AND njobs = 0", {batch_id});
  } catch (...) {
    // Best effort: an empty batch row is harmless, and the caller is already
    // reporting the error that brought it here.
  }
}

std::optional<std::int64_t> WorkCreator::find_batch(const std::string& name) {
  auto rows = db_.query("SELECT id FROM batch WHERE name = ? ORDER BY id DESC LIMIT 1", {name});
  if (rows.empty()) return std::nullopt;
  return rows[0].integer(0);
}

}  // namespace mw::boinc
