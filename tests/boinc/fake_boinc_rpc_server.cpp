// FakeBoincRpcServer — see fake_boinc_rpc_server.h.
#include "boinc/fake_boinc_rpc_server.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <tinyxml2.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <ctime>
#include <algorithm>
#include <csignal>
#include <memory>
#include <set>
#include <stdexcept>

#include "mw/boinc/templates.h"
#include "mw/runner.h"
#include "mw/task_format.h"
#include "support/test_support.h"
#include "util/fs.h"

namespace mw::test {
namespace {

using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;

const char* kHead = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n";

std::string error_reply(const std::string& rpc, const std::string& msg) {
  return std::string(kHead) + "<" + rpc + ">\n<error>\n    <error_num>-1</error_num>\n    <error_msg>" + msg +
         "</error_msg>\n</error>\n</" + rpc + ">\n";
}

std::string text_of(const XMLElement* e, const char* name) {
  const XMLElement* c = e ? e->FirstChildElement(name) : nullptr;
  return c && c->GetText() ? c->GetText() : "";
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

bool send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// multipart/form-data → name → (filename, data)
std::map<std::string, std::pair<std::string, std::string>> parse_form(const std::string& content_type,
                                                                      const std::string& body) {
  std::map<std::string, std::pair<std::string, std::string>> form;
  const auto b = content_type.find("boundary=");
  if (b == std::string::npos) return form;
  const std::string boundary = "--" + content_type.substr(b + 9);
  std::size_t pos = body.find(boundary);
  while (pos != std::string::npos) {
    pos += boundary.size();
    if (body.compare(pos, 2, "--") == 0) break;
    pos += 2;  // CRLF
    const auto head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string::npos) break;
    const std::string head = body.substr(pos, head_end - pos);
    const auto next = body.find("\r\n" + boundary, head_end + 4);
    if (next == std::string::npos) break;
    const std::string data = body.substr(head_end + 4, next - head_end - 4);
    auto attr = [&](const std::string& key) {
      const auto k = head.find(key + "=\"");
      if (k == std::string::npos) return std::string();
      const auto e = head.find('"', k + key.size() + 2);
      return head.substr(k + key.size() + 2, e - k - key.size() - 2);
    };
    form[attr("name")] = {attr("filename"), data};
    pos = next + 2;
  }
  return form;
}

}  // namespace

FakeBoincRpcServer::FakeBoincRpcServer(std::string authenticator, std::vector<PublicKey> trusted)
    : auth_(std::move(authenticator)), trusted_(std::move(trusted)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("fake BOINC RPC server: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { accept_loop(); });
  run_thread_ = std::thread([this] { run_loop(); });
}

FakeBoincRpcServer::~FakeBoincRpcServer() {
  stop_ = true;
  release_stalled();
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  run_wake_.notify_all();
  for (auto& t : conn_threads_) t.join();
  run_thread_.join();
  SSL_CTX_free(tls_.load());
}

std::string FakeBoincRpcServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/lab/";
}

void FakeBoincRpcServer::enable_tls(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    SSL_CTX_free(ctx);
    throw std::runtime_error("fake BOINC RPC server: cannot load " + cert_file + " / " + key_file);
  }
  // OpenSSL writes to the socket with write(): a client that hangs up must
  // not kill the test process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  SSL_CTX_free(tls_.exchange(ctx));
}

