#include "boinc/fake_boinc_server.h"

#include "support/boinc_project.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <ctime>
#include <thread>

#include "mw/boinc/hierarchy.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/templates.h"
#include "mw/bundle.h"
#include "mw/hash.h"

namespace mw::test {
namespace {

constexpr std::int64_t kUnsent = 2, kInProgress = 4, kOver = 5;
constexpr std::int64_t kSuccess = 1, kClientError = 3, kDidntNeed = 5, kValidateError = 6;
constexpr std::int64_t kInvalid = 2, kNoCheck = 3, kInconclusive = 4;

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

FakeBoincServer::FakeBoincServer(const std::string& db_name, int fanout) : db_name_(db_name) {
  PrivateMariaDb& server = PrivateMariaDb::shared();
  server.create_database(db_name);
  server.load_schema(db_name, MW_BOINC_SCHEMA);
  for (const char* d : {"upload", "download", "cgi-bin", "templates", "pickup"})
    std::filesystem::create_directories(project_ / d);
  write_text(project_ / "templates/mw_out.xml", test_output_template());
  write_text(project_ / "config.xml",
             "<boinc>\n<config>\n"
             "  <db_name>" + db_name + "</db_name>\n"
             "  <db_host>" + server.host() + ":" + std::to_string(server.port()) + "</db_host>\n"
             "  <db_user>" + server.user() + "</db_user>\n"
             "  <db_passwd>" + server.password() + "</db_passwd>\n"
             "  <host>testhost</host>\n"
             "  <download_url>http://test.invalid/download</download_url>\n"
             "  <download_dir>" + (project_ / "download") + "</download_dir>\n"
             "  <upload_url>http://test.invalid/cgi-bin/file_upload_handler</upload_url>\n"
             "  <upload_dir>" + (project_ / "upload") + "</upload_dir>\n"
             "  <uldl_dir_fanout>" + std::to_string(fanout) + "</uldl_dir_fanout>\n"
             "  <dont_generate_upload_certificates>1</dont_generate_upload_certificates>\n"
             "</config>\n</boinc>\n");
  boinc::DbParams p;
  p.socket = server.socket_path();
  p.user = server.user();
  p.password = server.password();
  p.database = db_name;
  db_ = std::make_unique<boinc::Database>(p);
  db_->execute("INSERT INTO app (create_time, name, user_friendly_name) VALUES (?, 'mw', 'mwkit')", {now()});
  app_id_ = static_cast<std::int64_t>(db_->last_insert_id());
  for (int i = 1; i <= 4; ++i) {
    db_->execute(
        "INSERT INTO user (id, create_time, email_addr, name, authenticator, country, postal_code, "
        "total_credit, expavg_credit, expavg_time, global_prefs, project_prefs, teamid, venue, url, "
        "send_email, show_hosts, posts, seti_id, seti_nresults, seti_last_result_time, "
        "seti_total_cpu, has_profile, cross_project_id, passwd_hash, email_validated, donated) "
        "VALUES (?, 0, ?, ?, ?, '', '', 0, 0, 0, '', '', 0, '', '', 0, 0, 0, 0, 0, 0, 0, 0, '', '', 0, 0)",
        {std::int64_t{i}, "u" + std::to_string(i) + "@test.invalid", "user" + std::to_string(i),
         "auth" + std::to_string(i)});
  }
  // Hosts 1-4 (host i belongs to user i) and team 1 (users 1 and 2), so that
  // credit granted to a result's host, user and team lands on real rows. Only
  // the columns that matter here; the others take their types' zero values.
  db_->execute("SET SESSION sql_mode = ''");
  for (int i = 1; i <= 4; ++i)
    db_->execute("INSERT INTO host (id, userid, create_time, total_credit) VALUES (?, ?, ?, 0)",
                 {std::int64_t{i}, std::int64_t{i}, now()});
  db_->execute("INSERT INTO team (id, userid, name, create_time, total_credit) VALUES (1, 1, 'team1', ?, 0)",
               {now()});
  db_->execute("SET SESSION sql_mode = DEFAULT");
  db_->execute("UPDATE user SET teamid = 1 WHERE id IN (1, 2)");
}

std::int64_t FakeBoincServer::value(const std::string& sql, const std::vector<boinc::DbValue>& args) {
  auto r = db_->query(sql, args);
  return r.empty() || r[0].is_null(0) ? 0 : r[0].integer(0);
}

std::vector<boinc::DbRow> FakeBoincServer::rows(const std::string& sql,
                                                const std::vector<boinc::DbValue>& args) {
  return db_->query(sql, args);
}

std::vector<std::string> FakeBoincServer::daemon_args() const {
  return {"--app", "mw", "--project", project_dir()};
}

std::int64_t FakeBoincServer::create_batch(int njobs) {
  db_->execute(
      "INSERT INTO batch (user_id, create_time, logical_start_time, logical_end_time, "
      "est_completion_time, njobs, fraction_done, nerror_jobs, state, completion_time, "
      "credit_estimate, credit_canonical, credit_total, name, app_id, project_state, description, "
      "expire_time) VALUES (0, ?, 0, 0, 0, ?, 0, 0, 1, 0, 0, 0, 0, ?, ?, 0, '', 0)",
      {now(), std::int64_t{njobs}, "batch" + std::to_string(now()), app_id_});
  return static_cast<std::int64_t>(db_->last_insert_id());
}

std::int64_t FakeBoincServer::create_workunit(const std::string& name, const FakeWorkunit& s) {
  db_->execute(
      "INSERT INTO workunit (create_time, appid, name, xml_doc, batch, rsc_fpops_est, "
      "rsc_fpops_bound, rsc_memory_bound, rsc_disk_bound, need_validate, canonical_resultid, "
      "canonical_credit, transition_time, delay_bound, error_mask, file_delete_state, "
      "assimilate_state, hr_class, opaque, min_quorum, target_nresults, max_error_results, "
      "max_total_results, max_success_results, result_template_file, priority, "
      "rsc_bandwidth_bound, fileset_id, app_version_id, transitioner_flags, size_class, keywords, "
      "app_version_num) VALUES (?, ?, ?, '<workunit>\n</workunit>\n', ?, ?, 1e16, 5e8, 1e9, 0, 0, "
      "0, ?, 604800, 0, 0, 0, 0, 0, ?, ?, ?, ?, ?, 'templates/mw_out.xml', 0, 0, 0, 0, 0, -1, '', 0)",
      {now(), app_id_, name, s.batch, s.rsc_fpops_est, now(), std::int64_t{s.min_quorum},
       std::int64_t{s.target_nresults}, std::int64_t{s.max_error_results},
       std::int64_t{s.max_total_results}, std::int64_t{s.max_success_results}});
  return static_cast<std::int64_t>(db_->last_insert_id());
}

void FakeBoincServer::transition() {
  boinc::ProjectConfig config = boinc::read_project_config(project_dir());
  std::string tmpl = read_text(project_ / "templates/mw_out.xml");
  auto due = db_->query(
      "SELECT id FROM workunit WHERE appid = ? AND transition_time <= ? AND transitioner_flags <> 1",
      {app_id_, now()});
  for (const auto& d : due) {
    std::int64_t wu_id = d.integer(0);
    db_->transaction([&] {
      auto w = db_->query(
          "SELECT name, canonical_resultid, min_quorum, target_nresults, max_error_results, "
          "max_total_results, error_mask, assimilate_state, batch, need_validate "
          "FROM workunit WHERE id = ? FOR UPDATE",
          {wu_id});
      const std::string name = w[0].text(0);
      const std::int64_t canonical = w[0].integer(1), min_quorum = w[0].integer(2),
                         target = w[0].integer(3), max_error = w[0].integer(4),
                         max_total = w[0].integer(5);
      std::int64_t mask = w[0].integer(6), assimilate = w[0].integer(7), need_validate = w[0].integer(9);
      auto results = db_->query(
          "SELECT id, name, server_state, outcome, validate_state FROM result WHERE workunitid = ? "
          "ORDER BY id FOR UPDATE",
          {wu_id});
      std::int64_t unsent = 0, in_progress = 0, success = 0, errors = 0, total = 0, max_suffix = -1;
      bool new_success = false;
      for (const auto& r : results) {
        ++total;
        std::int64_t state = r.integer(2), outcome = r.integer(3), vstate = r.integer(4);
        std::string rname = r.text(1);
        max_suffix = std::max<std::int64_t>(max_suffix, std::stoll(rname.substr(rname.rfind('_') + 1)));
        if (state == kUnsent) ++unsent;
        if (state == kInProgress) ++in_progress;
        if (state == kOver && outcome == kSuccess && vstate != kInvalid) {
          ++success;
          if (vstate == 0) new_success = true;
        }
        if (state == kOver && (outcome == kClientError || outcome == kValidateError)) ++errors;
      }
      if (errors > max_error) mask |= 2;
      std::int64_t needed = target - unsent - in_progress - success;
      if (canonical == 0 && needed > max_total - total) mask |= 8;
      if (mask != 0) {
        db_->execute("UPDATE result SET server_state = ?, outcome = ? WHERE workunitid = ? AND server_state = ?",
                     {kOver, kDidntNeed, wu_id, kUnsent});
        db_->execute(
            "UPDATE result SET validate_state = ? WHERE workunitid = ? AND server_state = ? AND "
            "outcome = ? AND validate_state IN (0, ?)",
            {kNoCheck, wu_id, kOver, kSuccess, kInconclusive});
        if (assimilate == 0) assimilate = 1;
      } else {
        if (new_success && success >= min_quorum) need_validate = 1;
        if (canonical == 0) {
          for (std::int64_t i = 0; i < needed; ++i) {
            std::string rname = name + "_" + std::to_string(++max_suffix);
            std::string doc = boinc::make_result_xml_doc_in(tmpl, "templates/mw_out.xml", rname,
                                                            ++random_, config);
            db_->execute(
                "INSERT INTO result (create_time, workunitid, server_state, outcome, client_state, "
                "hostid, userid, report_deadline, sent_time, received_time, name, cpu_time, "
                "xml_doc_in, xml_doc_out, stderr_out, batch, file_delete_state, validate_state, "
                "claimed_credit, granted_credit, opaque, random, app_version_num, appid, "
                "exit_status, teamid, priority, elapsed_time, flops_estimate, app_version_id, "
                "runtime_outlier, size_class, peak_working_set_size, peak_swap_size, "
                "peak_disk_usage) VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0, 0, ?, 0, ?, '', '', ?, 0, 0, "
                "0, 0, 0, ?, 0, ?, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0)",
                {now(), wu_id, kUnsent, rname, doc, w[0].integer(8), random_, app_id_});
          }
        }
      }
      std::int64_t next = (canonical != 0 || mask != 0) ? 2147483647 : now() + 864000;
      db_->execute(
          "UPDATE workunit SET need_validate = ?, error_mask = ?, assimilate_state = ?, "
          "transition_time = ? WHERE id = ?",
          {need_validate, mask, assimilate, next, wu_id});
    });
  }
}

std::int64_t FakeBoincServer::send_one(std::int64_t wu_id, std::int64_t host) {
  std::int64_t id = value("SELECT id FROM result WHERE workunitid = ? AND server_state = ? ORDER BY id LIMIT 1",
                          {wu_id, kUnsent});
  if (id == 0) throw Error(Errc::usage, "fake scheduler: no unsent result for workunit " + std::to_string(wu_id));
  db_->execute(
      "UPDATE result SET server_state = ?, hostid = ?, userid = ?, sent_time = ?, report_deadline = ?, "
      "teamid = COALESCE((SELECT teamid FROM user WHERE id = ?), 0) WHERE id = ?",
      {kInProgress, host, host, now(), now() + 604800, host, id});
  return id;
}

std::string FakeBoincServer::output_path(std::int64_t result_id) {
  auto r = db_->query("SELECT xml_doc_in FROM result WHERE id = ?", {result_id});
  const std::string& doc = r.at(0).text(0);
  auto b = doc.find("<file_name>") + 11;
  std::string name = doc.substr(b, doc.find("</file_name>") - b);
  boinc::ProjectConfig config = boinc::read_project_config(project_dir());
  return boinc::make_dir_hier_path(name, config.upload_dir, config.uldl_dir_fanout);
}

void FakeBoincServer::report_success(std::int64_t result_id, const std::string& bundle, bool upload) {
  if (upload) write_text(output_path(result_id), bundle);
  db_->transaction([&] {
    db_->execute(
        "UPDATE result SET server_state = ?, outcome = ?, client_state = 5, exit_status = 0, "
        "received_time = ? WHERE id = ?",
        {kOver, kSuccess, now(), result_id});
    db_->execute("UPDATE workunit w JOIN result r ON r.workunitid = w.id SET w.transition_time = ? WHERE r.id = ?",
                 {now(), result_id});
  });
}

void FakeBoincServer::report_client_error(std::int64_t result_id, int exit_status) {
  db_->transaction([&] {
    db_->execute(
        "UPDATE result SET server_state = ?, outcome = ?, client_state = 3, exit_status = ?, "
        "validate_state = ?, received_time = ? WHERE id = ?",
        {kOver, kClientError, std::int64_t{exit_status}, kInvalid, now(), result_id});
    db_->execute("UPDATE workunit w JOIN result r ON r.workunitid = w.id SET w.transition_time = ? WHERE r.id = ?",
                 {now(), result_id});
  });
}

void FakeBoincServer::cancel_workunit(std::int64_t wu_id) {
  db_->transaction([&] {
    db_->execute("UPDATE result SET server_state = ?, outcome = ? WHERE workunitid = ? AND server_state = ?",
                 {kOver, kDidntNeed, wu_id, kUnsent});
    db_->execute("UPDATE workunit SET error_mask = error_mask | 16, transition_time = ? WHERE id = ?",
                 {now(), wu_id});
  });
}

std::string make_result_bundle(const std::string& text, ResultStatus status) {
  ScratchDir dir;
  write_text(dir / "out.txt", text);
  ResultManifest m;
  m.task_name = "task";
  m.status = status;
  if (status != ResultStatus::success) {
    m.reason = "failed";
    m.exit_code = 1;
  } else {
    m.exit_code = 0;
  }
  m.outputs.push_back({"out.txt", text.size(), sha256_hex(text)});
  write_result_bundle(dir / "bundle.zip", m, dir.path());
  return read_text(dir / "bundle.zip");
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const std::string& log) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (null >= 0) ::dup2(null, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

BackgroundProcess::~BackgroundProcess() {
  if (running()) kill_hard();
}

bool BackgroundProcess::running() {
  if (status_ != -2 || pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return false;
  }
  return true;
}

int BackgroundProcess::wait_for_exit(double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (running() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  running();
  return status_;
}

void BackgroundProcess::kill_hard() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  status_ = -1;
}

}  // namespace mw::test
