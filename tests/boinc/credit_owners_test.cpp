// mw-validator's lock order (validator/bookkeeping.h, CreditOwners): a group
// locks its hosts, then its users, then its teams, each table in id order,
// whatever order its results name them in.
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "bookkeeping.h"

namespace mw::boinc {
namespace {

DbRow row(std::vector<std::optional<std::string>> cells) { return DbRow(std::move(cells)); }
std::vector<DbValue> values(std::initializer_list<std::int64_t> ids) { return {ids.begin(), ids.end()}; }

TEST(CreditOwners, AreTheResultsHostsUsersAndTeamsAscendingOnce) {
  DbBatchResult read;
  // (host, its user, the user's team) in the order the results come.
  read.rows = {row({"40", "3", "7"}), row({"5", "1", std::nullopt}), row({"12", "3", "7"}), row({"9", "0", std::nullopt}),
               row({"7", "2", "0"})};
  const CreditOwners owners = credit_owners(read);
  EXPECT_EQ(owners.hosts, (std::vector<std::int64_t>{5, 7, 9, 12, 40}));
  EXPECT_EQ(owners.users, (std::vector<std::int64_t>{1, 2, 3})) << "user 0 is nobody";
  EXPECT_EQ(owners.teams, (std::vector<std::int64_t>{7})) << "team 0 and a user without a row are no team";
}

TEST(CreditOwners, ALockedHostOrUserNamingAnOwnerNotLockedAddsItOnce) {
  CreditOwners owners{{5, 9}, {1, 3}, {7}};
  std::vector<DbBatchResult> locked(3);
  // Host 9 went to user 2 after the plain read; user 3 moved to team 4.
  locked[0].rows = {row({"5", "1", "0", "0", "0", "0"}), row({"9", "2", "0", "0", "0", "0"})};
  locked[1].rows = {row({"1", "7", "0", "0"}), row({"3", "4", "0", "0"})};
  EXPECT_TRUE(owners.take_missing(locked));
  EXPECT_EQ(owners.users, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(owners.teams, (std::vector<std::int64_t>{4, 7}));
  EXPECT_FALSE(owners.take_missing(locked)) << "nothing more to lock";
}

TEST(CreditOwners, EachTableIsLockedInIdOrderBeforeTheRowsKeyedByIt) {
  const CreditOwners owners{{5, 9, 40}, {1, 3}, {}};
  const auto reads = bookkeeping_reads({100, 101}, owners, 1, /*credit_by_app=*/false);
  ASSERT_GE(reads.size(), 4u);
  const char* tables[] = {"host", "user"};
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(tables[i]);
    EXPECT_NE(reads[i].sql.find(std::string(" FROM ") + tables[i] + " WHERE id IN ("), std::string::npos)
        << reads[i].sql;
    EXPECT_NE(reads[i].sql.find("ORDER BY id FOR UPDATE"), std::string::npos) << reads[i].sql;
  }
  EXPECT_EQ(reads[0].values, values({5, 9, 40}));
  EXPECT_EQ(reads[1].values, values({1, 3}));
  EXPECT_NE(reads[2].sql.find("FROM team WHERE FALSE"), std::string::npos) << "no team: " << reads[2].sql;
  EXPECT_NE(reads[3].sql.find("host_app_version"), std::string::npos) << "then the hosts' statistics";
}

}  // namespace
}  // namespace mw::boinc