void FakeBoincRpcServer::reply_status_next(int count, int http_status) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_next_ = count;
  status_code_ = http_status;
}
void FakeBoincRpcServer::drop_next(int count) { std::lock_guard<std::mutex> l(mutex_); drop_next_ = count; }
void FakeBoincRpcServer::malformed_next(int count) { std::lock_guard<std::mutex> l(mutex_); malformed_next_ = count; }
void FakeBoincRpcServer::error_next(const std::string& rpc, const std::string& message) {
  std::lock_guard<std::mutex> l(mutex_);
  error_next_[rpc] = message;
}
void FakeBoincRpcServer::set_delay(double seconds) { std::lock_guard<std::mutex> l(mutex_); delay_ = seconds; }
void FakeBoincRpcServer::set_php82_quirk(bool on) { std::lock_guard<std::mutex> l(mutex_); quirk_ = on; }
void FakeBoincRpcServer::set_paused(bool paused) {
  {
    std::lock_guard<std::mutex> l(mutex_);
    paused_ = paused;
  }
  run_wake_.notify_all();
}
void FakeBoincRpcServer::run_jobs(int count) {
  {
    std::lock_guard<std::mutex> l(mutex_);
    run_allowance_ += count;
  }
  run_wake_.notify_all();
}
void FakeBoincRpcServer::stall_next(const std::string& rpc, int skip) {
  std::lock_guard<std::mutex> l(mutex_);
  stall_rpc_ = rpc;
  stall_skip_ = skip;
  release_ = false;
}
void FakeBoincRpcServer::release_stalled() {
  {
    std::lock_guard<std::mutex> l(mutex_);
    release_ = true;
  }
  stall_wake_.notify_all();
}
bool FakeBoincRpcServer::jobs_idle() const {
  std::lock_guard<std::mutex> l(mutex_);
  for (const auto& [name, job] : jobs_)
    if (job.status == "in_progress") return false;
  return queue_.empty() || (paused_ && run_allowance_ == 0);
}
int FakeBoincRpcServer::stalled() const { std::lock_guard<std::mutex> l(mutex_); return stalled_; }
std::vector<std::string> FakeBoincRpcServer::submitted_jobs() const {
  std::lock_guard<std::mutex> l(mutex_);
  return submitted_order_;
}
void FakeBoincRpcServer::set_no_submit_rights(bool on) { std::lock_guard<std::mutex> l(mutex_); no_submit_rights_ = on; }
void FakeBoincRpcServer::set_no_batch_file_assoc(bool on) { std::lock_guard<std::mutex> l(mutex_); no_batch_file_assoc_ = on; }
void FakeBoincRpcServer::set_batch_collect(bool on) { std::lock_guard<std::mutex> l(mutex_); batch_collect_ = on; }
void FakeBoincRpcServer::keep_upload_files(bool on) { std::lock_guard<std::mutex> l(mutex_); keep_upload_files_ = on; }
std::size_t FakeBoincRpcServer::collect_job_files(std::int64_t now) {
  std::lock_guard<std::mutex> l(mutex_);
  if (now == 0) now = std::time(nullptr);
  std::size_t removed = 0;
  for (auto it = files_.begin(); it != files_.end();) {
    const std::int64_t delete_time = delete_times_[it->first];
    bool live = delete_time != 0 && delete_time >= now;  // its delete time has not come
    for (std::int64_t b : file_batches_[it->first]) {
      auto batch = batches_.find(b);
      live |= batch != batches_.end() && batch->second.state < 3;
    }
    if (live) {
      ++it;
    } else {
      file_batches_.erase(it->first);
      delete_times_.erase(it->first);
      it = files_.erase(it);
      ++removed;
    }
  }
  return removed;
}
std::size_t FakeBoincRpcServer::results_files(std::int64_t batch_id) const {
  std::lock_guard<std::mutex> l(mutex_);
  const std::string dir = std::to_string(batch_id) + "/";
  std::size_t n = 0;
  for (auto it = results_.lower_bound(dir); it != results_.end() && it->first.compare(0, dir.size(), dir) == 0; ++it) ++n;
  return n;
}
std::vector<std::int64_t> FakeBoincRpcServer::live_batches() const {
  std::lock_guard<std::mutex> l(mutex_);
  std::vector<std::int64_t> ids;
  for (const auto& [id, b] : batches_)
    if (b.state != 4) ids.push_back(id);
  return ids;
}
std::vector<std::string> FakeBoincRpcServer::batch_names() const {
  std::lock_guard<std::mutex> l(mutex_);
  std::vector<std::string> names;
  for (const auto& [id, b] : batches_) names.push_back(b.name);
  return names;
}
void FakeBoincRpcServer::set_app_template_files(int files) { std::lock_guard<std::mutex> l(mutex_); app_template_files_ = files; }
void FakeBoincRpcServer::add_foreign_batch(const std::string& name) {
  std::lock_guard<std::mutex> l(mutex_);
  Batch b;
  b.id = next_batch_++;
  b.name = name;
  b.app = "mw";
  b.foreign = true;
  batches_[b.id] = b;
}
void FakeBoincRpcServer::fail_create_work_next(const std::string& message) {
  std::lock_guard<std::mutex> l(mutex_);
  fail_create_work_ = message;
}
std::size_t FakeBoincRpcServer::file_associations() const {
  std::lock_guard<std::mutex> l(mutex_);
  std::size_t n = 0;
  for (const auto& [name, batches] : file_batches_) n += batches.size();
  return n;
}
void FakeBoincRpcServer::fail_job(const std::string& name) { std::lock_guard<std::mutex> l(mutex_); doomed_[name] = true; }

std::map<std::string, int> FakeBoincRpcServer::rpc_counts() const { std::lock_guard<std::mutex> l(mutex_); return rpc_counts_; }
std::vector<std::string> FakeBoincRpcServer::violations() const { std::lock_guard<std::mutex> l(mutex_); return violations_; }
std::vector<std::string> FakeBoincRpcServer::request_bodies() const { std::lock_guard<std::mutex> l(mutex_); return bodies_; }
int FakeBoincRpcServer::uploads_of(const std::string& n) const {
  std::lock_guard<std::mutex> l(mutex_);
  auto it = uploads_.find(n);
  return it == uploads_.end() ? 0 : it->second;
}
int FakeBoincRpcServer::submissions_of(const std::string& n) const {
  std::lock_guard<std::mutex> l(mutex_);
  auto it = submissions_.find(n);
  return it == submissions_.end() ? 0 : it->second;
}
int FakeBoincRpcServer::fetches_of(const std::string& n) const {
  std::lock_guard<std::mutex> l(mutex_);
  auto it = fetches_.find(n);
  return it == fetches_.end() ? 0 : it->second;
}
std::size_t FakeBoincRpcServer::jobs_total() const { std::lock_guard<std::mutex> l(mutex_); return jobs_.size(); }
std::size_t FakeBoincRpcServer::stored_files() const { std::lock_guard<std::mutex> l(mutex_); return files_.size(); }
int FakeBoincRpcServer::batch_state(std::int64_t id) const {
  std::lock_guard<std::mutex> l(mutex_);
  auto it = batches_.find(id);
  return it == batches_.end() ? -1 : it->second.state;
}

