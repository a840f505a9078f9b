// mw/log.h: the threshold, the sink callback, the default sink's line and the
// escaping of what comes from data. MW_LOG_LEVEL and --log-level on real
// programs are in examples_cli_test.cpp and cli_surface_test.cpp.
#include "mw/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace mw {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using ::testing::Pair;

class Log : public ::testing::Test {
 protected:
  std::vector<std::pair<LogLevel, std::string>> seen;
  void SetUp() override {
    set_log_sink([this](LogLevel level, const std::string& message) { seen.emplace_back(level, message); });
  }
  void TearDown() override {
    set_log_sink({});
    set_log_level(LogLevel::info);
  }
};

TEST_F(Log, LevelNamesRoundTripAndAnythingElseIsRefused) {
  for (LogLevel l : {LogLevel::error, LogLevel::warning, LogLevel::info, LogLevel::debug, LogLevel::trace})
    EXPECT_EQ(log_level_from_string(to_string(l)), l) << to_string(l);
  EXPECT_EQ(log_level_from_string("DEBUG"), LogLevel::debug);
  EXPECT_EQ(log_level_from_string("warn"), LogLevel::warning);
  EXPECT_EQ(log_level_from_string("bogus"), std::nullopt);
  EXPECT_EQ(log_level_from_string(""), std::nullopt);
  EXPECT_EQ(log_level_from_string("3"), std::nullopt) << "numbers are the daemons' (BOINC's), not the library's";
}

TEST_F(Log, OnlyMessagesAtOrAboveTheThresholdReachTheSink) {
  set_log_level(LogLevel::warning);
  EXPECT_EQ(log_level(), LogLevel::warning);
  log(LogLevel::trace, "t");
  log(LogLevel::debug, "d");
  log(LogLevel::info, "i");
  log(LogLevel::warning, "w");
  log(LogLevel::error, "e");
  EXPECT_THAT(seen, ElementsAre(Pair(LogLevel::warning, "w"), Pair(LogLevel::error, "e")));
  EXPECT_TRUE(log_enabled(LogLevel::error));
  EXPECT_FALSE(log_enabled(LogLevel::info));

  seen.clear();
  set_log_level(LogLevel::trace);
  log(LogLevel::trace, "t");
  EXPECT_THAT(seen, ElementsAre(Pair(LogLevel::trace, "t")));
}

TEST_F(Log, TheSinkGetsOneLineWithControlsAndBidiOverridesEscaped) {
  log(LogLevel::error, "task 'x\nforged line\x1b[2J' \xe2\x80\xae" "cod.exe \xff");
  ASSERT_EQ(seen.size(), 1u);
  const std::string& m = seen[0].second;
  EXPECT_EQ(m, "task 'x\\x0aforged line\\x1b[2J' \\u{202e}cod.exe \\xff");
  for (unsigned char c : m) EXPECT_GE(c, 0x20) << "a raw control character reached the sink: " << m;
}

TEST_F(Log, TheDefaultSinkWritesTimeLevelAndMessageAsOneLineOnStderr) {
  set_log_sink({});
  ::testing::internal::CaptureStderr();
  log(LogLevel::warning, "disk\rfull");
  log(LogLevel::debug, "not shown at info");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{4} UTC "
                                "\\[warning\\] disk\\\\x0dfull\n"));
}

TEST_F(Log, ASinkThatLogsGoesToStderrInsteadOfDeadlocking) {
  set_log_sink([](LogLevel, const std::string& message) { log(LogLevel::error, "inner " + message); });
  ::testing::internal::CaptureStderr();
  log(LogLevel::error, "outer");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, ::testing::HasSubstr("[error] inner outer\n"));
}

TEST_F(Log, ASinkThatThrowsDoesNotFailTheCaller) {
  set_log_sink([](LogLevel, const std::string&) { throw std::runtime_error("sink down"); });
  EXPECT_NO_THROW(log(LogLevel::error, "x"));
}

}  // namespace
}  // namespace mw
