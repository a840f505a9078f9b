#include "master/frames.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::detail {
namespace {

// A worker that died (killed by a cancel or a limit) has closed its end: the
// write must fail with EPIPE for the caller to handle, not kill the master
// with SIGPIPE. SIGPIPE is blocked in this thread while writing, and one that
// became pending is consumed, so the process-wide disposition stays the
// program's own.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old_, SIGPIPE)) {
      const timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_{}, old_{};
};

}  // namespace

std::string encode_frame(FrameType type, std::string_view payload) {
  const auto length = static_cast<std::uint32_t>(payload.size() + 1);
  std::string frame;
  frame.reserve(5 + payload.size());
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  frame.push_back(static_cast<char>(type));
  frame.append(payload);
  return frame;
}

void write_frame(int fd, FrameType type, std::string_view payload) {
  const std::string frame = encode_frame(type, payload);
  SigpipeBlocked quiet;
  std::size_t done = 0;
  while (done < frame.size()) {
    ssize_t n = ::write(fd, frame.data() + done, frame.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::io, "cannot write to the worker pipe: " + errno_text(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

bool FrameReader::fill(std::size_t need) {
  while (buffer_.size() - start_ < need) {
    if (start_ > 0 && start_ * 2 > buffer_.size()) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    char chunk[64 * 1024];
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::io, "cannot read from the worker pipe: " + errno_text(errno));
    }
    if (n == 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

namespace {

std::uint32_t frame_length(const std::string& buffer, std::size_t start) {
  const auto* p = reinterpret_cast<const unsigned char*>(buffer.data() + start);
  const std::uint32_t length =
      p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  if (length == 0 || length > kMaxFrameBytes)
    throw Error(Errc::format, "malformed frame on the worker pipe (length " + std::to_string(length) + ")");
  return length;
}

}  // namespace

bool FrameReader::next(FrameType& type, std::string& payload) {
  if (!fill(4)) return false;
  const std::uint32_t length = frame_length(buffer_, start_);
  if (!fill(4 + static_cast<std::size_t>(length))) return false;
  return pop(type, payload);
}

bool FrameReader::read_some() {
  if (start_ > 0 && start_ * 2 > buffer_.size()) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  char chunk[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(Errc::io, "cannot read from the worker pipe: " + errno_text(errno));
    if (n == 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

bool FrameReader::pop(FrameType& type, std::string& payload) {
  if (buffer_.size() - start_ < 4) return false;
  const std::uint32_t length = frame_length(buffer_, start_);
  if (buffer_.size() - start_ < 4 + static_cast<std::size_t>(length)) return false;
  type = static_cast<FrameType>(buffer_[start_ + 4]);
  payload.assign(buffer_, start_ + 5, length - 1);
  start_ += 4 + length;
  return true;
}

}  // namespace mw::detail
