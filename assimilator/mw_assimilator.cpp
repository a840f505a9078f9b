// mw-assimilator — hands each finished workunit of a BOINC app to the master.
//
//   mw-assimilator --app NAME --deliver DIR [-d N] [--mod N I] [--one-pass] [--sleep S]
//
// For every workunit of the app with assimilate_state READY it writes
// DIR/<batch id>/<wu_name>.result (the canonical result bundle's bytes) or
// DIR/<batch id>/<wu_name>.error (first line "error_mask N: reasons"), each
// through ".<name>.tmp", fsync, rename and fsync of the directory, and only
// then, in one transaction, marks the workunit DONE with transition_time = now
// (so the transitioner schedules file deletion) and, after a batch's last
// workunit, the batch COMPLETE. A crash between delivery and commit makes the
// next pass deliver the same bytes under the same name again.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mw/boinc/daemon.h"
#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/result_files.h"
#include "mw/error.h"

namespace mw::boinc {
namespace {

constexpr int kAssimilateReady = 1;
constexpr int kAssimilateDone = 2;
constexpr std::int64_t kNoCanonical = 32;
constexpr int kBatchInProgress = 1;
constexpr int kBatchComplete = 2;

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  throw Error(Errc::io, what + " '" + path + "': " + std::strerror(err));
}

void ensure_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0775) != 0 && errno != EEXIST) io_fail("cannot create directory", path, errno);
}

void fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_fail("cannot open directory", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) io_fail("cannot fsync directory", path, err);
}

// Writes `dir/name` from either `source_path` (copied) or `text`, through
// `dir/.name.tmp`. The temp name is fixed: only one assimilator handles a
// workunit, and a temp file left by a crash is simply overwritten.
void deliver(const std::string& dir, const std::string& name, const std::string* source_path,
             const std::string& text) {
  std::string tmp = dir + "/." + name + ".tmp";
  std::string final_path = dir + "/" + name;
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) io_fail("cannot create", tmp, errno);
  auto write_all = [&](const char* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(out, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(out);
        io_fail("cannot write", tmp, err);
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  };
  if (source_path) {
    int in = ::open(source_path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) {
      int err = errno;
      ::close(out);
      io_fail("cannot open canonical result bundle", *source_path, err);
    }
    char buf[1 << 16];
    for (;;) {
      ssize_t r = ::read(in, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        int err = errno;
        ::close(in);
        ::close(out);
        io_fail("cannot read", *source_path, err);
      }
      if (r == 0) break;
      write_all(buf, static_cast<std::size_t>(r));
    }
    ::close(in);
  } else {
    write_all(text.data(), text.size());
  }
  if (::fsync(out) != 0) {
    int err = errno;
    ::close(out);
    io_fail("cannot fsync", tmp, err);
  }
  ::close(out);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) io_fail("cannot rename into place", final_path, errno);
  fsync_dir(dir);
}

struct Assimilator {
  DaemonOptions options;
  std::string deliver_dir;
  ProjectConfig config;
  DaemonLog log;
  std::int64_t app_id = 0;

  std::string error_text(Database& db, std::int64_t wu_id, std::int64_t mask) {
    std::string text = "error_mask " + std::to_string(mask) + ": " + describe_error_mask(mask) + "\n";
    // Detail: how each instance ended (deterministic, so redelivery writes the same bytes).
    auto rows = db.query(
        "SELECT name, server_state, outcome, validate_state, exit_status FROM result "
        "WHERE workunitid = ? ORDER BY id",
        {wu_id});
    for (const auto& r : rows)
      text += "result " + r.text(0) + ": server_state " + r.text(1) + ", outcome " + r.text(2) +
              ", validate_state " + r.text(3) + ", exit_status " + r.text(4) + "\n";
    return text;
  }

