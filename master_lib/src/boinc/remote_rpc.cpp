// RpcClient — see boinc/remote_rpc.h.
#include "boinc/remote_rpc.h"

#include <tinyxml2.h>

#include "interfaces/boinc_common.h"
#include "mw/boinc/error_mask.h"
#include "mw/hash.h"

#include <cstdlib>
#include <ctime>

namespace mw::boinc::detail {
namespace {

using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;

XMLElement* add(XMLDocument& doc, XMLElement* parent, const char* name, const std::string& text) {
  XMLElement* e = doc.NewElement(name);
  e->SetText(text.c_str());
  parent->InsertEndChild(e);
  return e;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string print(const XMLDocument& doc, bool compact = false) {
  tinyxml2::XMLPrinter printer(nullptr, compact);  // else one element per line, as BOINC's own clients send
  doc.Print(&printer);
  return printer.CStr();
}

std::string child_text(const XMLElement* e, const char* name) {
  const XMLElement* c = e->FirstChildElement(name);
  return c && c->GetText() ? c->GetText() : "";
}

long long child_int(const XMLElement* e, const char* name, const std::string& rpc) {
  const std::string text = child_text(e, name);
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0')
    throw Error(Errc::format, "BOINC RPC " + rpc + ": reply field <" + name + "> is not an integer ('" +
                                  text.substr(0, 40) + "')");
  return v;
}

// Text of an HTML page or PHP error, tags dropped and blanks folded, cut to `max` characters.
std::string page_text(const std::string& body, std::size_t max = 200) {
  std::string out;
  bool in_tag = false, blank = true;
  for (char c : body) {
    if (c == '<') in_tag = true;
    else if (c == '>') in_tag = false;
    else if (!in_tag) {
      const bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
      if (space && blank) continue;
      out += space ? ' ' : c;
      blank = space;
      if (out.size() >= max) break;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Why a BOINC handler answered something other than XML, as the user can act on it.
std::string not_xml_reason(const std::string& script, const std::string& body) {
  if (body.find("batch_file_assoc") != std::string::npos)
    return "the project's database has no batch_file_assoc table, which BOINC's job_file.php needs to stage"
           " files (make_project does not create it: load BOINC's db/schema_condor.sql into the"
           " project's database). The server said: " + page_text(body);
  if (body.empty()) return "the reply is empty (is " + script + " a BOINC project's handler?)";
  const bool html = body.find("<html") != std::string::npos || body.find("<HTML") != std::string::npos ||
                    body.find("<!DOCTYPE") != std::string::npos;
  return std::string("the reply is not XML but ") + (html ? "an HTML page" : "text") + " (" + page_text(body) +
         "): a PHP error on the server, or the URL is not the project's master URL";
}

bool lacks_submit_rights(const std::string& msg) {
  return msg.find("no submit access") != std::string::npos || msg.find("not allowed to submit") != std::string::npos ||
         msg.find("no remote submission") != std::string::npos;
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// <batch_id> or <batch_name>, as BOINC's batch RPCs take either.
void add_batch(XMLDocument& doc, XMLElement* parent, const BatchRef& b) {
  if (b.id != 0) add(doc, parent, "batch_id", std::to_string(b.id));
  else add(doc, parent, "batch_name", b.name);
}

}  // namespace

BatchRef BatchRef::parse(const std::string& text) {
  if (text.empty()) throw Error(Errc::usage, "a batch is named by its id or its name; the text is empty");
  BatchRef b;
  if (all_digits(text) && text.size() < 19) b.id = std::stoll(text);
  else b.name = text;
  return b;
}

std::string BatchRef::describe() const { return id != 0 ? "batch " + std::to_string(id) : "batch '" + name + "'"; }

int RemoteBatchStatus::count(const std::string& status) const {
  int n = 0;
  for (const auto& j : jobs) n += j.status == status;
  return n;
}

const char* batch_state_name(int state) {
  switch (state) {
    case 0: return "init";
    case 1: return "in progress";
    case 2: return "complete";
    case 3: return "aborted";
    case 4: return "retired";
    default: return "unknown";
  }
}

RpcError::RpcError(std::string rpc, int error_num, std::string server_message)
    : Error(Errc::remote, "BOINC RPC " + rpc + " failed: error " + std::to_string(error_num) + ": " +
                              server_message),
      rpc_(std::move(rpc)), error_num_(error_num), server_message_(std::move(server_message)) {}

std::size_t stage_files(RpcClient& rpc, const std::vector<std::string>& names,
                        const std::function<std::string(const std::string&)>& bytes_of, std::int64_t batch_id,
                        std::int64_t delete_time) {
  const std::vector<std::size_t> absent = rpc.query_files(names, batch_id, delete_time);
  std::vector<std::string> group_names, group_bytes;
  std::size_t group_size = 0;
  auto flush = [&] {
    rpc.upload_files(group_names, group_bytes, batch_id, delete_time);
    group_names.clear();
    group_bytes.clear();
    group_size = 0;
  };
  for (std::size_t i : absent) {
    std::string bytes = bytes_of(names[i]);
    group_size += bytes.size();
    group_names.push_back(names[i]);
    group_bytes.push_back(std::move(bytes));
    if (group_size >= (64u << 20)) flush();
  }
  if (!group_names.empty()) flush();
  return absent.size();
}

std::int64_t staging_lease_end() { return static_cast<std::int64_t>(std::time(nullptr)) + kStagingLeaseSeconds; }

std::string job_name_stem(const std::string& batch_name) {
  const std::string stem = workunit_stem(batch_name);
  return stem == batch_name ? stem : stem + "_" + sha256_hex(batch_name).substr(0, 8);
}

std::optional<RemoteBatchStatus> find_batch(RpcClient& rpc, const std::string& name) {
  BatchRef ref;
  ref.name = name;  // by name even when it is all digits
  try {
    return rpc.query_batch(ref);
  } catch (const RpcError& e) {
    if (e.server_message() == "no such batch") return std::nullopt;
    throw;
  }
}

std::int64_t discard_batch_named(RpcClient& rpc, const std::string& name,
                                 const std::function<void(const std::string&)>& warn) {
  try {
    const std::optional<RemoteBatchStatus> made = find_batch(rpc, name);
    if (!made) return 0;
    rpc.retire_batch(made->id);
    warn("the server made batch " + std::to_string(made->id) + " ('" + name + "') before it refused the jobs; it is"
         " retired (BOINC has no RPC that deletes a batch row)");
    return made->id;
  } catch (const Error& e) {
    warn("could not check whether the server made batch '" + name + "' before the submission failed (" + e.what() +
         "); if it did, retire it: mw-work-generator retire --remote URL --auth-file FILE --batch '" + name + "'");
    return 0;
  }
}

std::int64_t submit_new_batch(RpcClient& rpc, const std::string& batch_name, const std::string& app,
                              const WorkunitSettings& settings, const std::vector<RemoteJob>& jobs,
                              bool& workaround, const std::function<void(const std::string&)>& warn) {
  try {
    try {
      return rpc.submit_batch(batch_name, app, settings, jobs, workaround);
    } catch (const RpcError& e) {
      if (workaround || !is_template_quirk(e)) throw;
      warn("warning: the server refused submit_batch with \"" + e.server_message() +
           "\" (BOINC on PHP 8.2); retrying with a workunit_template_file that does not exist");
      workaround = true;
      return rpc.submit_batch(batch_name, app, settings, jobs, true);
    }
  } catch (const RpcError&) {
    discard_batch_named(rpc, batch_name, warn);
    throw;
  }
}

bool is_template_quirk(const RpcError& e) {
  return e.rpc() == "submit_batch" &&
         e.server_message().find("couldn't parse input template file") != std::string::npos;
}

RpcClient::RpcClient(std::string project_url, std::string authenticator, HttpOptions http)
    : url_(std::move(project_url)), authenticator_(std::move(authenticator)), http_(std::move(http)) {
  if (url_.empty()) throw Error(Errc::usage, "the BOINC project URL is empty");
  if (url_.back() != '/') url_ += '/';
  if (authenticator_.empty()) throw Error(Errc::usage, "the BOINC authenticator is empty");
}

// Sends `request_xml` and returns the reply's text; throws RpcError for an
// <error> reply and Error(Errc::format) for a reply that is not the command's XML.
std::string RpcClient::call(const std::string& script, const std::string& rpc, const std::string& request_xml,
                            const std::vector<FormPart>& files) {
  std::vector<FormPart> parts;
  parts.push_back({"request", request_xml, ""});
  parts.insert(parts.end(), files.begin(), files.end());
  ++rpcs_;
  HttpReply reply;
  try {
    reply = http_.post_form(url_ + script, parts, "BOINC RPC " + rpc);
  } catch (const HttpRefused& e) {
    if (e.status() == 404 || e.status() == 410)
      throw Error(Errc::remote, "no BOINC remote job submission at " + url_ + " (" + script + " answers HTTP " +
                                    std::to_string(e.status()) + "): the URL must be the project's master URL,"
                                    " e.g. https://host/PROJECT/");
    throw;
  }
  XMLDocument doc;
  if (doc.Parse(reply.body.data(), reply.body.size()) != tinyxml2::XML_SUCCESS || !doc.RootElement())
    throw Error(Errc::format, "BOINC RPC " + rpc + ": " + not_xml_reason(script, reply.body));
  const XMLElement* root = doc.RootElement();
  if (rpc != root->Name()) {
    // PHP's warnings and fatal errors start with <br />, which parses.
    const std::string name = root->Name();
    if (name == "br" || name == "b" || name == "html" || name == "HTML" ||
        reply.body.find("batch_file_assoc") != std::string::npos)
      throw Error(Errc::format, "BOINC RPC " + rpc + ": " + not_xml_reason(script, reply.body));
    throw Error(Errc::format, "BOINC RPC " + rpc + ": the reply's element is <" + name + ">, expected <" + rpc + ">");
  }
  if (const XMLElement* err = root->FirstChildElement("error")) {
    const std::string num = child_text(err, "error_num");
    const std::string msg = child_text(err, "error_msg");
    if (lacks_submit_rights(msg))
      throw RpcError(rpc, num.empty() ? 0 : std::atoi(num.c_str()),
                     msg + " (the user of this authenticator may not submit jobs: a project administrator grants"
                           " it on the project's user_submit page, or with a user_submit row)");
    throw RpcError(rpc, num.empty() ? 0 : std::atoi(num.c_str()), msg);
  }
  return reply.body;
}

namespace {
// A request document: <rpc><authenticator>…</authenticator>…</rpc>.
struct Request {
  XMLDocument doc;
  XMLElement* root;
  Request(const char* rpc, const std::string& auth) {
    root = doc.NewElement(rpc);
    doc.InsertEndChild(root);
    add(doc, root, "authenticator", auth);
  }
};

// `body` was checked by call(): it parses and its root is the command.
void parse(XMLDocument& doc, const std::string& body) { doc.Parse(body.data(), body.size()); }
}  // namespace

std::int64_t RpcClient::create_batch(const std::string& app, const std::string& batch_name, double expire_time) {
  Request r("create_batch", authenticator_);
  add(r.doc, r.root, "app_name", app);
  add(r.doc, r.root, "batch_name", batch_name);
  add(r.doc, r.root, "expire_time", number(expire_time));
  const std::string body = call("submit_rpc_handler.php", "create_batch", print(r.doc));
  XMLDocument doc;
  parse(doc, body);
  return child_int(doc.RootElement(), "batch_id", "create_batch");
}

std::string input_template_for(const std::vector<RemoteJob>& jobs) {
  const std::size_t files = jobs.empty() ? 1 : jobs.front().files.size();
  for (const RemoteJob& job : jobs)
    if (job.files.size() != files || files < 1 || files > 2)
      throw Error(Errc::usage, "submit_batch: job " + job.name + " has " + std::to_string(job.files.size()) +
                                   " input files; every job of a batch must have 1 (the task bundle) or every"
                                   " job 2 (the bundle and its program), as BOINC checks them against one template");
  return files == 1 ? kInputTemplate : kInputTemplateWithProgram;
}

std::string job_input_template(std::size_t files, const WorkunitSettings& s) {
  if (files < 1 || files > 2)
    throw Error(Errc::usage, "a BOINC job of mwkit's takes 1 input file (the task bundle) or 2 (the bundle and"
                             " its program), not " + std::to_string(files));
  XMLDocument doc;
  XMLElement* root = doc.NewElement("input_template");
  doc.InsertEndChild(root);
  for (std::size_t i = 0; i < files; ++i) {
    XMLElement* info = doc.NewElement("file_info");
    root->InsertEndChild(info);
    add(doc, info, "number", std::to_string(i));
    if (i == 1) {  // the program: one copy per host, kept between jobs
      info->InsertEndChild(doc.NewElement("sticky"));
      info->InsertEndChild(doc.NewElement("no_delete"));
    }
  }
  XMLElement* wu = doc.NewElement("workunit");
  root->InsertEndChild(wu);
  for (std::size_t i = 0; i < files; ++i) {
    XMLElement* ref = doc.NewElement("file_ref");
    wu->InsertEndChild(ref);
    add(doc, ref, "file_number", std::to_string(i));
    add(doc, ref, "open_name", i == 0 ? kBundleOpenName : kProgramOpenName);
  }
  add(doc, wu, "min_quorum", std::to_string(s.min_quorum));
  add(doc, wu, "target_nresults", std::to_string(s.target_nresults));
  add(doc, wu, "max_error_results", std::to_string(s.max_error_results));
  add(doc, wu, "max_total_results", std::to_string(s.max_total_results));
  add(doc, wu, "max_success_results", std::to_string(s.max_success_results));
  return print(doc);
}

std::int64_t RpcClient::submit_batch(const std::string& batch_name, const std::string& app,
                                     const WorkunitSettings& s, const std::vector<RemoteJob>& jobs,
                                     bool template_workaround) {
  if (batch_name.empty()) throw Error(Errc::usage, "submit_batch: the batch needs a name");
  Request r("submit_batch", authenticator_);
  XMLElement* batch = r.doc.NewElement("batch");
  r.root->InsertEndChild(batch);
  add(r.doc, batch, "batch_name", batch_name);
  add(r.doc, batch, "app_name", app);
  add(r.doc, batch, "priority", std::to_string(s.priority));
  add(r.doc, batch, "app_version_num", std::to_string(s.app_version_num));
  XMLElement* params = r.doc.NewElement("job_params");
  batch->InsertEndChild(params);
  add(r.doc, params, "rsc_fpops_est", number(s.rsc_fpops_est));
  add(r.doc, params, "rsc_fpops_bound", number(s.rsc_fpops_bound));
  add(r.doc, params, "rsc_memory_bound", number(s.rsc_memory_bound));
  add(r.doc, params, "rsc_disk_bound", number(s.rsc_disk_bound));
  add(r.doc, params, "delay_bound", std::to_string(s.delay_bound));
  // BOINC reads only rsc_* and delay_bound from <job_params>; the quorum and
  // result limits travel in each job's own input template (one text per batch,
  // so the server writes it to one temporary file for all the batch's jobs).
  const std::string in_template = input_template_for(jobs);
  XMLDocument job_template;
  job_template.Parse(job_input_template(jobs.empty() ? 1 : jobs.front().files.size(), s).c_str());
  for (const RemoteJob& job : jobs) {
    XMLElement* j = r.doc.NewElement("job");
    batch->InsertEndChild(j);
    add(r.doc, j, "name", job.name);
    if (job.command_line) add(r.doc, j, "command_line", *job.command_line);
    if (job.rsc_fpops_est) add(r.doc, j, "rsc_fpops_est", number(*job.rsc_fpops_est));
    for (const RemoteInputFile& f : job.files) {
      XMLElement* in = r.doc.NewElement("input_file");
      j->InsertEndChild(in);
      add(r.doc, in, "mode", f.mode);
      add(r.doc, in, "source", f.source);
    }
    j->InsertEndChild(job_template.RootElement()->DeepClone(&r.doc));
  }
  // Without these BOINC's create_work looks for templates/APP_in and APP_out;
  // mw-project-setup installs mwkit's templates under their own names.
  add(r.doc, batch, "input_template_filename", in_template);
  add(r.doc, batch, "output_template_filename", kOutputTemplate);
  if (template_workaround) add(r.doc, batch, "workunit_template_file", "no_such_file");
  // Compact: the per-job templates would otherwise be mostly indentation.
  const std::string body = call("submit_rpc_handler.php", "submit_batch", print(r.doc, true));
  XMLDocument doc;
  parse(doc, body);
  return child_int(doc.RootElement(), "batch_id", "submit_batch");
}

RemoteBatchStatus RpcClient::query_batch(const BatchRef& batch) {
  Request r("query_batch", authenticator_);
  add_batch(r.doc, r.root, batch);
  add(r.doc, r.root, "get_cpu_time", "0");
  add(r.doc, r.root, "get_job_details", "1");
  const std::string body = call("submit_rpc_handler.php", "query_batch", print(r.doc));
  XMLDocument doc;
  parse(doc, body);
  const XMLElement* root = doc.RootElement();
  RemoteBatchStatus st;
  st.id = child_int(root, "id", "query_batch");
  st.name = child_text(root, "name");
  st.state = static_cast<int>(child_int(root, "state", "query_batch"));
  st.njobs = static_cast<int>(child_int(root, "njobs", "query_batch"));
  st.nerror_jobs = static_cast<int>(child_int(root, "nerror_jobs", "query_batch"));
  st.fraction_done = std::atof(child_text(root, "fraction_done").c_str());
  for (const XMLElement* j = root->FirstChildElement("job"); j; j = j->NextSiblingElement("job")) {
    RemoteJobStatus js;
    js.id = child_int(j, "id", "query_batch");
    js.name = child_text(j, "name");
    js.status = child_text(j, "status");
    if (!child_text(j, "canonical_instance_id").empty())
      js.canonical_instance_id = child_int(j, "canonical_instance_id", "query_batch");
    if (js.name.empty()) throw Error(Errc::format, "BOINC RPC query_batch: a <job> without <name>");
    st.jobs.push_back(std::move(js));
  }
  return st;
}

void RpcClient::abort_batch(const BatchRef& batch) {
  Request r("abort_batch", authenticator_);
  add_batch(r.doc, r.root, batch);
  call("submit_rpc_handler.php", "abort_batch", print(r.doc));
}

std::vector<std::int64_t> RpcClient::query_batches() {
  Request r("query_batches", authenticator_);
  add(r.doc, r.root, "get_cpu_time", "0");
  const std::string body = call("submit_rpc_handler.php", "query_batches", print(r.doc));
  XMLDocument doc;
  parse(doc, body);
  std::vector<std::int64_t> ids;
  for (const XMLElement* b = doc.RootElement()->FirstChildElement("batch"); b; b = b->NextSiblingElement("batch"))
    ids.push_back(child_int(b, "id", "query_batches"));
  return ids;
}

CompletedJob RpcClient::query_completed_job(const std::string& job_name) {
  Request r("query_completed_job", authenticator_);
  add(r.doc, r.root, "job_name", job_name);
  const std::string body = call("submit_rpc_handler.php", "query_completed_job", print(r.doc));
  XMLDocument doc;
  parse(doc, body);
  const XMLElement* job = doc.RootElement()->FirstChildElement("completed_job");
  if (!job) throw Error(Errc::format, "BOINC RPC query_completed_job: the reply has no <completed_job>");
  CompletedJob c;
  c.error_mask = child_int(job, "error_mask", "query_completed_job");
  if (!child_text(job, "exit_status").empty())
    c.exit_status = static_cast<int>(child_int(job, "exit_status", "query_completed_job"));
  c.stderr_out = child_text(job, "stderr_out");
  return c;
}

std::string CompletedJob::describe() const {
  std::string text = "error_mask " + std::to_string(error_mask) + " (" + describe_error_mask(error_mask) +
                     "), exit status " + std::to_string(exit_status);
  // The client wraps stderr in XML-escaped tags; the last lines say most.
  std::string err = stderr_out;
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}})
    for (std::size_t at; (at = err.find(from)) != std::string::npos;) err.replace(at, from.size(), to);
  const auto end = err.find_last_not_of(" \n\r\t]>");
  if (end != std::string::npos && !err.empty()) {
    err = err.substr(0, end + 1);
    if (err.size() > 500) err = "…" + err.substr(err.size() - 500);
    text += "; stderr ends: " + err;
  }
  return text;
}

void RpcClient::abort_jobs(const std::vector<std::string>& job_names) {
  if (job_names.empty()) return;  // BOINC rejects an element with no children besides auth
  Request r("abort_jobs", authenticator_);
  for (const auto& n : job_names) add(r.doc, r.root, "job_name", n);
  call("submit_rpc_handler.php", "abort_jobs", print(r.doc));
}

void RpcClient::retire_batch(const BatchRef& batch) {
  Request r("retire_batch", authenticator_);
  add_batch(r.doc, r.root, batch);
  call("submit_rpc_handler.php", "retire_batch", print(r.doc));
}

std::vector<std::size_t> RpcClient::query_files(const std::vector<std::string>& names, std::int64_t batch_id,
                                                std::int64_t delete_time) {
  if (names.empty()) return {};
  Request r("query_files", authenticator_);
  if (batch_id) add(r.doc, r.root, "batch_id", std::to_string(batch_id));
  if (delete_time) add(r.doc, r.root, "delete_time", std::to_string(delete_time));
  for (const auto& n : names) add(r.doc, r.root, "phys_name", n);
  const std::string body = call("job_file.php", "query_files", print(r.doc));
  XMLDocument doc;
  parse(doc, body);
  std::vector<std::size_t> absent;
  const XMLElement* list = doc.RootElement()->FirstChildElement("absent_files");
  if (!list)
    throw Error(Errc::format, "BOINC RPC query_files: the reply has no <absent_files>");
  for (const XMLElement* f = list->FirstChildElement("file"); f; f = f->NextSiblingElement("file")) {
    const long long i = std::atoll(f->GetText() ? f->GetText() : "-1");
    if (i < 0 || static_cast<std::size_t>(i) >= names.size())
      throw Error(Errc::format, "BOINC RPC query_files: absent file index " + std::to_string(i) +
                                    " is out of range (asked about " + std::to_string(names.size()) + ")");
    absent.push_back(static_cast<std::size_t>(i));
  }
  return absent;
}

void RpcClient::upload_files(const std::vector<std::string>& names, const std::vector<std::string>& contents,
                             std::int64_t batch_id, std::int64_t delete_time) {
  if (names.empty()) return;
  Request r("upload_files", authenticator_);
  if (batch_id) add(r.doc, r.root, "batch_id", std::to_string(batch_id));
  if (delete_time) add(r.doc, r.root, "delete_time", std::to_string(delete_time));
  for (const auto& n : names) add(r.doc, r.root, "phys_name", n);
  std::vector<FormPart> files;
  for (std::size_t i = 0; i < names.size(); ++i)
    files.push_back({"file_" + std::to_string(i), contents.at(i), names[i]});
  uploads_ += names.size();
  call("job_file.php", "upload_files", print(r.doc), files);
}

std::string RpcClient::workunit_file(const std::string& wu_name, int file_num) {
  ++rpcs_;
  HttpReply reply = http_.get(url_ + "get_output.php?cmd=workunit_file&wu_name=" + url_escape(wu_name) +
                                  "&file_num=" + std::to_string(file_num) +
                                  "&auth_str=" + url_escape(authenticator_),
                              "BOINC get_output workunit_file for " + wu_name);
  // get_output.php reports errors as text with HTTP 200.
  if (reply.body.compare(0, 6, "ERROR:") == 0)
    throw RpcError("get_output workunit_file(" + wu_name + ")", -1,
                   reply.body.substr(6, reply.body.find('\n') == std::string::npos ? std::string::npos
                                                                                    : reply.body.find('\n') - 6));
  return std::move(reply.body);
}

std::string RpcClient::batch_collect_file(std::int64_t canonical_instance_id, const std::string& wu_name,
                                          int file_num) {
  const std::string rpc = "get_output3 get_file(" + wu_name + ")";
  if (canonical_instance_id <= 0) throw RpcError(rpc, -1, "the job has no canonical instance");
  ++rpcs_;
  HttpReply reply;
  try {
    // get_output3.php knows the caller by BOINC's login cookie `auth`.
    reply = http_.get(url_ + "get_output3.php?action=get_file&result_id=" + std::to_string(canonical_instance_id) +
                          "&index=" + std::to_string(file_num) + "&download=1",
                      "BOINC get_output3 for " + wu_name, "auth=" + authenticator_);
  } catch (const HttpRefused& e) {
    throw RpcError(rpc, -1, "HTTP " + std::to_string(e.status()));
  }
  // Every output mwkit fetches is a result bundle (a zip); anything else is
  // the script's error page (it answers HTTP 200 with HTML).
  if (reply.body.compare(0, 4, "PK\x03\x04") != 0)
    throw RpcError(rpc, -1, reply.body.empty() ? "empty reply" : page_text(reply.body));
  return std::move(reply.body);
}

std::string RpcClient::job_output(const RemoteJobStatus& job) {
  try {
    return batch_collect_file(job.canonical_instance_id, job.name, 0);
  } catch (const RpcError& collect) {
    try {
      return workunit_file(job.name, 0);
    } catch (const RpcError& upload) {
      throw RpcError("fetch of job " + job.name, -1,
                     "not in the batch-collect outputs (" + collect.server_message() + ") nor in the upload tree (" +
                         upload.server_message() + ")");
    }
  }
}

std::string remote_readiness_problems(RpcClient& rpc) {
  std::string problems;
  auto note = [&](const std::string& what) { problems += what + "\n"; };
  try {
    rpc.query_batches();
  } catch (const Error& e) {
    note(std::string("submit_rpc_handler.php: ") + e.what());
    return problems;  // the URL, the authenticator or the rights: the rest would fail alike
  }
  try {
    rpc.query_files({"mw_readiness_probe_no_such_file"});
  } catch (const Error& e) {
    note(std::string("job_file.php: ") + e.what());
  }
  return problems;
}

}  // namespace mw::boinc::detail
