// HttpClient — see boinc/http_client.h.
#include "boinc/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "mw/error.h"

namespace mw::boinc::detail {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// Failures that another attempt cannot fix: the URL, the protocol, TLS trust.
bool permanent(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_OUT_OF_MEMORY:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string url_escape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  global_init();
  if (options_.max_attempts < 1) throw Error(Errc::usage, "HTTP max_attempts must be at least 1");
  curl_ = curl_easy_init();
  if (!curl_) throw Error(Errc::system, "cannot create a libcurl handle");
  sleep_ = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpReply HttpClient::post_form(const std::string& url, const std::vector<FormPart>& parts,
                                const std::string& label) {
  return perform(url, &parts, label, "");
}

HttpReply HttpClient::get(const std::string& url, const std::string& label, const std::string& cookie) {
  return perform(url, nullptr, label, cookie);
}

HttpReply HttpClient::perform(const std::string& url, const std::vector<FormPart>* parts, const std::string& label,
                              const std::string& cookie) {
  CURL* curl = static_cast<CURL*>(curl_);
  // Errors name the URL without its query (get_output.php's carries the authenticator).
  const std::string what = label + " (" + url.substr(0, url.find('?')) + ")";
  std::mt19937_64 rng(std::random_device{}());
  double backoff = options_.backoff_initial_seconds;
  std::string last_problem;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      // Full jitter: many masters retrying the same outage do not return in step.
      std::uniform_real_distribution<double> jitter(0, backoff);
      sleep_(jitter(rng));
      backoff = std::min(backoff * 2, options_.backoff_max_seconds);
    }
    curl_easy_reset(curl);  // keeps the connection cache; clears the options
    HttpReply reply;
    char error_text[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout_seconds * 1000));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout_seconds * 1000));
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    if (!cookie.empty()) curl_easy_setopt(curl, CURLOPT_COOKIE, cookie.c_str());
    curl_mime* mime = nullptr;
    // No "Expect: 100-continue": it costs a round trip per upload for nothing.
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (parts) {
      mime = curl_mime_init(curl);
      for (const FormPart& p : *parts) {
        curl_mimepart* part = curl_mime_addpart(mime);
        curl_mime_name(part, p.name.c_str());
        curl_mime_data(part, p.data.data(), p.data.size());
        if (!p.file_name.empty()) curl_mime_filename(part, p.file_name.c_str());
      }
      curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    }
    ++attempts_;
    const CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
      last_problem = std::string(curl_easy_strerror(code)) + (error_text[0] ? std::string(": ") + error_text : "");
      if (permanent(code))
        throw Error(Errc::remote, what + " failed: " + last_problem + " (not retried)");
      continue;
    }
    if (reply.status >= 200 && reply.status < 300) return reply;
    if (reply.status >= 500) {
      last_problem = "HTTP " + std::to_string(reply.status);
      continue;
    }
    throw HttpRefused(what + " was refused: HTTP " + std::to_string(reply.status) + " (not retried)", reply.status);
  }
  throw Error(Errc::remote, what + " failed after " + std::to_string(options_.max_attempts) +
                                " attempts: " + last_problem);
}

}  // namespace mw::boinc::detail
