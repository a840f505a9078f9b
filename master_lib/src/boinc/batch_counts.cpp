#include "boinc/batch_counts.h"

#include "boinc/status_indexes.h"

namespace mw::boinc::detail {

namespace {

constexpr std::int64_t kAssimilateReady = 1, kAssimilateDone = 2;
constexpr std::int64_t kResultUnsent = 2, kResultInProgress = 4;

// FORCE INDEX: the counts must stay index-only even when the optimizer's
// statistics would send it to BOINC's narrower wu_assim / res_app_state and
// then to the rows.
std::string hint(CountPath path, const char* index) {
  return path == CountPath::index ? std::string(" FORCE INDEX (") + index + ")" : "";
}

// `where` (ours, never data) selects the workunits and results to count and
// takes `keys` as its values; the workunit and the result query, in that order.
// Grouped by the index's own columns, so the server streams the groups in index
// order and evaluates two aggregates per entry; the few rows per batch (one
// per combination of states) are summed here.
std::vector<DbStatement> queries(CountPath path, const std::string& where, const std::vector<DbValue>& keys) {
  DbStatement wu{"SELECT batch, assimilate_state, need_validate, error_mask, COUNT(*), SUM(canonical_resultid <> 0) "
                 "FROM workunit" + hint(path, kStatusIndexes[0].name) + " WHERE " + where +
                 " GROUP BY batch, assimilate_state, need_validate, error_mask",
                 keys};
  // Only the live states: the index range then skips the finished results, usually most of them.
  DbStatement res{"SELECT server_state, batch, COUNT(*) FROM result" + hint(path, kStatusIndexes[1].name) +
                      " WHERE server_state IN (?, ?) AND " + where + " GROUP BY server_state, batch",
                  {kResultUnsent, kResultInProgress}};
  res.values.insert(res.values.end(), keys.begin(), keys.end());
  return {wu, res};
}

std::map<std::int64_t, BatchCounts> run(Database& db, const std::vector<DbStatement>& q) {
  std::map<std::int64_t, BatchCounts> out;
  for (const auto& row : db.query(q.at(0).sql, q.at(0).values)) {
    BatchCounts& c = out[row.integer(0)];
    const std::int64_t assimilate_state = row.integer(1), need_validate = row.integer(2), error_mask = row.integer(3);
    const std::int64_t n = row.integer(4), with_canonical = row.integer(5);
    c.workunits += n;
    c.valid += with_canonical;
    if (error_mask != 0) c.errors += n;
    for (std::size_t i = 0; i < kErrorMaskBits.size(); ++i)
      if ((error_mask & kErrorMaskBits[i]) != 0) c.error_bits[i] += n;
    if (need_validate != 0) c.waiting_validation += n;
    if (assimilate_state == kAssimilateReady) c.waiting_assimilation += n;
    if (assimilate_state == kAssimilateDone) c.assimilated += n;
    if (assimilate_state == kAssimilateDone && error_mask == 0) c.delivered += with_canonical;
  }
  for (const auto& row : db.query(q.at(1).sql, q.at(1).values)) {
    BatchCounts& c = out[row.integer(1)];
    (row.integer(0) == kResultUnsent ? c.unsent_results : c.in_progress_results) += row.integer(2);
  }
  return out;
}

}  // namespace

CountPath count_path(Database& db) {
  return missing_status_indexes(db).empty() ? CountPath::index : CountPath::scan;
}

std::vector<DbStatement> count_app_queries(std::int64_t app_id, CountPath path) {
  return queries(path, "appid = ?", {app_id});
}

std::map<std::int64_t, BatchCounts> count_app_batches(Database& db, std::int64_t app_id, CountPath path) {
  return run(db, count_app_queries(app_id, path));
}

std::map<std::int64_t, BatchCounts> count_batch(Database& db, std::int64_t batch_id, CountPath path) {
  if (path == CountPath::scan) return run(db, queries(path, "batch = ?", {batch_id}));
  // Our indexes lead with appid: one range (appid, batch) per app that has
  // workunits, found by a loose scan of the index's first column.
  std::string in;
  std::vector<DbValue> keys;
  for (const auto& row : db.query("SELECT DISTINCT appid FROM workunit" + hint(path, kStatusIndexes[0].name))) {
    in += in.empty() ? "?" : ", ?";
    keys.emplace_back(row.integer(0));
  }
  if (keys.empty()) return {};
  keys.emplace_back(batch_id);
  return run(db, queries(path, "appid IN (" + in + ") AND batch = ?", keys));
}

}  // namespace mw::boinc::detail
