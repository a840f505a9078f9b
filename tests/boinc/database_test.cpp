// mw::boinc::Database against a private MariaDB: bound values of every kind,
// long blobs, transactions, errors that name what failed, and reconnecting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "mw/boinc/database.h"
#include "mw/error.h"
#include "support/private_mariadb.h"
#include "support/test_support.h"

namespace mw::boinc {
namespace {

using ::testing::AllOf;
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

// execute_batch: several statements in one round trip, numbers written into
// the SQL as literals (the validator's two round trips per workunit).
TEST_F(DatabaseTest, BatchRunsStatementsInOrderAndReturnsWhatEachReturned) {
  Database db(params());
  auto results = db.execute_batch({
      {"INSERT INTO item (name, weight, count) VALUES (CONCAT('n', ?), ?, ?)", {std::int64_t{1}, 0.5, std::int64_t{10}}},
      {"INSERT INTO item (name, weight, count) VALUES (CONCAT('n', ?), ?, ?)", {std::int64_t{2}, 1.5, nullptr}},
      {"UPDATE item SET count = ? WHERE count IS NULL OR count = ?", {std::int64_t{7}, std::int64_t{10}}},
      {"SELECT name, weight, count FROM item WHERE weight > ? ORDER BY name", {0.0}},
      {"UPDATE item SET count = ? WHERE name = CONCAT('n', ?)", {std::int64_t{7}, std::int64_t{1}}},
  });
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].affected, 1u);
  EXPECT_EQ(results[1].affected, 1u);
  EXPECT_EQ(results[2].affected, 2u);
  ASSERT_EQ(results[3].rows.size(), 2u);
  EXPECT_EQ(results[3].rows[0].text(0), "n1");
  EXPECT_DOUBLE_EQ(results[3].rows[1].real(1), 1.5);
  EXPECT_EQ(results[3].rows[1].integer(2), 7);
  EXPECT_EQ(results[4].affected, 1u) << "matched rows count, as with CLIENT_FOUND_ROWS elsewhere";
  EXPECT_TRUE(db.execute_batch({}).empty());
}

TEST_F(DatabaseTest, BatchLiteralsAreTheExactValues) {
  Database db(params());
  const std::vector<double> doubles = {0.1, 1.0 / 3.0, -2.5e-7, 1e-300, 1.7976931348623157e308, 123456789.123456789,
                                       0.0, 3.0};
  const std::vector<std::int64_t> integers = {0, -1, std::numeric_limits<std::int64_t>::max(),
                                              std::numeric_limits<std::int64_t>::min(), std::int64_t{1} << 53};
  std::vector<DbStatement> inserts;
  for (std::size_t i = 0; i < doubles.size(); ++i)
    inserts.push_back({"INSERT INTO item (name, weight) VALUES (CONCAT('d', ?), ?)",
                       {static_cast<std::int64_t>(i), doubles[i]}});
  for (std::size_t i = 0; i < integers.size(); ++i)
    inserts.push_back({"INSERT INTO item (name, count, weight) VALUES (CONCAT('i', ?), ?, ?)",
                       {static_cast<std::int64_t>(i), integers[i], nullptr}});
  db.execute_batch(inserts);
  // Compared on the server with the value bound in binary: equal to the last bit.
  for (std::size_t i = 0; i < doubles.size(); ++i)
    EXPECT_EQ(db.query("SELECT COUNT(*) FROM item WHERE name = ? AND weight = ?",
                       {"d" + std::to_string(i), doubles[i]})[0]
                  .integer(0),
              1)
        << doubles[i];
  for (std::size_t i = 0; i < integers.size(); ++i) {
    auto row = db.query("SELECT count, weight FROM item WHERE name = ?", {"i" + std::to_string(i)});
    ASSERT_EQ(row.size(), 1u);
    EXPECT_EQ(row[0].integer(0), integers[i]);
    EXPECT_TRUE(row[0].is_null(1));
  }
  // Arithmetic on a DOUBLE column with a literal stays in double precision.
  db.execute_batch({{"UPDATE item SET weight = weight + ? WHERE name = 'd0'", {0.2}}});
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM item WHERE name = 'd0' AND weight = ?", {0.1 + 0.2})[0].integer(0), 1);
}

// What LOAD DATA's default format makes of one field, a byte at a time.
std::string escaped_bytewise(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      default: out += c;
    }
  }
  return out;
}

TEST(LoadDataEscape, EveryEscapedByteAtEveryPlaceOfABlockAsBytewise) {
  // escape_load_field scans blocks of bytes at once: each escaped byte in
  // every position of the first blocks and of the tail, alone and in pairs.
  const std::string escaped = std::string("\\\t\n\r") + '\0';
  for (std::size_t length = 0; length <= 50; ++length)
    for (std::size_t at = 0; at < length; ++at)
      for (char c : escaped)
        for (std::size_t second : {length, at + 1, at + 16, length - 1}) {
          std::string text(length, 'x');
          text[at] = c;
          if (second < length) text[second] = '\n';
          std::string out = "prefix";
          escape_load_field(out, text);
          ASSERT_EQ(out, "prefix" + escaped_bytewise(text)) << "length " << length << " at " << at;
        }
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  for (std::size_t from = 0; from < 40; ++from) {
    std::string out;
    escape_load_field(out, std::string_view(every_byte).substr(from));
    EXPECT_EQ(out, escaped_bytewise(std::string_view(every_byte).substr(from))) << from;
  }
}

