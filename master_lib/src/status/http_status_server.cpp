#include "status/http_status_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "mw/error.h"

namespace mw::status {
namespace {

struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};

HostPort parse_listen(const std::string& listen) {
  const auto bad = [&](const std::string& why) {
    return Error(Errc::usage, "status server address '" + listen + "': " + why +
                                  " (want HOST:PORT, e.g. 127.0.0.1:8787 or [::1]:8787)");
  };
  HostPort out;
  std::string port;
  if (!listen.empty() && listen[0] == '[') {
    const auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      throw bad("an IPv6 address in brackets must be followed by :PORT");
    out.host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw bad("no port");
    out.host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) throw bad("an IPv6 address needs brackets");
  }
  if (out.host.empty()) throw bad("no host");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    throw bad("the port is not a number");
  out.port = std::stoi(port);
  if (out.port > 65535) throw bad("the port is above 65535");
  return out;
}

// Compares without an early exit, so the time taken says nothing about the token.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  return diff == 0;
}

void plain(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_content(text + "\n", "text/plain; charset=utf-8");
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

struct HttpStatusServer::Impl {
  HttpServerOptions options;
  Routes routes;
  std::string host;
  int port = 0;
  httplib::Server server;
  std::thread thread;

  std::mutex mu;
  std::condition_variable started_cv;
  bool thread_done = false;

  // The token bucket: up to max_requests_per_second at once, refilled at that rate.
  std::mutex bucket_mu;
  double tokens = 0;
  std::chrono::steady_clock::time_point refilled = std::chrono::steady_clock::now();

  bool take_token() {
    std::lock_guard<std::mutex> lock(bucket_mu);
    const auto now = std::chrono::steady_clock::now();
    const double rate = options.max_requests_per_second;
    tokens = std::min(rate, tokens + rate * std::chrono::duration<double>(now - refilled).count());
    refilled = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  bool authorised(const httplib::Request& req) const {
    if (options.token.empty()) return true;
    const std::string auth = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    if (auth.size() > bearer.size() && auth.compare(0, bearer.size(), bearer) == 0 &&
        same_secret(auth.substr(bearer.size()), options.token))
      return true;
    return req.has_param("token") && same_secret(req.get_param_value("token"), options.token);
  }

  std::size_t request_bytes(const httplib::Request& req) const {
    std::size_t n = req.method.size() + req.target.size() + req.version.size() + 4;
    for (const auto& [name, value] : req.headers) n += name.size() + value.size() + 4;
    return n + req.body.size();
  }

  const std::function<std::string()>* route(const std::string& path,
                                             const char** type) const {
    if (path == "/") {
      *type = "text/html; charset=utf-8";
      return &routes.page_html;
    }
    if (path == "/status.json") {
      *type = "application/json";
      return &routes.status_json;
    }
    if (path == "/metrics") {
      *type = "text/plain; version=0.0.4; charset=utf-8";
      return &routes.metrics;
    }
    return nullptr;
  }

  // Every request ends here: cpp-httplib has no other handler and serves no files.
  void handle(const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    if (!take_token()) {
      res.set_header("Retry-After", "1");
      plain(res, 429, "too many requests");
    } else if (request_bytes(req) > options.max_request_bytes) {
      plain(res, 413, "request larger than " + std::to_string(options.max_request_bytes) + " bytes");
    } else if (!authorised(req)) {
      res.set_header("WWW-Authenticate", "Bearer");
      plain(res, 401, "this status server needs its token (Authorization: Bearer TOKEN, or ?token=TOKEN)");
    } else {
      const char* type = nullptr;
      const auto* callback = route(req.path, &type);
      if (!callback || !*callback) {
        plain(res, 404, "not found: the routes are /, /status.json and /metrics");
      } else if (req.method != "GET" && req.method != "HEAD") {
        res.set_header("Allow", "GET, HEAD");
        plain(res, 405, "method not allowed: use GET");
      } else {
        try {
          res.set_content((*callback)(), type);
          res.status = 200;
          if (req.path == "/")
            res.set_header("Content-Security-Policy",
                           "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                           "img-src data:; connect-src 'self'");
        } catch (const std::exception&) {
          // What went wrong stays in the process; a viewer learns only that it did.
          plain(res, 500, "internal error while producing " + req.path);
        }
      }
    }
  }

  // A request without a body is answered before cpp-httplib looks any
  // further; one with a body goes on, so that the body is read (up to
  // max_request_bytes, else cpp-httplib answers 413) and cannot be taken for
  // the next request on the connection, and reaches the catch-all handlers.
  httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res) {
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding"))
      return httplib::Server::HandlerResponse::Unhandled;
    handle(req, res);
    return httplib::Server::HandlerResponse::Handled;
  }
};

HttpStatusServer::HttpStatusServer(HttpServerOptions options, Routes routes)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  if (options.listen.empty()) throw Error(Errc::usage, "status server: no address to listen on");
  const HostPort where = parse_listen(options.listen);
  if (options.token.empty() && !is_loopback_host(where.host))
    throw Error(Errc::usage, "status server address '" + options.listen +
                                 "' is not a loopback address: it needs a token, which every request must "
                                 "then carry");
  if (options.max_requests_per_second == 0)
    throw Error(Errc::usage, "status server '" + options.listen + "': max_requests_per_second is 0");
  s.options = std::move(options);
  s.routes = std::move(routes);
  s.host = where.host == "localhost" ? "127.0.0.1" : where.host;
  s.tokens = s.options.max_requests_per_second;

  s.server.set_pre_routing_handler(
      [&s](const httplib::Request& req, httplib::Response& res) { return s.pre_route(req, res); });
  const auto handler = [&s](const httplib::Request& req, httplib::Response& res) { s.handle(req, res); };
  s.server.Get(".*", handler);
  s.server.Post(".*", handler);
  s.server.Put(".*", handler);
  s.server.Patch(".*", handler);
  s.server.Delete(".*", handler);
  s.server.Options(".*", handler);
  // cpp-httplib's default adds SO_REUSEPORT, with which a second master on
  // the same port would bind too and take half of the requests.
  s.server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.server.set_payload_max_length(s.options.max_request_bytes);
  s.server.set_read_timeout(5, 0);
  s.server.set_write_timeout(5, 0);
  s.server.set_keep_alive_max_count(100);
  s.server.set_keep_alive_timeout(5);
  // Two threads answer: a status page is looked at by a few people at a time.
  s.server.new_task_queue = [] { return new httplib::ThreadPool(2); };

  if (where.port == 0) {
    s.port = s.server.bind_to_any_port(s.host);
    if (s.port < 0)
      throw Error(Errc::system, "status server: cannot bind " + s.options.listen);
  } else {
    if (!s.server.bind_to_port(s.host, where.port))
      throw Error(Errc::system, "status server: cannot bind " + s.options.listen +
                                    " (address in use, or not one of this host's?)");
    s.port = where.port;
  }
  s.thread = std::thread([&s] {
    s.server.listen_after_bind();
    std::lock_guard<std::mutex> lock(s.mu);
    s.thread_done = true;
    s.started_cv.notify_all();
  });
  // stop() before the listening loop started would be lost: wait for it.
  std::unique_lock<std::mutex> lock(s.mu);
  while (!s.server.is_running() && !s.thread_done)
    s.started_cv.wait_for(lock, std::chrono::milliseconds(1));
}

HttpStatusServer::~HttpStatusServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string HttpStatusServer::bound_address() const {
  const bool v6 = impl_->host.find(':') != std::string::npos;
  return (v6 ? "[" + impl_->host + "]" : impl_->host) + ":" + std::to_string(impl_->port);
}

}  // namespace mw::status
