// util/termination.h with util/command_line.h's run_main: a program stopped by
// SIGINT, SIGTERM or SIGHUP dies of that signal, even when its main thread
// ends while the cleanups still run (mw-run-task's main thread returns as soon
// as the cleanup has interrupted its task).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "util/command_line.h"
#include "util/termination.h"

namespace {

// Runs in a forked child: a cleanup that lets main go on and then takes a
// while, and a main that ends with status 0 as soon as the cleanup started.
[[noreturn]] void stopped_program(int ready_fd) {
  int started[2];
  if (pipe(started) != 0) _exit(10);
  mw::detail::add_termination_cleanup([&](int) {
    (void)!write(started[1], "s", 1);
    usleep(300 * 1000);
  });
  (void)!write(ready_fd, "r", 1);
  const int status = mw::cli::run_main("stopped_program", 3, [&] {
    char c;
    return read(started[0], &c, 1) == 1 ? 0 : 5;
  });
  _exit(status);
}

class TerminationTest : public ::testing::TestWithParam<int> {};

TEST_P(TerminationTest, AMainThatEndsDuringTheCleanupsStillDiesOfTheSignal) {
  const int sig = GetParam();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) stopped_program(ready[1]);
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the child never installed its cleanup";
  close(ready[0]);
  ASSERT_EQ(kill(child, sig), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig)
      << "ended with " << (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                             : "signal " + std::to_string(WTERMSIG(status)))
      << " instead of dying of signal " << sig;
}

INSTANTIATE_TEST_SUITE_P(Signals, TerminationTest, ::testing::Values(SIGTERM, SIGINT, SIGHUP),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

TEST(Termination, WithoutASignalRunMainReturnsTheBodysStatus) {
  EXPECT_EQ(mw::cli::run_main("p", 3, [] { return 7; }), 7);
  EXPECT_EQ(mw::cli::run_main("p", 3, []() -> int { throw std::runtime_error("x"); }), 3);
}

}  // namespace