void FakeBoincRpcServer::accept_loop() {
  while (!stop_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stop_) return;
      continue;
    }
    ++connections_;
    std::lock_guard<std::mutex> lock(mutex_);
    conn_fds_.push_back(fd);
    conn_threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void FakeBoincRpcServer::serve(int fd) {
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, SSL_free);
  if (SSL_CTX* ctx = tls_.load()) {
    ssl.reset(SSL_new(ctx));
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_accept(ssl.get()) != 1) {
      ++tls_failures_;
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
  }
  auto receive = [&](char* into, std::size_t size) -> long {
    if (ssl) return SSL_read(ssl.get(), into, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    return ::recv(fd, into, size, 0);
  };
  auto send_reply = [&](const std::string& data) {
    if (!ssl) return send_all(fd, data);
    std::size_t off = 0;
    while (off < data.size()) {
      const int n = SSL_write(ssl.get(), data.data() + off, static_cast<int>(std::min<std::size_t>(data.size() - off, INT_MAX)));
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  };
  std::string buffer;
  char chunk[65536];
  for (;;) {
    // Headers.
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      const long n = receive(chunk, sizeof chunk);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    Request req;
    const std::string head = buffer.substr(0, head_end);
    std::size_t line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);
    const auto sp1 = first.find(' '), sp2 = first.rfind(' ');
    req.method = first.substr(0, sp1);
    std::string target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    while (line_end != std::string::npos && line_end < head.size()) {
      const auto next = head.find("\r\n", line_end + 2);
      const std::string line = head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string key = line.substr(0, colon);
        for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers[key] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      line_end = next;
    }
    buffer.erase(0, head_end + 4);
    const std::size_t length =
        req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
    while (buffer.size() < length) {
      const long n = receive(chunk, sizeof chunk);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    req.body = buffer.substr(0, length);
    buffer.erase(0, length);
    ++http_requests_;

    bool drop = false, malformed = false;
    int forced = 0;
    double delay = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      delay = delay_;
      if (drop_next_ > 0) {
        --drop_next_;
        drop = true;
      } else if (status_next_ > 0) {
        --status_next_;
        forced = status_code_;
      } else if (malformed_next_ > 0) {
        --malformed_next_;
        malformed = true;
      }
    }
    if (delay > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    if (drop) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    int status = 200;
    std::string type = "text/xml";
    std::string body;
    if (forced) {
      status = forced;
      type = "text/html";
      body = "<html><body>Service Unavailable</body></html>\n";
    } else if (malformed) {
      body = std::string(kHead) + "<query_batch><id>1</id><njobs>";
    } else {
      std::string rpc;
      body = handle(req, status, type, rpc);
      std::unique_lock<std::mutex> lock(mutex_);
      if (!rpc.empty() && rpc == stall_rpc_ && stall_skip_-- == 0) {
        stall_rpc_.clear();
        ++stalled_;
        stall_wake_.wait(lock, [&] { return release_; });
        --stalled_;
      }
    }
    const std::string reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
                              "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!send_reply(reply)) return;
  }
}

std::string FakeBoincRpcServer::handle(const Request& req, int& status, std::string& type, std::string& rpc) {
  const std::string prefix = "/lab/";
  if (req.path.compare(0, prefix.size(), prefix) != 0) {
    status = 404;
    return "not found";
  }
  const std::string script = req.path.substr(prefix.size());
  if (script == "get_output.php" && req.method == "GET") {
    type = "application/octet-stream";
    return get_output(req.query);
  }
  if (script == "get_output3.php" && req.method == "GET") {
    auto cookie = req.headers.find("cookie");
    return get_output3(req.query, cookie == req.headers.end() ? "" : cookie->second, type);
  }
  if ((script == "submit_rpc_handler.php" || script == "job_file.php") && req.method == "POST") {
    auto it = req.headers.find("content-type");
    std::string body = rpc_reply(script, parse_form(it == req.headers.end() ? "" : it->second, req.body), rpc);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!content_type_override_.empty()) type = content_type_override_;
    content_type_override_.clear();
    return body;
  }
  status = 404;
  type = "text/html";
  return "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n"
         "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n"
         "</body></html>\n";
}

// A page as BOINC's error_page() makes it: HTML, HTTP 200.
static std::string boinc_error_page(const std::string& msg) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Unable to handle request</title></head>\n"
         "<body><h2>Unable to handle request</h2>\n" + msg + "\n</body></html>\n";
}

