#include "util/termination.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <thread>

namespace mw::detail {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

int g_pipe_write = -1;  // read by the handler: set once, before any handler is installed
volatile sig_atomic_t g_received = 0;  // the signal being handled, set by the handler

struct Cleanups {
  std::mutex mu;
  std::map<int, std::function<void(int)>> by_id;
  int next_id = 1;
  bool handled[NSIG] = {};
};
Cleanups& cleanups() {
  static Cleanups c;
  return c;
}

extern "C" void on_termination_signal(int sig) {
  const int saved = errno;
  g_received = sig;
  const unsigned char byte = static_cast<unsigned char>(sig);
  (void)!::write(g_pipe_write, &byte, 1);
  errno = saved;
}

void cleanup_thread(int read_fd) {
  unsigned char byte = 0;
  for (;;) {
    ssize_t n = ::read(read_fd, &byte, 1);
    if (n == 1) break;
    if (n < 0 && errno == EINTR) continue;
    return;
  }
  const int sig = byte;
  std::map<int, std::function<void(int)>> todo;
  {
    std::lock_guard<std::mutex> lock(cleanups().mu);
    todo = cleanups().by_id;
  }
  for (auto& [id, fn] : todo) {
    try {
      fn(sig);
    } catch (...) {
    }
  }
  // Die of the signal itself, so the caller sees how the program ended.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  kill(getpid(), sig);
  // Delivered to some thread; if this one does not die first, wait for it.
  for (;;) pause();
}

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    g_pipe_write = fds[1];
    std::thread(cleanup_thread, fds[0]).detach();
  });
}

}  // namespace

int add_termination_cleanup(std::function<void(int)> cleanup) {
  install_once();
  std::lock_guard<std::mutex> lock(cleanups().mu);
  const int id = cleanups().next_id++;
  cleanups().by_id[id] = std::move(cleanup);
  if (g_pipe_write < 0) return id;
  for (int sig : kSignals) {
    if (cleanups().handled[sig]) continue;
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL ||
        (old.sa_flags & SA_SIGINFO))
      continue;  // the program handles or ignores it: its choice
    struct sigaction sa {};
    sa.sa_handler = on_termination_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, nullptr) == 0) cleanups().handled[sig] = true;
  }
  return id;
}

void await_death_if_terminating() {
  if (g_received == 0) return;
  // The cleanup thread ends the process when its cleanups are done.
  for (;;) pause();
}

void remove_termination_cleanup(int id) {
  std::lock_guard<std::mutex> lock(cleanups().mu);
  cleanups().by_id.erase(id);
}

}  // namespace mw::detail
