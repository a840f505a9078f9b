// mw::boinc::Database against a private MariaDB: bound values of every kind,
// long blobs, transactions, errors that name what failed, and reconnecting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "mw/boinc/database.h"
#include "mw/error.h"
#include "support/private_mariadb.h"
#include "support/test_support.h"

namespace mw::boinc {
namespace {

using ::testing::HasSubstr;
using test::error_of;

class DatabaseTest : public ::testing::Test {
 protected:
  test::PrivateMariaDb& server = test::PrivateMariaDb::shared();
  std::string db_name = "t_database";

  void SetUp() override {
    server.create_database(db_name);
    server.connect(db_name).execute(
        "CREATE TABLE item (id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL,"
        " weight DOUBLE, count BIGINT, body MEDIUMBLOB, UNIQUE(name))");
  }

  DbParams params() const {
    DbParams p;
    p.socket = server.socket_path();
    p.user = server.user();
    p.password = server.password();
    p.database = db_name;
    return p;
  }
};

TEST_F(DatabaseTest, BoundValuesRoundTrip) {
  Database db(params());
  const std::string tricky = "O'Brien\"; DROP TABLE item; --";
  std::string binary("a\0b\xff\n", 5);
  EXPECT_EQ(db.execute("INSERT INTO item (name, weight, count, body) VALUES (?, ?, ?, ?)",
                       {tricky, 2.5, std::int64_t{-7}, binary}),
            1u);
  const auto first = db.last_insert_id();
  db.execute("INSERT INTO item (name, weight, count, body) VALUES (?, ?, ?, ?)",
             {std::string("second"), nullptr, std::int64_t{1} << 40, nullptr});
  auto rows = db.query("SELECT id, name, weight, count, body FROM item ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(static_cast<std::uint64_t>(rows[0].integer(0)), first);
  EXPECT_EQ(rows[0].text(1), tricky);
  EXPECT_DOUBLE_EQ(rows[0].real(2), 2.5);
  EXPECT_EQ(rows[0].integer(3), -7);
  EXPECT_EQ(rows[0].text(4), binary);
  EXPECT_TRUE(rows[1].is_null(2));
  EXPECT_TRUE(rows[1].is_null(4));
  EXPECT_EQ(rows[1].integer(3), std::int64_t{1} << 40);
  EXPECT_THAT(error_of([&] { rows[1].text(2); }, Errc::database), HasSubstr("NULL"));
  EXPECT_THAT(error_of([&] { rows[0].integer(1); }, Errc::database), HasSubstr("not an integer"));
}

TEST_F(DatabaseTest, QueryWithParametersAndLongValues) {
  Database db(params());
  std::string big(300000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  db.execute("INSERT INTO item (name, body) VALUES (?, ?)", {std::string("big"), big});
  auto rows = db.query("SELECT body FROM item WHERE name = ?", {std::string("big")});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].text(0), big);
  EXPECT_TRUE(db.query("SELECT body FROM item WHERE name = ?", {std::string("none")}).empty());
}

TEST_F(DatabaseTest, AffectedRowsCountMatchedRowsLikeBoinc) {
  Database db(params());
  db.execute("INSERT INTO item (name, count) VALUES (?, ?)", {std::string("a"), std::int64_t{1}});
  // Setting the same value: with CLIENT_FOUND_ROWS the row still counts.
  EXPECT_EQ(db.execute("UPDATE item SET count = ? WHERE name = ?", {std::int64_t{1}, std::string("a")}), 1u);
  EXPECT_EQ(db.execute("UPDATE item SET count = ? WHERE name = ?", {std::int64_t{1}, std::string("b")}), 0u);
}

TEST_F(DatabaseTest, TransactionsCommitOrRollBack) {
  Database db(params());
  db.transaction([&] { db.execute("INSERT INTO item (name) VALUES (?)", {std::string("kept")}); });
  EXPECT_THROW(db.transaction([&] {
    db.execute("INSERT INTO item (name) VALUES (?)", {std::string("dropped")});
    throw std::runtime_error("something failed mid-batch");
  }),
               std::runtime_error);
  auto rows = db.query("SELECT name FROM item ORDER BY name");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].text(0), "kept");
  // A failing statement inside also rolls back what came before it.
  EXPECT_THROW(db.transaction([&] {
    db.execute("INSERT INTO item (name) VALUES (?)", {std::string("first")});
    db.execute("INSERT INTO item (name) VALUES (?)", {std::string("kept")});  // duplicate
  }),
               Error);
  EXPECT_EQ(db.query("SELECT name FROM item").size(), 1u);
}

TEST_F(DatabaseTest, ErrorsNameTheDatabaseAndTheStatement) {
  Database db(params());
  db.execute("INSERT INTO item (name) VALUES (?)", {std::string("dup")});
  auto msg = error_of([&] { db.execute("INSERT INTO item (name) VALUES (?)", {std::string("dup")}); },
                      Errc::database);
  EXPECT_THAT(msg, HasSubstr("database 't_database'"));
  EXPECT_THAT(msg, HasSubstr("Duplicate entry"));
  EXPECT_THAT(msg, HasSubstr("INSERT INTO item"));
  EXPECT_THAT(error_of([&] { db.execute("INSERT INTO item (name) VALUES (?)", {}); }, Errc::database),
              HasSubstr("1 placeholders but 0 values"));
  EXPECT_THAT(error_of([&] { db.query("SELECT nope FROM item"); }, Errc::database),
              HasSubstr("Unknown column"));
}

