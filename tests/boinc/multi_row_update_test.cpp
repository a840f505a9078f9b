// validator/multi_row_update.*: the statement mw-validator writes a group's
// rows of one table with. What the rows end up holding is checked against
// libsched by ValidatorParityTest; here, the shape that keeps the statement
// cheap and the cases where a shortcut would give a row another row's value.
#include <gtest/gtest.h>

#include "multi_row_update.h"

namespace {

using mw::boinc::DbStatement;
using mw::boinc::DbValue;
using mw::boinc::MultiRowUpdate;
using mw::boinc::value;

DbStatement only(const MultiRowUpdate& update) {
  std::vector<DbStatement> out;
  update.emit(out);
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? DbStatement{} : out[0];
}

TEST(ValidatorMultiRowUpdateTest, AColumnEqualInEveryRowIsSetOnceTheOthersPerId) {
  MultiRowUpdate u("result", {"id"}, {"validate_state", "granted_credit"});
  u.add({std::int64_t{7}}, {value(std::int64_t{1}), value(2.5)});
  u.add({std::int64_t{9}}, {value(std::int64_t{1}), value(3.5)});
  const DbStatement s = only(u);
  EXPECT_EQ(s.sql,
            "UPDATE result SET validate_state = ?, granted_credit = CASE id WHEN ? THEN ? WHEN ? THEN ? "
            "ELSE granted_credit END WHERE id IN (?, ?)");
  const std::vector<DbValue> args = {std::int64_t{1}, std::int64_t{7}, 2.5, std::int64_t{9}, 3.5,
                                     std::int64_t{7}, std::int64_t{9}};
  EXPECT_EQ(s.values, args);
}

TEST(ValidatorMultiRowUpdateTest, SameValuesUnderDifferentExpressionsAreNotOneCell) {
  MultiRowUpdate u("workunit", {"id"}, {"error_mask"});
  u.add({std::int64_t{1}}, {{"error_mask | ?", {std::int64_t{0}}}});
  u.add({std::int64_t{2}}, {value(std::int64_t{0})});
  EXPECT_EQ(only(u).sql, "UPDATE workunit SET error_mask = CASE id WHEN ? THEN error_mask | ? WHEN ? THEN ? "
                         "ELSE error_mask END WHERE id IN (?, ?)");
}

TEST(ValidatorMultiRowUpdateTest, ZeroAndNegativeZeroAreDifferentValues) {
  MultiRowUpdate u("host", {"id"}, {"expavg_credit"});
  u.add({std::int64_t{1}}, {value(0.0)});
  u.add({std::int64_t{2}}, {value(-0.0)});
  EXPECT_NE(only(u).sql.find("CASE id"), std::string::npos);
}

TEST(ValidatorMultiRowUpdateTest, AKeyOfTwoColumnsIsTestedWhole) {
  MultiRowUpdate u("host_app_version", {"host_id", "app_version_id"}, {"et_n"});
  u.add({std::int64_t{1}, std::int64_t{2}}, {value(1.0)});
  u.add({std::int64_t{3}, std::int64_t{4}}, {value(2.0)});
  const DbStatement s = only(u);
  EXPECT_EQ(s.sql,
            "UPDATE host_app_version SET et_n = CASE WHEN host_id = ? AND app_version_id = ? THEN ? "
            "WHEN host_id = ? AND app_version_id = ? THEN ? ELSE et_n END WHERE (host_id = ? AND app_version_id = ?) "
            "OR (host_id = ? AND app_version_id = ?)");
  EXPECT_EQ(s.values.size(), 10u);
}

TEST(ValidatorMultiRowUpdateTest, NoRowsNoStatement) {
  std::vector<DbStatement> out;
  MultiRowUpdate("host", {"id"}, {"total_credit"}).emit(out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