  // Returns true when the workunit was assimilated.
  bool handle(Database& db, const DbRow& wu) {
    const std::int64_t id = wu.integer(0);
    const std::string name = wu.text(1);
    const std::int64_t batch = wu.integer(2);
    std::int64_t mask = wu.integer(3);
    const std::int64_t canonical = wu.integer(4);
    std::string dir = deliver_dir + "/" + std::to_string(batch);
    ensure_dir(dir);
    std::string xml_doc_in, result_name;
    if (canonical != 0) {
      auto rows = db.query("SELECT name, xml_doc_in FROM result WHERE id = ?", {canonical});
      if (!rows.empty()) {
        result_name = rows[0].text(0);
        xml_doc_in = rows[0].is_null(1) ? "" : rows[0].text(1);
      }
    }
    if (result_name.empty() && mask == 0) mask = kNoCanonical;  // as BOINC's assimilator does
    if (mask == 0) {
      std::string source = result_bundle_path(config, xml_doc_in, result_name);
      deliver(dir, name + ".result", &source, "");
      log.debug("[WU#" + std::to_string(id) + " " + name + "] delivered " + result_name);
    } else {
      deliver(dir, name + ".error", nullptr, error_text(db, id, mask));
      log.debug("[WU#" + std::to_string(id) + " " + name + "] delivered error: " + describe_error_mask(mask));
    }
    bool done = false;
    db.transaction([&] {
      std::int64_t njobs = 0;
      int batch_state = 0;
      if (batch != 0) {
        // Lock the batch row first: two assimilators finishing the last two
        // workunits of one batch are serialised here, so exactly one sees zero
        // workunits left and neither waits for the other's workunit rows.
        auto b = db.query("SELECT njobs, state FROM batch WHERE id = ? FOR UPDATE", {batch});
        if (!b.empty()) {
          njobs = b[0].integer(0);
          batch_state = static_cast<int>(b[0].integer(1));
        }
      }
      auto n = db.execute(
          "UPDATE workunit SET assimilate_state = ?, transition_time = ?, error_mask = error_mask | ? "
          "WHERE id = ? AND assimilate_state = ?",
          {std::int64_t{kAssimilateDone}, db_now(), mask == kNoCanonical && wu.integer(3) == 0 ? mask : std::int64_t{0},
           id, std::int64_t{kAssimilateReady}});
      done = n == 1;
      if (!done || batch == 0 || batch_state != kBatchInProgress) return;
      auto left = db.query(
          "SELECT SUM(assimilate_state <> ?), SUM(error_mask <> 0), COUNT(*) FROM workunit "
          "WHERE batch = ? LOCK IN SHARE MODE",
          {std::int64_t{kAssimilateDone}, batch});
      std::int64_t not_done = left[0].is_null(0) ? 0 : left[0].integer(0);
      std::int64_t errors = left[0].is_null(1) ? 0 : left[0].integer(1);
      std::int64_t total = left[0].integer(2);
      if (not_done == 0 && total >= njobs) {
        db.execute(
            "UPDATE batch SET state = ?, completion_time = ?, fraction_done = 1, nerror_jobs = ? "
            "WHERE id = ? AND state = ?",
            {std::int64_t{kBatchComplete}, static_cast<double>(db_now()), errors, batch,
             std::int64_t{kBatchInProgress}});
        log.normal("batch " + std::to_string(batch) + " complete");
      }
    });
    return done;
  }

  bool pass(Database& db) {
    if (app_id == 0) app_id = app_id_by_name(db, options.app);
    auto wus = db.query(
        "SELECT id, name, batch, error_mask, canonical_resultid FROM workunit "
        "WHERE appid = ? AND assimilate_state = ? AND " + options.mod_clause() +
        " ORDER BY id LIMIT 1000",
        {app_id, std::int64_t{kAssimilateReady}});
    int assimilated = 0;
    for (const auto& wu : wus) {
      try {
        if (handle(db, wu)) ++assimilated;
      } catch (const Error& e) {
        if (e.code() == Errc::database) throw;
        // The workunit stays READY and is tried again next pass; the others go on.
        log.critical("[WU#" + wu.text(0) + " " + wu.text(1) + "] not assimilated: " + e.what());
      }
    }
    if (!wus.empty()) log.normal("assimilated " + std::to_string(assimilated) + " workunits");
    return assimilated > 0;
  }
};

}  // namespace
}  // namespace mw::boinc

int main(int argc, char** argv) {
  using namespace mw::boinc;
  Assimilator a;
  CLI::App app{"Delivers the results of a BOINC app's finished workunits to a directory",
               "mw-assimilator"};
  add_daemon_options(app, a.options);
  app.add_option("--deliver", a.deliver_dir, "Pickup directory: DIR/<batch id>/<wu_name>.result|.error")
      ->required();
  int code = parse_daemon_command_line(app, argc, argv);
  if (code >= 0) return code;
  return run_daemon(
      a.options, a.log, "mw-assimilator starting: app " + a.options.app + ", deliver to " + a.deliver_dir,
      [&](const ProjectConfig& config) {
        a.config = config;
        struct stat st {};
        if (::stat(a.deliver_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          throw mw::Error(mw::Errc::usage, "--deliver " + a.deliver_dir + " is not a directory");
      },
      [&](Database& d) { return a.pass(d); });
}
