// Rank 0: relays frames from the master's socket to ranks 1..N as MPI
// messages (tag = kind) and their answers back, without decoding task bodies.
// The socket is non-blocking in both directions, so neither side can stall
// the other; when the master goes away (socket closed) or says stop, every
// rank is told to stop and the job ends.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "interfaces/mpi_protocol.h"
#include "mw/log.h"
#include "master/frames.h"
#include "mpi_worker.h"
#include "mw/error.h"

namespace mw::mpi_worker {
namespace {

using namespace mw::detail;

int connect_to_master(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof addr.sun_path)
    throw Error(Errc::system, "cannot make a socket for " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw Error(Errc::system, "cannot connect to the master at " + path + ": " + std::strerror(errno) +
                                  " (rank 0 must run on the master's host)");
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

}  // namespace

int run_relay(const std::string& socket_path) {
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const int sock = connect_to_master(socket_path);
  FrameReader reader(sock);
  std::string to_master;  // bytes not yet written to the socket
  Outbox outbox;
  Backoff backoff;
  bool stopping = false;
  int byes = 0;
  std::chrono::steady_clock::time_point stop_time;

  auto stop_all = [&] {
    if (stopping) return;
    stopping = true;
    stop_time = std::chrono::steady_clock::now();
    for (int r = 1; r < world; ++r) outbox.send(r, static_cast<int>(MpiKind::stop), "");
  };

  for (;;) {
    bool busy = false;
    if (g_signalled) stop_all();
    // From the master.
    pollfd fd{sock, static_cast<short>(POLLIN | (to_master.empty() ? 0 : POLLOUT)), 0};
    if (!stopping && poll(&fd, 1, 0) > 0) {
      if (fd.revents & (POLLIN | POLLHUP | POLLERR)) {
        busy = true;
        bool open = false;
        try {
          open = reader.read_some();
        } catch (const Error&) {
          open = false;
        }
        FrameType type;
        std::string payload, body;
        while (open && reader.pop(type, payload)) {
          std::uint32_t rank = 0;
          MpiKind kind;
          decode_mpi_frame(payload, rank, kind, body);
          if (kind == MpiKind::stop) {
            stop_all();
            break;
          }
          if (rank >= 1 && static_cast<int>(rank) < world) outbox.send(static_cast<int>(rank), static_cast<int>(kind), std::move(body));
        }
        if (!open) stop_all();  // the master exited or closed the socket
      }
    }
    // From the ranks.
    int from = 0, tag = 0;
    std::string bytes;
    while (try_receive(MPI_ANY_SOURCE, from, tag, bytes)) {
      busy = true;
      if (tag == static_cast<int>(MpiKind::bye)) ++byes;
      if (!stopping)
        to_master += encode_frame(FrameType::mpi,
                                  encode_mpi_frame(static_cast<std::uint32_t>(from), static_cast<MpiKind>(tag), bytes));
    }
    // To the master, as much as the socket takes now.
    while (!to_master.empty()) {
      ssize_t n = ::send(sock, to_master.data(), to_master.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        to_master.erase(0, static_cast<std::size_t>(n));
        busy = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      to_master.clear();  // the master is gone
      stop_all();
    }
    if (outbox.progress()) busy = true;
    if (stopping) {
      if (byes >= world - 1 && outbox.empty()) break;
      if (std::chrono::steady_clock::now() - stop_time > std::chrono::seconds(10)) {
        mw::log(mw::LogLevel::error, "mw-mpi-worker rank 0: ranks did not stop within 10 s; aborting the job");
        MPI_Abort(MPI_COMM_WORLD, 2);
      }
    }
    if (busy) backoff.busy();
    else backoff.idle();
  }
  ::close(sock);
  MPI_Finalize();
  return 0;
}

}  // namespace mw::mpi_worker
