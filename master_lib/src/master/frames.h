// Internal: length-prefixed frames on a pipe, between a master and its persistent
// workers (and later between MPI ranks and the master).
//
// A frame is: u32 little-endian length of what follows, u8 type, payload.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mw::detail {

enum class FrameType : std::uint8_t {
  call = 1,   // master → worker: run a function (payload: task id, name, encoded args)
  init = 2,   // master → worker: run an initialisation (each_worker), same payload
  done = 3,   // worker → master: payload: task id, ok flag, value or message, cpu seconds
  ready = 4,  // worker → master: started and registered its functions
  mpi = 5,    // MPI interface, master ↔ rank 0 (interfaces/mpi_protocol.h)
};

inline constexpr std::uint32_t kMaxFrameBytes = 1u << 30;

// The bytes of one frame, for callers that write them their own way (sockets
// with MSG_NOSIGNAL, non-blocking writers with a buffer).
std::string encode_frame(FrameType type, std::string_view payload);

// Writes one frame; throws Error(Errc::io) when the pipe is gone.
void write_frame(int fd, FrameType type, std::string_view payload);

// Reads frames through a buffer so that many small frames cost few reads.
class FrameReader {
 public:
  explicit FrameReader(int fd) : fd_(fd) {}
  // False at end of file (the peer closed or died). Throws Error(Errc::format)
  // for a malformed frame and Error(Errc::io) for a read error.
  bool next(FrameType& type, std::string& payload);
  // For poll()-driven readers: one read() into the buffer (false at end of
  // file), then pop() each complete frame it made available.
  bool read_some();
  bool pop(FrameType& type, std::string& payload);

 private:
  bool fill(std::size_t need);
  int fd_;
  std::string buffer_;
  std::size_t start_ = 0;
};

}  // namespace mw::detail