static std::map<std::string, std::string> query_args(const std::string& query) {
  std::map<std::string, std::string> args;
  std::size_t pos = 0;
  for (;;) {
    const auto amp = query.find('&', pos);
    const std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) args[kv.substr(0, eq)] = url_decode(kv.substr(eq + 1));
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return args;
}

std::string FakeBoincRpcServer::get_output3(const std::string& query, const std::string& cookie, std::string& type) {
  auto args = query_args(query);
  std::lock_guard<std::mutex> lock(mutex_);
  ++rpc_counts_["get_output3"];
  if (query.find(auth_) != std::string::npos) violations_.push_back("get_output3: the authenticator is in the URL");
  if (args["action"] != "get_file") {
    violations_.push_back("get_output3: action '" + args["action"] + "'");
    return boinc_error_page("bad action");
  }
  // get_logged_in_user(): BOINC's login cookie.
  std::string auth;
  for (std::size_t pos = 0; pos < cookie.size();) {
    const auto semi = cookie.find(';', pos);
    std::string kv = cookie.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    kv.erase(0, kv.find_first_not_of(' '));
    if (kv.compare(0, 5, "auth=") == 0) auth = kv.substr(5);
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  if (auth != auth_) return boinc_error_page("This function requires that you log in.");
  auto instance = instances_.find(std::atoll(args["result_id"].c_str()));
  if (instance == instances_.end()) return boinc_error_page("no result");
  const Job& job = jobs_.at(instance->second);
  if (args["index"] != "0") return boinc_error_page("bad index");
  // results/<batch>/<wu>__file_<open name>, as mw-assimilator writes it.
  const std::string path = std::to_string(job.batch) + "/" + job.name + "__file_result.zip";
  auto file = results_.find(path);
  if (file == results_.end())
    return "<br />\n<b>Warning</b>:  readfile(../../results/" + std::to_string(job.batch) + "/" + job.name +
           "__file_result.zip): Failed to open stream: No such file or directory in <b>/home/boincadm/projects/"
           "lab/html/user/get_output3.php</b> on line <b>64</b><br />\n";
  ++fetches_[job.name];
  type = "application/octet-stream";
  return file->second;
}

std::string FakeBoincRpcServer::get_output(const std::string& query) {
  std::map<std::string, std::string> args = query_args(query);
  std::lock_guard<std::mutex> lock(mutex_);
  ++rpc_counts_["get_output"];
  if (args["cmd"] != "workunit_file") {
    violations_.push_back("get_output: cmd '" + args["cmd"] + "'");
    return "ERROR: bad command\n";
  }
  if (args["auth_str"] != auth_) return "ERROR: bad authenticator\n";
  auto job = jobs_.find(args["wu_name"]);
  if (job == jobs_.end()) return "ERROR: no such workunit\n";
  if (args["file_num"] != "0") return "ERROR: bad file_num\n";
  if (!job->second.has_output) return "ERROR: no canonical instance\n";
  // get_output.php reads upload/: gone once file_deleter ran.
  if (!job->second.in_upload_tree)
    return "ERROR: no such file /home/boincadm/projects/lab/upload/" + job->first + "_r0_0\n";
  ++fetches_[job->first];
  return job->second.output;
}

std::string FakeBoincRpcServer::rpc_reply(const std::string& script,
                                          const std::map<std::string, std::pair<std::string, std::string>>& form,
                                          std::string& rpc_name) {
  auto req = form.find("request");
  std::lock_guard<std::mutex> lock(mutex_);
  if (req == form.end()) {
    violations_.push_back(script + ": no 'request' form field");
    return error_reply("unknown", "no request");
  }
  bodies_.push_back(req->second.second);
  XMLDocument doc;
  if (doc.Parse(req->second.second.c_str()) != tinyxml2::XML_SUCCESS || !doc.RootElement()) {
    violations_.push_back(script + ": request is not XML");
    return error_reply("unknown", "can't parse request");
  }
  XMLElement* root = doc.RootElement();
  const std::string rpc = root->Name();
  rpc_name = rpc;
  ++rpc_counts_[rpc];
  static const std::set<std::string> submit_rpcs{"create_batch", "submit_batch", "query_batch", "query_batches",
                                                 "query_completed_job", "abort_batch", "abort_jobs", "retire_batch"};
  static const std::set<std::string> file_rpcs{"query_files", "upload_files"};
  if (!(script == "submit_rpc_handler.php" ? submit_rpcs : file_rpcs).count(rpc)) {
    violations_.push_back(script + ": unknown RPC " + rpc);
    return error_reply(rpc, "unknown command");
  }
  XMLElement* first = root->FirstChildElement();
  if (!first || std::string(first->Name()) != "authenticator") {
    violations_.push_back(rpc + ": <authenticator> is not the first child");
    return error_reply(rpc, "no authenticator");
  }
  if (!first->NextSiblingElement()) {
    violations_.push_back(rpc + ": empty request element");
    return error_reply(rpc, "empty request");
  }
  if (text_of(root, "authenticator") != auth_) return error_reply(rpc, "bad authenticator");
  // BOINC's authenticate_user(): remote RPCs need a user_submit row.
  if (no_submit_rights_) return error_reply(rpc, "no submit access");
  if (script == "job_file.php" && no_batch_file_assoc_ && root->FirstChildElement("batch_id")) {
    // What PHP 8.2 prints for the uncaught exception: no XML at all.
    content_type_override_ = "text/html";
    return "<br />\n<b>Fatal error</b>:  Uncaught mysqli_sql_exception: Table 'lab.batch_file_assoc' doesn't"
           " exist in /home/boincadm/projects/lab/html/inc/db_conn.inc:124\nStack trace:\n#0 /home/boincadm/"
           "projects/lab/html/inc/db_conn.inc(124): mysqli-&gt;query()\n#1 {main}\n  thrown in <b>/home/boincadm/"
           "projects/lab/html/inc/db_conn.inc</b> on line <b>124</b><br />\n";
  }
  auto injected = error_next_.find(rpc);
  if (injected != error_next_.end()) {
    const std::string msg = injected->second;
    error_next_.erase(injected);
    return error_reply(rpc, msg);
  }
  // By <batch_id>, else by <batch_name> (BOINC's get_batch()).
  auto batch_of = [&](const XMLElement* e) -> Batch* {
    const std::string id = text_of(e, "batch_id");
    if (id.empty() || id == "0") {
      const std::string name = text_of(e, "batch_name");
      for (auto& [bid, b] : batches_)
        if (!name.empty() && b.name == name) return &b;
      return nullptr;
    }
    auto it = batches_.find(std::atoll(id.c_str()));
    return it == batches_.end() ? nullptr : &it->second;
  };
  const std::int64_t assoc_batch = std::atoll(text_of(root, "batch_id").c_str());
  const std::int64_t delete_time = std::atoll(text_of(root, "delete_time").c_str());
  std::string out = std::string(kHead) + "<" + rpc + ">\n";
  if (rpc == "create_batch") {
    Batch b;
    b.id = next_batch_++;
    b.app = text_of(root, "app_name");
    b.name = text_of(root, "batch_name");
    if (b.app.empty() || b.name.empty() || !root->FirstChildElement("expire_time")) {
      violations_.push_back("create_batch: app_name, batch_name and expire_time are required");
      return error_reply(rpc, "missing field");
    }
    batches_[b.id] = b;
    out += "<batch_id>" + std::to_string(b.id) + "</batch_id>\n";
  } else if (rpc == "submit_batch") {
    // In submit_rpc_handler.php's order (BOINC 8.3): the checks that come
    // before the batch row is inserted refuse with nothing made; create_work
    // runs after the insert, so what it refuses leaves the batch row behind
    // (INIT, njobs set, no jobs: create_work --stdin inserts its workunits
    // in one statement at the end, or exits at the first bad job).
    const XMLElement* be = root->FirstChildElement("batch");
    const std::string app = text_of(be, "app_name");
    if (app.empty()) return error_reply(rpc, "app not found: ");
    if (quirk_ && !be->FirstChildElement("workunit_template_file"))
      return error_reply(rpc, "couldn't parse input template file "
                              "/home/boincadm/projects/lab/html/inc/../../templates/" + app + "_in");
    // read_input_template(): workunit_template_file if named, else
    // templates/APP_in; a batch-level template, when there is one, fixes
    // every job's file count (validate_batch()).
    const bool app_template = app_template_files_ > 0 && !be->FirstChildElement("workunit_template_file");
    int job_index = 0;
    for (const XMLElement* j = be->FirstChildElement("job"); j; j = j->NextSiblingElement("job"), ++job_index) {
      int files = 0;
      for (const XMLElement* f = j->FirstChildElement("input_file"); f; f = f->NextSiblingElement("input_file")) {
        ++files;
        const std::string mode = text_of(f, "mode");
        if (mode != "local_staged" && mode != "inline" && mode != "remote" && mode != "local" &&
            mode != "semilocal" && mode != "sandbox")
          return error_reply(rpc, "unsupported file mode: " + mode);
      }
      if (app_template && files != app_template_files_)
        return error_reply(rpc, "wrong # of input files for job " + std::to_string(job_index) + ": need " +
                                    std::to_string(app_template_files_) + ", got " + std::to_string(files));
    }
    Batch* b = nullptr;
    const std::int64_t given_id = std::atoll(text_of(be, "batch_id").c_str());
    if (given_id != 0) {
      auto it = batches_.find(given_id);
      if (it == batches_.end()) return error_reply(rpc, "no batch " + std::to_string(given_id));
      b = &it->second;
      if (b->foreign) return error_reply(rpc, "not owner of batch");
      if (b->state != 0) return error_reply(rpc, "batch not in init state");
      if (app != b->app) {
        violations_.push_back("submit_batch: app_name differs from the batch's");
        return error_reply(rpc, "app mismatch");
      }
    } else {
      // The batch row, named as asked (BOINC makes up "user:app:date" for none).
      Batch nb;
      nb.id = next_batch_++;
      nb.app = app;
      nb.name = text_of(be, "batch_name");
      if (nb.name.empty()) nb.name = "submitter:" + app + ":Wed, 02 Dec 2026 03:00:00 +0000";
      b = &(batches_[nb.id] = nb);
    }
    if (!fail_create_work_.empty()) {
      const std::string msg = fail_create_work_;
      fail_create_work_.clear();
      return error_reply(rpc, "create_work failed: " + msg);
    }
    // What BOINC's create_work would find in templates/: mwkit's, as
    // mw-project-setup installs them. Without a name it looks for APP_in / APP_out.
    static const std::map<std::string, std::size_t> input_templates{{"mw_in.xml", 1}, {"mw_in_program.xml", 2}};
    const std::string in_template = text_of(be, "input_template_filename");
    const std::string out_template = text_of(be, "output_template_filename");
    auto in = input_templates.find(in_template);
    if (in == input_templates.end() || out_template != "mw_out.xml") {
      violations_.push_back("submit_batch: input template '" + in_template + "' / output template '" +
                            out_template + "' are not in the project's templates/");
      return error_reply(rpc, "create_work failed: can't open template file templates/" +
                                  (in == input_templates.end() ? (in_template.empty() ? b->app + "_in" : in_template)
                                                               : (out_template.empty() ? b->app + "_out" : out_template)));
    }
    std::vector<Job> jobs;
    std::set<std::string> names;
    for (const XMLElement* j = be->FirstChildElement("job"); j; j = j->NextSiblingElement("job")) {
      Job job;
      job.name = text_of(j, "name");
      job.batch = b->id;
      for (const XMLElement* f = j->FirstChildElement("input_file"); f; f = f->NextSiblingElement("input_file")) {
        if (text_of(f, "mode") != "local_staged" || !files_.count(text_of(f, "source"))) {
          // create_work cannot read a file that is not in download/.
          violations_.push_back("submit_batch: job " + job.name + " names an unstaged file '" +
                                text_of(f, "source") + "'");
          return error_reply(rpc, "create_work failed: create_work() failed: -108");
        }
        job.files.push_back(text_of(f, "source"));
      }
      if (job.files.size() != in->second) {
        violations_.push_back("submit_batch: job " + job.name + " has " + std::to_string(job.files.size()) +
                              " input files but its template " + in->first + " takes " + std::to_string(in->second));
        return error_reply(rpc, "create_work failed: wrong number of input files for job " + job.name);
      }
      const std::string template_problem = check_job_template(j, job);
      if (!template_problem.empty()) {
        violations_.push_back("submit_batch: job " + job.name + ": " + template_problem);
        return error_reply(rpc, "create_work failed: " + template_problem);
      }
      if (job.name.empty() || job.files.empty() || job.files.size() > 2) {
        violations_.push_back("submit_batch: bad job '" + job.name + "'");
        return error_reply(rpc, "create_work failed: bad job");
      }
      if (jobs_.count(job.name) || !names.insert(job.name).second) {
        // workunit.name is unique: the one INSERT of all the batch's workunits fails.
        violations_.push_back("submit_batch: duplicate job name '" + job.name + "'");
        return error_reply(rpc, "create_work failed: wu.insert_batch() failed: -137\nMySQL error: Duplicate entry '" +
                                    job.name + "' for key 'name'");
      }
      jobs.push_back(std::move(job));
    }
    if (jobs.empty()) violations_.push_back("submit_batch: a batch without jobs");  // BOINC takes it
    for (auto& job : jobs) {
      ++submissions_[job.name];
      submitted_order_.push_back(job.name);
      b->jobs.push_back(job.name);
      queue_.push_back(job.name);
      jobs_[job.name] = std::move(job);
    }
    b->state = 1;
    run_wake_.notify_all();
    out += "<batch_id>" + std::to_string(b->id) + "</batch_id>\n";
  } else if (rpc == "query_batch") {
    Batch* b = batch_of(root);
    if (!b) return error_reply(rpc, "no such batch");
    if (b->foreign) return error_reply(rpc, "not owner of batch");
    int done = 0, errors = 0;
    std::string job_xml;
    for (std::size_t i = 0; i < b->jobs.size(); ++i) {
      const std::string& name = b->jobs[i];
      const Job& j = jobs_.at(name);
      done += j.status == "done" || j.status == "error";
      errors += j.status == "error";
      job_xml += "        <job>\n        <id>" + std::to_string(b->id * 100000 + static_cast<std::int64_t>(i)) +
                 "</id>\n        <name>" + name + "</name>\n        <canonical_instance_id>" +
                 std::to_string(j.instance) + "</canonical_instance_id>\n" +
                 "            <status>" + j.status + "</status>\n        </job>\n";
    }
    if (b->state == 1 && done == static_cast<int>(b->jobs.size())) b->state = 2;
    out += "\n        <id>" + std::to_string(b->id) + "</id>\n        <create_time>1795356920</create_time>\n" +
           "        <expire_time>0</expire_time>\n        <est_completion_time>0</est_completion_time>\n" +
           "        <njobs>" + std::to_string(b->jobs.size()) + "</njobs>\n        <fraction_done>" +
           std::to_string(b->jobs.empty() ? 0.0 : double(done) / b->jobs.size()) + "</fraction_done>\n" +
           "        <nerror_jobs>" + std::to_string(errors) + "</nerror_jobs>\n        <state>" +
           std::to_string(b->state) + "</state>\n        <completion_time>0</completion_time>\n" +
           "        <credit_estimate>0</credit_estimate>\n        <credit_canonical>0</credit_canonical>\n" +
           "        <name>" + b->name + "</name>\n        <app_name>" + b->app + "</app_name>\n" + job_xml;
  } else if (rpc == "query_batches") {
    for (const auto& [id, b] : batches_)
      if (b.state != 4 && !b.foreign)  // the user's own, retired ones left out
        out += "    <batch>\n        <id>" + std::to_string(id) + "</id>\n        <njobs>" +
               std::to_string(b.jobs.size()) + "</njobs>\n        <state>" + std::to_string(b.state) +
               "</state>\n        <name>" + b.name + "</name>\n        <app_name>" + b.app +
               "</app_name>\n   </batch>\n";
  } else if (rpc == "abort_batch" || rpc == "retire_batch") {
    Batch* b = batch_of(root);
    if (!b) return error_reply(rpc, "no such batch");
    if (b->foreign) return error_reply(rpc, rpc == "abort_batch" ? "not owner" : "not owner of batch");
    b->state = rpc == "abort_batch" ? 3 : 4;
    if (rpc == "retire_batch") {  // deletes results/<batch>
      const std::string dir = std::to_string(b->id) + "/";
      for (auto it = results_.lower_bound(dir); it != results_.end() && it->first.compare(0, dir.size(), dir) == 0;)
        it = results_.erase(it);
    }
    for (const auto& name : b->jobs)
      if (jobs_[name].status == "queued") jobs_[name].status = "error";
    out += "<success>1</success>\n";
  } else if (rpc == "query_completed_job") {
    auto it = jobs_.find(text_of(root, "job_name"));
    if (it == jobs_.end()) return error_reply(rpc, "no such job");
    // As in the transcript; a job the test doomed failed on its hosts.
    const bool failed = it->second.status == "error";
    out += "<completed_job>\n   <error_mask>" + std::string(failed ? "2" : "0") + "</error_mask>\n" +
           "   <exit_status>" + (failed ? "1" : "0") + "</exit_status>\n   <elapsed_time>1.01</elapsed_time>\n" +
           "   <cpu_time>0</cpu_time>\n   <stderr_out><![CDATA[\n\n&lt;core_client_version&gt;7.20.5&lt;/core_client_version&gt;\n" +
           "&lt;![CDATA[\n&lt;stderr_txt&gt;\n" + (failed ? "mw-wrapper: task exited with status 1" : "") +
           "\n&lt;/stderr_txt&gt;\n]]&gt;\n   ]]></stderr_out>\n</completed_job>\n";
  } else if (rpc == "abort_jobs") {
    for (const XMLElement* n = root->FirstChildElement("job_name"); n; n = n->NextSiblingElement("job_name")) {
      auto it = jobs_.find(n->GetText() ? n->GetText() : "");
      if (it == jobs_.end()) return error_reply(rpc, "no such job");
      if (it->second.status == "queued") it->second.status = "error";
    }
    out += "<success>1</success>\n";
  } else if (rpc == "query_files") {
    out += "<absent_files>\n";
    int i = 0;
    for (const XMLElement* n = root->FirstChildElement("phys_name"); n; n = n->NextSiblingElement("phys_name"), ++i) {
      const std::string name = n->GetText() ? n->GetText() : "";
      if (!files_.count(name)) {
        out += "<file>" + std::to_string(i) + "</file>\n";
        continue;
      }
      if (assoc_batch) file_batches_[name].insert(assoc_batch);
      delete_times_[name] = std::max(delete_times_[name], delete_time);  // never lowered
    }
    out += "</absent_files>\n";
  } else if (rpc == "upload_files") {
    int i = 0;
    for (const XMLElement* n = root->FirstChildElement("phys_name"); n; n = n->NextSiblingElement("phys_name"), ++i) {
      auto part = form.find("file_" + std::to_string(i));
      const std::string name = n->GetText() ? n->GetText() : "";
      if (part == form.end()) {
        violations_.push_back("upload_files: no part file_" + std::to_string(i) + " for " + name);
        return error_reply(rpc, "missing file");
      }
      auto existing = files_.find(name);
      if (existing != files_.end() && existing->second != part->second.second)
        return error_reply(rpc, "file " + name + " exists with other contents");
      files_[name] = part->second.second;
      ++uploads_[name];
      if (assoc_batch) file_batches_[name].insert(assoc_batch);
      delete_times_[name] = std::max(delete_times_[name], delete_time);
    }
    out += "<success/>\n";
  }
  return out + "</" + rpc + ">\n";
}

std::string FakeBoincRpcServer::check_job_template(const XMLElement* j, Job& job) {
  const XMLElement* t = j->FirstChildElement("input_template");
  if (!t) return "";
  // The server writes the element as it came (SimpleXML's asXML) to a file
  // and hands that to create_work: read it with mwkit's copy of BOINC's parser.
  tinyxml2::XMLPrinter printer;
  t->Accept(&printer);
  try {
    const auto tmpl = mw::boinc::InputTemplate::parse(printer.CStr(), "job " + job.name + "'s input_template");
    if (tmpl.file_count() != job.files.size() || tmpl.variable_file_count() != job.files.size())
      return "its input_template has " + std::to_string(tmpl.file_count()) + " <file_info>s for " +
             std::to_string(job.files.size()) + " input files";
    const XMLElement* program = t->FirstChildElement("file_info");
    if (program) program = program->NextSiblingElement("file_info");
    if (program && (!program->FirstChildElement("sticky") || !program->FirstChildElement("no_delete")))
      return "its input_template does not keep the program file (sticky, no_delete)";
    const auto& v = tmpl.values();
    FakeJobQuorum& q = job.quorum;
    q.from_job_template = true;
    q.min_quorum = v.min_quorum.value_or(q.min_quorum);
    q.target_nresults = v.target_nresults.value_or(q.target_nresults);
    q.max_error_results = v.max_error_results.value_or(q.max_error_results);
    q.max_total_results = v.max_total_results.value_or(q.max_total_results);
    q.max_success_results = v.max_success_results.value_or(q.max_success_results);
  } catch (const std::exception& e) {
    return std::string("its input_template does not parse: ") + e.what();
  }
  // create_work's checks (boinc-reference §2.3 step 4), and a quorum that
  // can be reached.
  const FakeJobQuorum& q = job.quorum;
  if (q.target_nresults < 1 || q.max_error_results < 1 || q.max_total_results < 1 || q.max_success_results < 1 ||
      q.max_success_results > q.max_total_results || q.max_error_results > q.max_total_results ||
      q.target_nresults > q.max_success_results || q.min_quorum < 1 || q.min_quorum > q.target_nresults)
    return "inconsistent quorum/result limits in its input_template";
  return "";
}

FakeJobQuorum FakeBoincRpcServer::quorum_of(const std::string& job_name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return jobs_.at(job_name).quorum;
}

void FakeBoincRpcServer::run_loop() {
  for (;;) {
    std::string name;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      run_wake_.wait(lock, [&] { return stop_ || ((!paused_ || run_allowance_ > 0) && !queue_.empty()); });
      if (stop_) return;
      if (paused_) --run_allowance_;
      name = queue_.front();
      queue_.pop_front();
      if (jobs_[name].status != "queued") continue;  // aborted
      jobs_[name].status = "in_progress";
    }
    run_job(name);
  }
}

