// boinc/batch_counts.h — where a batch's workunits and results are, counted by
// the database: one grouped query on workunit and one on result, each over an
// index BOINC's schema has (wu_batch / res_batch for one batch, wu_assim's
// appid / res_app_state for every batch of an app). mw-work-generator status
// counts one batch and mw-status every batch; both count here, so they agree.
#pragma once

#include <array>
#include <cstdint>
#include <map>

namespace mw::boinc {
class Database;
}

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

// Counts of the workunits (and their results) of one batch (`batch_id`), or
// of every batch of the app `app_id` (batch 0: workunits outside any batch),
// keyed by batch id. Batches without workunits are absent.
std::map<std::int64_t, BatchCounts> count_batch(Database& db, std::int64_t batch_id);
std::map<std::int64_t, BatchCounts> count_app_batches(Database& db, std::int64_t app_id);

}  // namespace mw::boinc::detail
