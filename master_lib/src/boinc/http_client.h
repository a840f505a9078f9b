// boinc/http_client.h — the one HTTP(S) client of the remote BOINC interface.
//
// One CURL handle is reused for every request, so a keep-alive connection
// (and its TLS session) serves a whole batch. Certificates are verified unless
// the caller turns that off; a private CA can be named. Network errors and
// 5xx replies are retried with exponential backoff and full jitter; a 4xx is
// final at once (retrying a refused request only hammers the server), and so
// is a failed certificate check. Error messages name the request by the
// caller's label and its URL without the query string, because BOINC's
// get_output.php carries the authenticator there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mw/error.h"

namespace mw::boinc::detail {

struct HttpOptions {
  std::string ca_file;             // PEM bundle of a private CA; empty: the system's
  bool verify_tls = true;
  double connect_timeout_seconds = 15;
  double total_timeout_seconds = 300;
  int max_attempts = 5;            // 1 = no retry
  double backoff_initial_seconds = 0.5;
  double backoff_max_seconds = 30;
};

// One part of a multipart/form-data POST: a field, or a file when
// `file_name` is set.
struct FormPart {
  std::string name;
  std::string data;
  std::string file_name;
};

struct HttpReply {
  long status = 0;
  std::string body;
};

// A final 4xx reply: callers tell "no such page" (a wrong project URL) from
// other refusals by its status.
class HttpRefused : public Error {
 public:
  HttpRefused(const std::string& message, long status) : Error(Errc::remote, message), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs multipart/form-data. `label` names the request in errors. Returns a
  // 2xx reply; throws Error(Errc::remote) for a 4xx, or when the attempts are
  // used up on network errors / 5xx.
  HttpReply post_form(const std::string& url, const std::vector<FormPart>& parts,
                      const std::string& label);
  // GET, with the same rules. `cookie` ("name=value"), when set, is sent as
  // a Cookie header: unlike a query string it stays out of access logs.
  HttpReply get(const std::string& url, const std::string& label, const std::string& cookie = "");

  // Requests sent, counting every attempt (for status and benchmarks).
  std::uint64_t attempts() const { return attempts_; }
  // Replaces the sleep between attempts (tests observe the schedule).
  void set_sleeper(std::function<void(double seconds)> sleeper) { sleep_ = std::move(sleeper); }

 private:
  HttpReply perform(const std::string& url, const std::vector<FormPart>* parts, const std::string& label,
                    const std::string& cookie);
  HttpOptions options_;
  void* curl_ = nullptr;
  std::uint64_t attempts_ = 0;
  std::function<void(double)> sleep_;
};

// Percent-encodes a query-string value.
std::string url_escape(const std::string& text);

}  // namespace mw::boinc::detail
