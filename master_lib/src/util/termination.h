// Internal: clean up, then die of the signal, on SIGINT, SIGTERM and SIGHUP.
//
// A program that runs tasks must not leave them behind when it is stopped by
// Ctrl-C, a service manager or a closed terminal. The signal handler only
// writes the signal number to a pipe; a thread reads it, runs the registered
// cleanups (kill task trees, stop workers, remove temporary files), restores
// the default action and raises the signal again, so the exit status is the
// conventional one (128 + signal for a shell).
#pragma once

#include <functional>

namespace mw::detail {

// Registers `cleanup` (run on the cleanup thread, never in a handler) and
// installs the handlers for the signals whose disposition is still the
// default — a program's own handlers are left alone. Returns an id for
// remove_termination_cleanup. Thread-safe.
int add_termination_cleanup(std::function<void(int signal)> cleanup);
void remove_termination_cleanup(int id);

// Returns at once unless one of those signals has arrived; then never returns:
// the cleanup thread ends the process. A program about to leave main calls it,
// because a main thread that sees its work stopped by the cleanups (a run
// interrupted, workers gone) would otherwise race the cleanup thread to the
// exit, and the program would end with its own status instead of the signal's.
void await_death_if_terminating();

}  // namespace mw::detail
