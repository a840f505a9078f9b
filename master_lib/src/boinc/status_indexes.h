// boinc/status_indexes.h — the secondary indexes mwkit adds to BOINC's
// workunit and result tables so that counting a batch (boinc/batch_counts.h)
// reads index entries only, never the rows (docs/project-status.md, "Fast
// counts"). BOINC's own indexes cover the backlogs (wu_val, wu_assim) but not
// "valid / failed / delivered per batch": without ours, counting an app's
// batches reads every workunit row of the app (~23 s at 10^6 workunits).
//
// They are named mw_*, added by mw-project-setup install online (InnoDB
// builds them while the daemons keep writing), reported by `check` when
// missing, and kept by `uninstall` (docs/project-status.md gives the DROP
// statements).
#pragma once

#include <string>
#include <vector>

namespace mw::boinc {
class Database;
}

namespace mw::boinc::detail {

struct StatusIndex {
  const char* table;
  const char* name;
  const char* columns;  // in index order
};

// Each counting query's WHERE is a prefix of one of these and every column it
// reads is in it (InnoDB appends the primary key to every secondary index).
inline constexpr StatusIndex kStatusIndexes[] = {
    {"workunit", "mw_wu_batch_state", "appid, batch, assimilate_state, need_validate, error_mask, canonical_resultid"},
    {"result", "mw_res_batch_state", "appid, server_state, batch"},
};

// The mwkit indexes the project's database lacks (read from
// information_schema, so a read-only account can ask).
std::vector<StatusIndex> missing_status_indexes(Database& db);

// Adds the missing ones, online (ALGORITHM=INPLACE, LOCK=NONE: readers and
// writers go on while InnoDB builds them). Adding one that exists does nothing.
void add_status_indexes(Database& db);

// "ALTER TABLE workunit ADD INDEX ..." as add_status_indexes runs it: for
// messages and docs, so they name the exact statement.
std::string add_index_statement(const StatusIndex& index);

}  // namespace mw::boinc::detail
