// Internal: SHA-256 on a second thread, for the bundle code's large files.
//
// Unpacking a task checks each file against its SHA-256 while writing it; for
// a large file the hash costs about twice the writing (10 MB: ~5.6 ms against
// ~2.5 ms on the reference machine), and the task cannot start before both
// are done. update_while() hashes a chunk on a helper thread while the caller
// writes the same chunk, and returns when both are done: nothing is copied,
// and on a host whose other cores are all busy (a BOINC host usually is) it
// costs no more than hashing in line, give or take one hand-over per chunk.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "mw/hash.h"

namespace mw::detail {

class ConcurrentSha256 {
 public:
  // Files smaller than this are hashed in the caller's thread: starting a
  // thread would cost more than it saves.
  static constexpr std::size_t kWorthwhileBytes = 4u << 20;

  ConcurrentSha256();
  ~ConcurrentSha256();
  ConcurrentSha256(const ConcurrentSha256&) = delete;
  ConcurrentSha256& operator=(const ConcurrentSha256&) = delete;

  // Hashes `size` bytes at `data` while `meanwhile` runs in this thread;
  // returns (or rethrows what `meanwhile` threw) once both are done.
  void update_while(const char* data, std::size_t size, const std::function<void()>& meanwhile);
  std::string finish_hex();  // call once, after the last update

 private:
  void run();  // the helper thread

  Sha256 hash_;  // touched by the helper while a chunk is pending, else by the caller
  const char* pending_ = nullptr;
  std::size_t pending_size_ = 0;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread thread_;
};

}  // namespace mw::detail
