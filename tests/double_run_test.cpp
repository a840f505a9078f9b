// MasterOptions::double_run: each task runs twice on the multicore interface
// and the validator's comparison checks the pair.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "mw/master.h"
#include "mw/multicore.h"

namespace mw {
namespace {

using ::testing::HasSubstr;

struct Mismatches {
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::string>> seen;
};

MasterOptions double_run(Mismatches& m, CompareOptions compare = {}) {
  MasterOptions o;
  o.double_run = compare;
  o.on_double_run_mismatch = [&m](std::uint64_t id, const std::string& why) {
    std::lock_guard<std::mutex> lock(m.mu);
    m.seen.emplace_back(id, why);
  };
  return o;
}

TEST(DoubleRun, DeterministicTasksPassAndEachRunsTwice) {
  Mismatches m;
  Master master(Multicore{}, double_run(m));
  std::vector<Task> tasks;
  for (int i = 0; i < 4; ++i)
    tasks.push_back(master.submit_task(
        Exec("sh", {"-c", "echo " + std::to_string(i) + " > out.txt"})
            .output("out.txt")));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(master.get_result(tasks[i]).output("out.txt"), std::to_string(i) + "\n");
  EXPECT_TRUE(m.seen.empty());
  EXPECT_EQ(master.status().details.details.at("double_run_mismatches"), "0");
  EXPECT_THAT(master.status().interface, HasSubstr("double-run"));
}

TEST(DoubleRun, NonDeterministicOutputIsReported) {
  Mismatches m;
  Master master(Multicore{}, double_run(m));
  Task t = master.submit_task(Exec("sh", {"-c", "od -An -N8 -tx8 /dev/urandom > out.txt"}).output("out.txt"));
  EXPECT_EQ(master.get_result(t).output("out.txt").size(), 18u);
  ASSERT_EQ(m.seen.size(), 1u);
  EXPECT_EQ(m.seen[0].first, t.id);
  EXPECT_THAT(m.seen[0].second, HasSubstr("'out.txt' differs"));
  EXPECT_EQ(master.status().details.details.at("double_run_mismatches"), "1");
}

TEST(DoubleRun, NumericToleranceAppliesLocallyToo) {
  Mismatches m;
  CompareOptions c;
  c.numeric_outputs = {"out.txt"};
  c.abs_tolerance = 1.0;
  Master master(Multicore{}, double_run(m, c));
  // Two runs print slightly different fractions below 1.
  Task t = master.submit_task(
      Exec("sh", {"-c", "echo 0.$(od -An -N2 -tu2 /dev/urandom | tr -d ' ') > out.txt"}).output("out.txt"));
  master.get_result(t);
  EXPECT_TRUE(m.seen.empty()) << m.seen[0].second;
}

}  // namespace
}  // namespace mw
