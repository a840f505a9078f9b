// boinc/batch_counts.h — where a batch's workunits and results are, counted by
// the database: one grouped query on workunit and one on result.
// mw-work-generator status counts one batch and mw-status every batch; both
// count here, so they agree.
//
// Two ways, the same counts: with mwkit's indexes (boinc/status_indexes.h)
// each query reads a range of index entries and no row; without them (a
// project mw-project-setup has not given them yet) over BOINC's own indexes
// (wu_batch / res_batch for one batch, wu_assim's appid / res_app_state for an
// app), reading every workunit row of the batch or app.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mw/boinc/database.h"

namespace mw::boinc::detail {

// BOINC's workunit.error_mask bits, in order: 1 couldn't send, 2 too many
// errors, 4 too many success results, 8 too many results, 16 cancelled,
// 32 no canonical result.
inline constexpr std::array<std::int64_t, 6> kErrorMaskBits = {1, 2, 4, 8, 16, 32};

struct BatchCounts {
  std::int64_t workunits = 0;
  std::int64_t valid = 0;                 // a canonical result was chosen (canonical_resultid ≠ 0)
  std::int64_t errors = 0;                // error_mask ≠ 0
  std::array<std::int64_t, 6> error_bits{};  // workunits with each kErrorMaskBits bit (one may have several)
  std::int64_t waiting_validation = 0;    // need_validate ≠ 0: the validator's backlog
  std::int64_t waiting_assimilation = 0;  // assimilate_state 1 (READY): the assimilator's backlog
  std::int64_t assimilated = 0;           // assimilate_state 2 (DONE), failed ones included
  std::int64_t delivered = 0;             // assimilated with a canonical result and no error
  std::int64_t unsent_results = 0;        // result.server_state 2
  std::int64_t in_progress_results = 0;   // result.server_state 4
};

enum class CountPath {
  index,  // mwkit's indexes are all there: index-only range scans
  scan,   // they are not: BOINC's indexes, then the rows
};

// index when every one of kStatusIndexes is in the database.
CountPath count_path(Database& db);

// Counts of the workunits (and their results) of one batch (`batch_id`), or
// of every batch of the app `app_id` (batch 0: workunits outside any batch),
// keyed by batch id. Batches without workunits are absent. CountPath::index
// needs the indexes (the database refuses the query naming the one missing).
std::map<std::int64_t, BatchCounts> count_batch(Database& db, std::int64_t batch_id, CountPath path);
std::map<std::int64_t, BatchCounts> count_app_batches(Database& db, std::int64_t app_id, CountPath path);

// The counting statements of each path, as the functions above send them:
// for EXPLAIN in tests, which must see them use the index they were written for.
std::vector<DbStatement> count_app_queries(std::int64_t app_id, CountPath path);

}  // namespace mw::boinc::detail
