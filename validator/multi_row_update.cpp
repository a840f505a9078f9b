#include "multi_row_update.h"

#include <utility>

namespace mw::boinc {

MultiRowUpdate::MultiRowUpdate(std::string table, std::vector<std::string> keys, std::vector<std::string> columns)
    : table_(std::move(table)), keys_(std::move(keys)), columns_(std::move(columns)) {}

void MultiRowUpdate::add(std::vector<DbValue> key, std::vector<Cell> cells) {
  rows_.push_back({std::move(key), std::move(cells)});
}

void MultiRowUpdate::emit(std::vector<DbStatement>& out) const {
  if (rows_.empty()) return;
  std::string key_test;
  for (const auto& k : keys_) key_test += (key_test.empty() ? "" : " AND ") + k + " = ?";
  std::vector<DbValue> args;
  std::string sql = "UPDATE " + table_ + " SET ";
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    sql += (c ? ", " : "") + columns_[c] + " = CASE";
    for (const auto& row : rows_) {
      sql += " WHEN " + key_test + " THEN " + row.cells[c].expression;
      args.insert(args.end(), row.key.begin(), row.key.end());
      args.insert(args.end(), row.cells[c].values.begin(), row.cells[c].values.end());
    }
    sql += " ELSE " + columns_[c] + " END";
  }
  sql += " WHERE ";
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    sql += std::string(r ? " OR " : "") + "(" + key_test + ")";
    args.insert(args.end(), rows_[r].key.begin(), rows_[r].key.end());
  }
  out.push_back({std::move(sql), std::move(args)});
}

}  // namespace mw::boinc
