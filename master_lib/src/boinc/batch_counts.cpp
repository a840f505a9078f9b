#include "boinc/batch_counts.h"

#include <string>

#include "mw/boinc/database.h"

namespace mw::boinc::detail {

namespace {

constexpr std::int64_t kAssimilateReady = 1, kAssimilateDone = 2;
constexpr std::int64_t kResultUnsent = 2, kResultInProgress = 4;

// `column` is "batch" or "appid": ours, never data.
std::map<std::int64_t, BatchCounts> count_where(Database& db, const std::string& column, std::int64_t key) {
  std::string bits;
  for (std::int64_t bit : kErrorMaskBits) bits += ", SUM((error_mask & " + std::to_string(bit) + ") <> 0)";
  std::map<std::int64_t, BatchCounts> out;
  for (const auto& row : db.query(
           "SELECT batch, COUNT(*), SUM(canonical_resultid <> 0), SUM(error_mask <> 0), SUM(need_validate <> 0), "
           "SUM(assimilate_state = ?), SUM(assimilate_state = ?), "
           "SUM(assimilate_state = ? AND error_mask = 0 AND canonical_resultid <> 0)" + bits +
           " FROM workunit WHERE " + column + " = ? GROUP BY batch",
           {kAssimilateReady, kAssimilateDone, kAssimilateDone, key})) {
    BatchCounts& c = out[row.integer(0)];
    c.workunits = row.integer(1);
    c.valid = row.integer(2);
    c.errors = row.integer(3);
    c.waiting_validation = row.integer(4);
    c.waiting_assimilation = row.integer(5);
    c.assimilated = row.integer(6);
    c.delivered = row.integer(7);
    for (std::size_t i = 0; i < kErrorMaskBits.size(); ++i) c.error_bits[i] = row.integer(8 + i);
  }
  // Only the live states: the index range then skips the finished results, usually most of them.
  for (const auto& row : db.query("SELECT batch, SUM(server_state = ?), SUM(server_state = ?) FROM result WHERE " +
                                      column + " = ? AND server_state IN (?, ?) GROUP BY batch",
                                  {kResultUnsent, kResultInProgress, key, kResultUnsent, kResultInProgress})) {
    BatchCounts& c = out[row.integer(0)];
    c.unsent_results = row.integer(1);
    c.in_progress_results = row.integer(2);
  }
  return out;
}

}  // namespace

std::map<std::int64_t, BatchCounts> count_batch(Database& db, std::int64_t batch_id) {
  return count_where(db, "batch", batch_id);
}

std::map<std::int64_t, BatchCounts> count_app_batches(Database& db, std::int64_t app_id) {
  return count_where(db, "appid", app_id);
}

}  // namespace mw::boinc::detail