void FakeBoincRpcServer::run_job(const std::string& name) {
  std::vector<std::string> files;
  bool doomed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& f : jobs_[name].files) files.push_back(files_.at(f));
    doomed = doomed_.count(name) > 0;
  }
  std::string output, status = "done";
  if (doomed) {
    status = "error";
  } else {
    ScratchDir scratch;
    const std::string task_dir = scratch / "task";
    write_text(scratch / "task.zip", files.at(0));
    auto unzip = run_command({"/usr/bin/unzip", "-q", scratch / "task.zip", "-d", task_dir});
    if (unzip.exit_code != 0) {
      status = "error";
    } else {
      if (files.size() > 1) {
        TaskManifest m = parse_task_xml(read_text(task_dir + "/task.xml"));
        // Close-on-exec: a process the test forks meanwhile must not keep the
        // program open for writing (exec would then fail with ETXTBSY).
        mw::detail::write_file_atomic(task_dir + "/" + m.program.bundled_file, files[1], 0755);
      }
      run_task_bundle(task_dir, trusted_, scratch / "result.zip");
      output = read_text(scratch / "result.zip");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Job& job = jobs_[name];
  if (job.status != "in_progress") return;
  job.status = status;
  job.output = std::move(output);
  job.has_output = status == "done";
  if (!job.has_output) return;
  job.instance = next_instance_++;
  instances_[job.instance] = name;
  // The assimilator (mw-assimilator) keeps the output in the batch-collect
  // layout; BOINC's file_deleter then unlinks the upload/ copy.
  if (batch_collect_) results_[std::to_string(job.batch) + "/" + name + "__file_result.zip"] = job.output;
  job.in_upload_tree = keep_upload_files_;
}

}  // namespace mw::test