TEST_F(DatabaseTest, ConnectFailuresAreClear) {
  DbParams bad = params();
  bad.password = "wrong";
  auto msg = error_of([&] { Database db(bad); }, Errc::database);
  EXPECT_THAT(msg, HasSubstr("cannot connect to database 't_database'"));
  EXPECT_THAT(msg, HasSubstr("as '" + server.user() + "'"));
  DbParams tcp = params();
  tcp.socket.clear();
  tcp.host = server.host();
  tcp.port = static_cast<unsigned>(server.port());
  EXPECT_NO_THROW(Database{tcp});
  tcp.port = 1;  // nothing listens there
  EXPECT_THAT(error_of([&] { Database db(tcp); }, Errc::database), HasSubstr("127.0.0.1:1"));
}

TEST_F(DatabaseTest, ReconnectsBetweenStatementsButNotInsideATransaction) {
  Database db(params());
  db.execute("INSERT INTO item (name) VALUES (?)", {std::string("before")});
  auto id_of_connection = [&] { return db.query("SELECT CONNECTION_ID()")[0].integer(0); };
  auto admin = server.connect(db_name);
  admin.execute("KILL " + std::to_string(id_of_connection()));
  // Lost between statements: re-established transparently.
  EXPECT_EQ(db.query("SELECT name FROM item").size(), 1u);
  db.execute("INSERT INTO item (name) VALUES (?)", {std::string("after")});
  admin.execute("KILL " + std::to_string(id_of_connection()));
  db.execute("UPDATE item SET count = 1");  // reconnects (text protocol path)
  // Lost inside a transaction: an error, and nothing half done.
  auto msg = error_of(
      [&] {
        db.transaction([&] {
          db.execute("INSERT INTO item (name) VALUES (?)", {std::string("inside")});
          admin.execute("KILL " + std::to_string(id_of_connection()));
          db.execute("INSERT INTO item (name) VALUES (?)", {std::string("inside2")});
        });
      },
      Errc::database);
  EXPECT_THAT(msg, HasSubstr("inside a transaction"));
  EXPECT_EQ(db.query("SELECT name FROM item WHERE name LIKE 'inside%'").size(), 0u);
}

// A transaction that loses a deadlock is run again by transaction_retrying
// (the daemons' --threads relies on it); other failures are not repeated.
TEST_F(DatabaseTest, DeadlockVictimIsRunAgainAndOtherErrorsAreNot) {
  Database a(params()), b(params()), watcher(params());
  for (const char* name : {"x", "y", "z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8"})
    a.execute("INSERT INTO item (name, count) VALUES (?, 0)", {std::string(name)});
  // b's statement on x still running: a point update that takes this long
  // is waiting for a's lock.
  auto waiting = [&] {
    return watcher
        .query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE item SET count = 3%'")[0]
        .integer(0);
  };
  int attempts = 0;
  std::thread other;
  std::string failure;
  try {
    a.transaction_retrying([&] {
      ++attempts;
      a.execute("UPDATE item SET count = 1 WHERE name = 'x'");
      if (attempts == 1) {
        // b locks y and the other rows one by one by primary key (so it never
        // reads x's row, and InnoDB picks a, the smaller transaction, as the
        // victim), then waits for x, which a holds.
        std::vector<std::int64_t> others;
        for (const auto& row : a.query("SELECT id FROM item WHERE name <> 'x' ORDER BY id"))
          others.push_back(row.integer(0));
        const std::int64_t x_id = a.query("SELECT id FROM item WHERE name = 'x'")[0].integer(0);
        other = std::thread([&b, others, x_id] {
          b.transaction([&] {
            for (auto id : others) b.execute("UPDATE item SET count = 2 WHERE id = ?", {id});
            b.execute("UPDATE item SET count = 3 WHERE id = ?", {x_id});
          });
        });
        for (int i = 0; i < 500 && waiting() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_EQ(waiting(), 1) << "b never waited for a's lock";
      }
      a.execute("UPDATE item SET count = 1 WHERE name = 'y'");  // the deadlock, on the first attempt
    });
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (other.joinable()) other.join();
  EXPECT_EQ(failure, "") << "the deadlock victim was not run again";
  EXPECT_EQ(attempts, 2);
  // b committed while a was rolled back; a's second attempt came last.
  EXPECT_EQ(a.query("SELECT count FROM item WHERE name = 'x'")[0].integer(0), 1);
  EXPECT_EQ(a.query("SELECT count FROM item WHERE name = 'y'")[0].integer(0), 1);
  EXPECT_EQ(a.query("SELECT count FROM item WHERE name = 'z1'")[0].integer(0), 2);

  attempts = 0;
  error_of(
      [&] {
        a.transaction_retrying([&] {
          ++attempts;
          a.execute("INSERT INTO item (name) VALUES (?)", {std::string("x")});  // duplicate
        });
      },
      Errc::database);
  EXPECT_EQ(attempts, 1) << "a duplicate key is not a lock conflict";
}

}  // namespace
}  // namespace mw::boinc
