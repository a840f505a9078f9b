// status/http_status_server.h — a small read-only HTTP server for status
// pages: a master's (MasterOptions::status_listen) and a BOINC project's
// (mw-status). Three fixed routes, each produced by a callback when a request
// comes; nothing is ever read from the file system.
//
// Safe by default: a loopback address needs no token; any other address
// refuses to start without one. Requests are bounded in size and rate. The
// HTTP parsing is cpp-httplib's (Debian's libcpp-httplib-dev).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace mw::status {

struct HttpServerOptions {
  std::string listen;  // "HOST:PORT" ("[::1]:PORT" for IPv6); PORT 0 = any free port. Empty = off.
  // Required (the constructor throws) unless HOST is a loopback address; when
  // set, every request must carry it (Authorization: Bearer T, or ?token=T); 401 otherwise.
  std::string token;
  std::size_t max_request_bytes = 16 * 1024;  // request line + headers + body; larger → 413
  unsigned max_requests_per_second = 20;      // server-wide token bucket; excess → 429
};

struct Routes {
  std::function<std::string()> page_html;    // GET /             text/html; charset=utf-8
  std::function<std::string()> status_json;  // GET /status.json  application/json
  std::function<std::string()> metrics;      // GET /metrics      text/plain; version=0.0.4; charset=utf-8
};  // any other path → 404, another method on these → 405; a callback that throws → 500

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

class HttpStatusServer {
 public:
  // Binds and starts serving on its own threads; throws mw::Error naming the
  // address on a bad address, a bind failure or a missing token.
  HttpStatusServer(HttpServerOptions options, Routes routes);
  // Stops and joins; callbacks are not called after it returns.
  ~HttpStatusServer();
  HttpStatusServer(const HttpStatusServer&) = delete;
  HttpStatusServer& operator=(const HttpStatusServer&) = delete;

  // The address actually bound, e.g. "127.0.0.1:41234" (the port filled in when 0 was asked).
  std::string bound_address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::status
