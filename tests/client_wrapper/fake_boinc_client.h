// FakeBoincClient — a test double for the BOINC client's side of the app
// control channel (there is no BOINC client on the build machine). It writes
// the slot's init_data.xml and the shared-memory file the BOINC API attaches
// to, sends heartbeats, and puts process-control messages (<suspend/>,
// <resume/>, <quit/>, <abort/>) where the API in mw-wrapper reads them.
// Never shipped: tests only.
#pragma once

#include <atomic>
#include <string>
#include <thread>

struct SHARED_MEM;

namespace mw::test {

class FakeBoincClient {
 public:
  // Prepares `slot` (init_data.xml, boinc_mmap_file) before the app starts.
  explicit FakeBoincClient(const std::string& slot);
  ~FakeBoincClient();
  FakeBoincClient(const FakeBoincClient&) = delete;
  FakeBoincClient& operator=(const FakeBoincClient&) = delete;

  // Queues a process-control message; waits (up to 5 s) until the app has
  // taken the previous one. False if the app never took it.
  bool send_control(const std::string& message);
  // Last fraction done the app reported (-1 before any report).
  double reported_fraction_done();

 private:
  void heartbeat_loop();
  SHARED_MEM* shm_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread heartbeat_;
  double last_fraction_ = -1;
};

}  // namespace mw::test
