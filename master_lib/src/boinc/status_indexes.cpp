#include "boinc/status_indexes.h"

#include "mw/boinc/database.h"

namespace mw::boinc::detail {

std::vector<StatusIndex> missing_status_indexes(Database& db) {
  std::vector<StatusIndex> missing;
  for (const StatusIndex& index : kStatusIndexes) {
    // The column list is compared too: an index of our name over other columns
    // (an older mwkit's, or someone else's) would not make the counts index-only.
    auto rows = db.query("SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ', ') "
                         "FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? "
                         "AND index_name = ?",
                         {std::string(index.table), std::string(index.name)});
    if (rows.empty() || rows[0].is_null(0) || rows[0].text(0) != index.columns) missing.push_back(index);
  }
  return missing;
}

std::string add_index_statement(const StatusIndex& index) {
  return std::string("ALTER TABLE ") + index.table + " ADD INDEX IF NOT EXISTS " + index.name + " (" +
         index.columns + "), ALGORITHM=INPLACE, LOCK=NONE";
}

void add_status_indexes(Database& db) {
  for (const StatusIndex& index : missing_status_indexes(db)) {
    // Same name, other columns: replaced, or IF NOT EXISTS would keep the wrong one.
    db.execute(std::string("ALTER TABLE ") + index.table + " DROP INDEX IF EXISTS " + index.name +
               ", ALGORITHM=INPLACE, LOCK=NONE");
    db.execute(add_index_statement(index));
  }
}


}  // namespace mw::boinc::detail
