// validator/multi_row_update.h — one UPDATE statement writing several rows
// of a table, each with its own values: every column is set to
// CASE id WHEN <row 1's id> THEN <its expression> ... END (with a key of
// several columns, CASE WHEN <key of row 1> THEN ...). A group of
// workunits' rows of one table then cost the server one statement rather than
// one each (statement overhead, not the rows, is most of a small UPDATE's cost).
#pragma once

#include <string>
#include <vector>

#include "mw/boinc/database.h"

namespace mw::boinc {

class MultiRowUpdate {
 public:
  struct Cell {
    std::string expression;  // SQL with ? placeholders
    std::vector<DbValue> values;
  };
  // `keys` name the columns identifying a row (ANDed), `columns` those set.
  MultiRowUpdate(std::string table, std::vector<std::string> keys, std::vector<std::string> columns);

  // One row: its key values and one cell per column, in the constructor's order.
  void add(std::vector<DbValue> key, std::vector<Cell> cells);
  // Appends the statement to `out` (nothing without rows).
  void emit(std::vector<DbStatement>& out) const;

 private:
  struct Row {
    std::vector<DbValue> key;
    std::vector<Cell> cells;
  };
  std::string table_;
  std::vector<std::string> keys_, columns_;
  std::vector<Row> rows_;
};

// A cell of one value.
inline MultiRowUpdate::Cell value(DbValue v) { return {"?", {std::move(v)}}; }

}  // namespace mw::boinc