TEST_F(DatabaseTest, LoadDataFieldsComeBackByteForByte) {
  // Every byte value, the escaped ones also in runs and at both ends, and a
  // long plain stretch: what escape_load_field writes must read back as sent.
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const std::vector<std::string> bodies = {every_byte,
                                           std::string("\\\t\n\r") + std::string(3, '\0') + "\\",
                                           "\n" + std::string(5000, 'x') + "\t",
                                           "",
                                           "\\N"};
  std::string rows;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    escape_load_field(rows, "row\t" + std::to_string(i) + "\n\\");
    rows += '\t';
    escape_load_field(rows, bodies[i]);
    rows += '\n';
  }
  Database db(params());
  ASSERT_EQ(db.load_data_local("LOAD DATA LOCAL INFILE 'rows' INTO TABLE item CHARACTER SET binary (name, body)",
                               rows),
            bodies.size());
  auto got = db.query("SELECT name, body FROM item ORDER BY id");
  ASSERT_EQ(got.size(), bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_EQ(got[i].text(0), "row\t" + std::to_string(i) + "\n\\");
    EXPECT_FALSE(got[i].is_null(1)) << "row " << i << ": an escaped \\N is text, not NULL";
    EXPECT_EQ(got[i].text(1), bodies[i]) << "row " << i;
  }
}

TEST_F(DatabaseTest, BatchRefusesTextNonFiniteValuesAndWrongCountsBeforeSendingAnything) {
  Database db(params());
  const std::string insert = "INSERT INTO item (name, count) VALUES (CONCAT('n', ?), ?)";
  auto first = DbStatement{insert, {std::int64_t{1}, std::int64_t{1}}};
  EXPECT_THAT(error_of([&] { db.execute_batch({first, {insert, {std::string("1); DROP TABLE item; --"), std::int64_t{2}}}}); },
                       Errc::usage),
              AllOf(HasSubstr("text"), HasSubstr("INSERT INTO item")));
  EXPECT_THAT(error_of([&] { db.execute_batch({first, {insert, {std::int64_t{2}, std::nan("")}}}); }, Errc::usage),
              HasSubstr("not finite"));
  EXPECT_THAT(error_of([&] { db.execute_batch({first, {insert, {std::int64_t{2}, HUGE_VAL}}}); }, Errc::usage),
              HasSubstr("not finite"));
  EXPECT_THAT(error_of([&] { db.execute_batch({first, {insert, {std::int64_t{2}}}}); }, Errc::usage),
              HasSubstr("2 placeholders but 1 values"));
  EXPECT_THAT(error_of([&] { db.execute_batch({first}, /*commit=*/true); }, Errc::usage),
              HasSubstr("inside transaction()"));
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM item")[0].integer(0), 0) << "a refused batch sends nothing";
}

TEST_F(DatabaseTest, BatchStopsAtTheFailingStatementAndNamesIt) {
  Database db(params());
  db.execute("INSERT INTO item (name, count) VALUES ('a', 0), ('b', 0)");
  auto msg = error_of(
      [&] {
        db.execute_batch({{"UPDATE item SET count = ? WHERE name = 'a'", {std::int64_t{1}}},
                          {"UPDATE item SET name = 'a' WHERE name = 'b' AND count = ?", {std::int64_t{0}}},
                          {"UPDATE item SET count = ? WHERE name = 'b'", {std::int64_t{3}}}});
      },
      Errc::database);
  EXPECT_THAT(msg, HasSubstr("Duplicate entry"));
  EXPECT_THAT(msg, HasSubstr("UPDATE item SET name = 'a' WHERE name = 'b'"));
  EXPECT_THAT(msg, HasSubstr("database 't_database'"));
  EXPECT_EQ(db.query("SELECT count FROM item WHERE name = 'a'")[0].integer(0), 1) << "autocommitted before the failure";
  EXPECT_EQ(db.query("SELECT count FROM item WHERE name = 'b'")[0].integer(0), 0) << "nothing after the failure ran";
  // The connection is usable afterwards (every result of the batch was read).
  EXPECT_EQ(db.execute_batch({{"SELECT COUNT(*) FROM item WHERE count >= ?", {std::int64_t{0}}}})[0].rows[0].integer(0), 2);
}

