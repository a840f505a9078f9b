#include "task/background_hash.h"

namespace mw::detail {

ConcurrentSha256::ConcurrentSha256() : thread_([this] { run(); }) {}

ConcurrentSha256::~ConcurrentSha256() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void ConcurrentSha256::update_while(const char* data, std::size_t size,
                                    const std::function<void()>& meanwhile) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_ = data;
    pending_size_ = size;
  }
  changed_.notify_all();
  // The chunk must stay hashed-or-unhashed as a whole, and `data` valid, until
  // the helper is done with it, even if `meanwhile` throws.
  struct Wait {
    ConcurrentSha256* self;
    ~Wait() {
      std::unique_lock<std::mutex> lock(self->mutex_);
      self->changed_.wait(lock, [this] { return self->pending_ == nullptr; });
    }
  } wait{this};
  meanwhile();
}

std::string ConcurrentSha256::finish_hex() { return hash_.finish_hex(); }

void ConcurrentSha256::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stopping_ || pending_ != nullptr; });
    if (stopping_) return;
    const char* data = pending_;
    const std::size_t size = pending_size_;
    lock.unlock();
    hash_.update(data, size);
    lock.lock();
    pending_ = nullptr;
    changed_.notify_all();
  }
}

}  // namespace mw::detail
