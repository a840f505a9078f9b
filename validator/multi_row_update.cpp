#include "multi_row_update.h"

#include <cstring>
#include <utility>

namespace mw::boinc {
namespace {

// Doubles compare by their bits: a column set once must get every row's own
// bits (0.0 and -0.0 are ==, but not the same stored value).
bool same_value(const DbValue& a, const DbValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    return std::memcmp(x, &y, sizeof y) == 0;
  }
  return a == b;
}

bool same_cell(const MultiRowUpdate::Cell& a, const MultiRowUpdate::Cell& b) {
  if (a.expression != b.expression || a.values.size() != b.values.size()) return false;
  for (std::size_t i = 0; i < a.values.size(); ++i)
    if (!same_value(a.values[i], b.values[i])) return false;
  return true;
}

}  // namespace

MultiRowUpdate::MultiRowUpdate(std::string table, std::vector<std::string> keys, std::vector<std::string> columns)
    : table_(std::move(table)), keys_(std::move(keys)), columns_(std::move(columns)) {}

void MultiRowUpdate::add(std::vector<DbValue> key, std::vector<Cell> cells) {
  rows_.push_back({std::move(key), std::move(cells)});
}

void MultiRowUpdate::emit(std::vector<DbStatement>& out) const {
  if (rows_.empty()) return;
  // With one key column the server evaluates `CASE id WHEN ?` (the key read
  // once per CASE, compared with each constant) and finds the rows of
  // `id IN (...)` from a sorted list; the searched form (`CASE WHEN k1 = ?
  // AND k2 = ?`, rows ORed) evaluates a whole comparison per row and column.
  // 100 host rows of 4 columns: 2.1 against 2.6 ms of server CPU.
  const bool one_key = keys_.size() == 1;
  std::string key_test;
  for (const auto& k : keys_) key_test += (key_test.empty() ? "" : " AND ") + k + " = ?";
  std::vector<DbValue> args;
  std::string sql = "UPDATE " + table_ + " SET ";
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    // A column given the same cell in every row (a workunit's need_validate,
    // most results' states) is set once rather than looked up row by row.
    bool uniform = true;
    for (const auto& row : rows_) uniform = uniform && same_cell(row.cells[c], rows_[0].cells[c]);
    if (uniform) {
      sql += (c ? ", " : "") + columns_[c] + " = " + rows_[0].cells[c].expression;
      args.insert(args.end(), rows_[0].cells[c].values.begin(), rows_[0].cells[c].values.end());
      continue;
    }
    sql += (c ? ", " : "") + columns_[c] + (one_key ? " = CASE " + keys_[0] : " = CASE");
    for (const auto& row : rows_) {
      sql += one_key ? " WHEN ? THEN " : " WHEN " + key_test + " THEN ";
      sql += row.cells[c].expression;
      args.insert(args.end(), row.key.begin(), row.key.end());
      args.insert(args.end(), row.cells[c].values.begin(), row.cells[c].values.end());
    }
    sql += " ELSE " + columns_[c] + " END";
  }
  if (one_key) {
    sql += " WHERE " + keys_[0] + " IN (" + sql_placeholders(rows_.size()) + ")";
    for (const auto& row : rows_) args.push_back(row.key[0]);
  } else {
    sql += " WHERE ";
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      sql += std::string(r ? " OR " : "") + "(" + key_test + ")";
      args.insert(args.end(), rows_[r].key.begin(), rows_[r].key.end());
    }
  }
  out.push_back({std::move(sql), std::move(args)});
}

}  // namespace mw::boinc