TEST_F(DatabaseTest, TransactionBeginsWithTheFirstBatchAndCanCommitWithTheLast) {
  Database db(params()), other(params());
  db.execute("INSERT INTO item (name, count) VALUES ('a', 0)");
  // Whether another connection finds row 'a' locked (NOWAIT: at once).
  auto a_is_locked = [&] {
    bool locked = false;
    other.transaction([&] {
      try {
        other.query("SELECT count FROM item WHERE name = 'a' FOR UPDATE NOWAIT");
      } catch (const Error&) {
        locked = other.last_error_was_conflict();
      }
    });
    return locked;
  };
  db.transaction([&] {
    auto r = db.execute_batch({{"SELECT count FROM item WHERE name = 'a' AND count >= ? FOR UPDATE", {std::int64_t{0}}}});
    EXPECT_EQ(r[0].rows.at(0).integer(0), 0);
    EXPECT_TRUE(a_is_locked()) << "the locking read runs inside the transaction";
    db.execute_batch({{"UPDATE item SET count = ? WHERE name = 'a'", {std::int64_t{5}}}}, /*commit=*/true);
    EXPECT_EQ(other.query("SELECT count FROM item WHERE name = 'a'")[0].integer(0), 5) << "committed with the batch";
    EXPECT_THAT(error_of([&] { db.execute("UPDATE item SET count = 6"); }, Errc::usage), HasSubstr("committed"));
  });
  EXPECT_EQ(db.query("SELECT count FROM item WHERE name = 'a'")[0].integer(0), 5);
  db.transaction([] {});  // a body that sends nothing
  // A failure in the committing batch rolls the whole transaction back.
  error_of(
      [&] {
        db.transaction([&] {
          db.execute_batch({{"UPDATE item SET count = ? WHERE name = 'a'", {std::int64_t{9}}}});
          db.execute_batch({{"INSERT INTO item (name) VALUES (CONCAT('b', ?))", {std::int64_t{1}}},
                            {"INSERT INTO item (name) VALUES (CONCAT('a', ?))", {nullptr}}},  // name NULL: refused
                           /*commit=*/true);
        });
      },
      Errc::database);
  EXPECT_EQ(db.query("SELECT count FROM item WHERE name = 'a'")[0].integer(0), 5);
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM item")[0].integer(0), 1);
  EXPECT_FALSE(a_is_locked());
}

TEST_F(DatabaseTest, BatchReconnectsOnlyWhenNothingOfItsTransactionIsLost) {
  Database db(params());
  auto admin = server.connect(db_name);
  auto kill_connection = [&] { admin.execute("KILL " + std::to_string(db.query("SELECT CONNECTION_ID()")[0].integer(0))); };
  kill_connection();
  // Lost between transactions: the batch that opens the next one is sent
  // again (one that also commits is not: it may have been committed).
  db.transaction([&] {
    db.execute_batch({{"INSERT INTO item (name, count) VALUES (CONCAT('n', ?), ?)", {std::int64_t{1}, std::int64_t{1}}}});
  });
  kill_connection();
  EXPECT_THAT(error_of([&] {
                db.transaction([&] { db.execute_batch({{"UPDATE item SET count = ?", {std::int64_t{2}}}}, true); });
              },
                       Errc::database),
              HasSubstr("connection lost"));
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM item")[0].integer(0), 1);
  // Lost after the transaction's first statements: an error, nothing half done.
  auto msg = error_of(
      [&] {
        db.transaction([&] {
          db.execute_batch({{"INSERT INTO item (name) VALUES (CONCAT('n', ?))", {std::int64_t{2}}}});
          kill_connection();
          db.execute_batch({{"INSERT INTO item (name) VALUES (CONCAT('n', ?))", {std::int64_t{3}}}}, true);
        });
      },
      Errc::database);
  EXPECT_THAT(msg, HasSubstr("inside a transaction"));
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM item")[0].integer(0), 1);
}

TEST_F(DatabaseTest, LockConflictInABatchIsRunAgain) {
  Database db(params());
  db.execute("INSERT INTO item (name, count) VALUES ('x', 0)");
  db.execute("SET SESSION innodb_lock_wait_timeout = 1");
  auto holder = server.connect(db_name);
  holder.execute("START TRANSACTION");
  holder.execute("SELECT * FROM item WHERE name = 'x' FOR UPDATE");
  int attempts = 0;
  error_of(
      [&] {
        db.transaction_retrying(
            [&] {
              ++attempts;
              db.execute_batch({{"UPDATE item SET count = ? WHERE name = 'x'", {std::int64_t{1}}}}, true);
            },
            2);
      },
      Errc::database);
  EXPECT_EQ(attempts, 2) << "a lock wait timeout in a batch is a conflict";
  EXPECT_TRUE(db.last_error_was_conflict());
  holder.execute("ROLLBACK");
  db.transaction_retrying([&] { db.execute_batch({{"UPDATE item SET count = ? WHERE name = 'x'", {std::int64_t{1}}}}, true); });
  EXPECT_EQ(db.query("SELECT count FROM item")[0].integer(0), 1);
}

}  // namespace
}  // namespace mw::boinc
