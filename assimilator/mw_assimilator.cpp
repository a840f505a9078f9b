// mw-assimilator — hands each finished workunit of a BOINC app to the master.
//
//   mw-assimilator --app NAME [--deliver DIR] [-d N] [--mod N I] [--one-pass] [--sleep S]
//                  [--threads N] [--no-batch-collect]
//   (DIR defaults to what mw-project-setup recorded for the app, mw/boinc/install_record.h)
//
// For every workunit of the app with assimilate_state READY it writes
// DIR/<batch id>/<wu_name>.result (the canonical result bundle's bytes) or
// DIR/<batch id>/<wu_name>.error (first line "error_mask N: reasons"), marks
// it DONE with transition_time = now (so the transitioner schedules file
// deletion) and, after a batch's last workunit, marks the batch COMPLETE.
// Who ran it goes to DIR/<batch id>/mw_hosts.tsv (mw/boinc/delivery_hosts.h):
// appended in step 1, so it is durable before the delivery is named.
//
// Durability, in this order, for a group of up to kGroup workunits (so a kill
// -9 or a power cut at any point loses no acknowledged delivery and leaves no
// half file under a final name):
//   1. every file of the group is written under its hidden temp name
//      DIR/<batch>/.<name>.tmp, not synced;
//   2. one barrier makes them all durable: a syncfs of each file system they
//      are on (one, normally), through a descriptor opened before the files
//      were written, so a write-back error of any of them is reported;
//   3. only then each temp file is renamed to its final name (and a batch's
//      result linked into results/, below), so a final name never denotes a
//      partly written file;
//   4. each directory written to (and the parent of one just created) is
//      fsynced once: every rename and link is durable;
//   5. only then the group is marked DONE, one transaction per batch of the
//      group (not per workunit: the bytes are safe already).
// A crash before 5 leaves the workunits READY: the next pass writes the same
// bytes under the same names again (a leftover temp file is overwritten). A
// failed barrier (2) or directory fsync (4) ends the daemon, naming the path,
// with the group not marked.
//
// Why one syncfs (issue 23, measured with bench_daemons on this project's
// ext4, 3,000 quorum-2 workunits of 1 KB, bench/README.md): an fsync per file
// (as before) cost the assimilator 0.43-0.56 ms of CPU per workunit, each a
// journal commit of its own; fdatasync of the group's files from a pool of 8
// threads (whose syncs join journal commits) 0.27-0.38 ms, of 32 threads
// 0.44-0.51 ms; one syncfs 0.15-0.18 ms, with as many or more workunits per
// second. On tmpfs the barrier costs nothing. Its price is that it also writes
// back what other processes left dirty on that file system, which the kernel
// would write back within seconds anyway; the bench starts its daemons on a
// clean file system so that their barrier does not pay for its setup.
//
// A result of a workunit in a batch is also linked (a hard link: no second
// copy) into BOINC 8's batch-collect layout, PROJECT/results/<batch id>/
// <wu_name>__file_<open name>, which get_output3.php serves to remote
// submitters and retire_batch deletes. BOINC's file_deleter removes the
// upload/ copy seconds after the workunit is DONE, and get_output.php reads
// only upload/: without this a remote master that fetches late gets nothing.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mw/boinc/daemon.h"
#include "mw/boinc/delivery_hosts.h"
#include "mw/boinc/install_record.h"
#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/result_files.h"
#include "mw/error.h"
#include "util/command_line.h"

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

// Creates `path` if missing; true when this call created it (its parent must
// then be fsynced for the new entry to be durable).
bool ensure_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0775) == 0) return true;
  if (errno != EEXIST) io_fail("cannot create directory", path, errno);
  return false;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

void fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_fail("cannot open directory", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) io_fail("cannot fsync directory", path, err);
}

void write_all(int fd, const std::string& path, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot write", path, errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void copy_into(int out, const std::string& out_path, const std::string& source_path) {
  const int in = ::open(source_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) io_fail("cannot open canonical result bundle", source_path, errno);
  char buf[1 << 16];
  try {
    for (;;) {
      const ssize_t r = ::read(in, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) io_fail("cannot read", source_path, errno);
      if (r == 0) break;
      write_all(out, out_path, buf, static_cast<std::size_t>(r));
    }
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

// Writes `tmp` from either `source_path` (copied) or `text`. Not synced: the
// caller's barrier makes it durable before it gets its final name. The temp
// name is fixed: only one assimilator handles a workunit, and a temp file left
// by a crash is simply overwritten. On failure the temp file is removed.
void write_temp(const std::string& tmp, const std::string* source_path, const std::string& text) {
  const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) io_fail("cannot create", tmp, errno);
  try {
    if (source_path)
      copy_into(out, tmp, *source_path);
    else
      write_all(out, tmp, text.data(), text.size());
  } catch (...) {
    ::close(out);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(out);
}

void rename_into_place(const std::string& tmp, const std::string& final_path) {
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) io_fail("cannot rename into place", final_path, errno);
}

// A copy made durable on its own (temp file, fsync, rename): for the rare
// batch-collect link that has to be a copy; the rename is durable once the
// caller fsyncs `dir`.
void copy_durably(const std::string& source, const std::string& dir, const std::string& name) {
  const std::string tmp = dir + "/." + name + ".tmp";
  write_temp(tmp, &source, "");
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail("cannot open", tmp, errno);
  const int rc = ::fdatasync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) io_fail("cannot fsync", tmp, err);
  rename_into_place(tmp, dir + "/" + name);
}

// The file systems a group of deliveries is written to, each with a
// descriptor opened before any file of the group is written there: syncfs
// reports a write-back error that happened since its descriptor was opened
// (Linux >= 5.8), so none of the group's writes can fail unnoticed.
class FileSystems {
 public:
  FileSystems() = default;
  FileSystems(const FileSystems&) = delete;
  FileSystems& operator=(const FileSystems&) = delete;
  ~FileSystems() {
    for (const auto& fs : by_device_) ::close(fs.second.fd);
  }

  // Call before writing a file into `dir`.
  void add(const std::string& dir) {
    if (!seen_.insert(dir).second) return;
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) io_fail("cannot open directory", dir, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      io_fail("cannot stat directory", dir, err);
    }
    if (!by_device_.emplace(st.st_dev, Opened{fd, dir}).second) ::close(fd);
  }

  // One syncfs per file system: every file written there is durable after it.
  void sync() const {
    for (const auto& fs : by_device_)
      if (::syncfs(fs.second.fd) != 0)
        throw Error(Errc::io, "cannot sync the file system of '" + fs.second.dir +
                                  "' (the files just written there are not durable): " + std::strerror(errno));
  }

 private:
  struct Opened {
    int fd;
    std::string dir;
  };
  std::set<std::string> seen_;
  std::map<dev_t, Opened> by_device_;
};

// A workunit ready to assimilate, with its canonical result's row (if any).
struct ReadyWorkunit {
  std::int64_t id = 0;
  std::string name;
  std::int64_t batch = 0;
  std::int64_t error_mask = 0;  // as read
  std::int64_t canonical = 0;
  std::string result_name, xml_doc_in;  // empty when the canonical row is missing
  std::int64_t mask = 0;                // what is delivered (kNoCanonical added when needed)
  DeliveredHost canonical_host;         // hostid 0 when unknown
};

// The open name of the result bundle (first <file_ref>'s <open_name> in
// result.xml_doc_in; templates/mw_out.xml says result.zip): BOINC's
// get_output3.php finds the file by it.
std::string bundle_open_name(const std::string& xml_doc_in) {
  const auto ref = xml_doc_in.find("<file_ref>");
  const auto b = ref == std::string::npos ? ref : xml_doc_in.find("<open_name>", ref);
  const auto e = b == std::string::npos ? b : xml_doc_in.find("</open_name>", b);
  std::string name = e == std::string::npos ? "" : xml_doc_in.substr(b + 11, e - b - 11);
  const bool safe = !name.empty() && name.size() < 128 && name[0] != '.' &&
                    name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                        std::string::npos;
  return safe ? name : "result.zip";
}

// Puts `source` at `dir/name` as a hard link (through a temp name and
// rename, so a rerun replaces it atomically); a copy where links cannot be
// made (another file system).
void link_into(const std::string& source, const std::string& dir, const std::string& name) {
  const std::string tmp = dir + "/." + name + ".tmp";
  ::unlink(tmp.c_str());
  if (::link(source.c_str(), tmp.c_str()) != 0) {
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) io_fail("cannot link " + source + " as", tmp, errno);
    copy_durably(source, dir, name);
    return;
  }
  rename_into_place(tmp, dir + "/" + name);
}

// One workunit's file, written under its temp name and waiting for the
// group's barrier.
struct Delivery {
  ReadyWorkunit* wu = nullptr;
  std::string dir;    // DIR/<batch>
  std::string name;   // <wu_name>.result or .error
  std::string host_lines;  // for DIR/<batch>/mw_hosts.tsv
  std::string tmp() const { return dir + "/." + name + ".tmp"; }
  std::string final_path() const { return dir + "/" + name; }
};

struct Assimilator {
  DaemonOptions options;
  std::string deliver_dir;
  bool batch_collect = true;
  std::string results_dir;  // PROJECT/results
  ProjectConfig config;
  DaemonLog log;
  std::int64_t app_id = 0;
  std::unique_ptr<WorkerPool> pool;
  // Workunits delivered per group: their directories are fsynced once, then
  // the group is committed. Small enough that a crash redoes little.
  static constexpr std::size_t kGroup = 200;

  // The .error text; `host_lines` gets the hosts whose results failed: a
  // client error, no reply, a validate error or a detached client (outcome
  // 3, 4, 6, 7), or a result judged invalid (validate_state 2).
  std::string error_text(Database& db, const ReadyWorkunit& wu, std::string& host_lines) {
    std::string text = "error_mask " + std::to_string(wu.mask) + ": " + describe_error_mask(wu.mask) + "\n";
    // Detail: how each instance ended (deterministic, so redelivery writes the same bytes).
    auto rows = db.query(
        "SELECT r.name, r.server_state, r.outcome, r.validate_state, r.exit_status, r.hostid, "
        "h.domain_name, h.os_name, h.p_model FROM result r LEFT JOIN host h ON h.id = r.hostid "
        "WHERE r.workunitid = ? ORDER BY r.id",
        {wu.id});
    for (const auto& r : rows) {
      text += "result " + r.text(0) + ": server_state " + r.text(1) + ", outcome " + r.text(2) +
              ", validate_state " + r.text(3) + ", exit_status " + r.text(4) + "\n";
      const std::int64_t outcome = r.integer(2);
      const bool failed = outcome == 3 || outcome == 4 || outcome == 6 || outcome == 7 || r.integer(3) == 2;
      if (failed && !r.is_null(5) && r.integer(5) > 0)
        host_lines += format_delivered_host(host_of_row(wu.name, false, r, 5));
    }
    return text;
  }

  // Columns first..first+3 of `row`: hostid, domain_name, os_name, p_model.
  static DeliveredHost host_of_row(const std::string& wu_name, bool canonical, const DbRow& row, int first) {
    DeliveredHost h;
    h.wu_name = wu_name;
    h.canonical = canonical;
    h.hostid = row.is_null(first) ? 0 : row.integer(first);
    h.domain_name = row.is_null(first + 1) ? "" : row.text(first + 1);
    h.os_name = row.is_null(first + 2) ? "" : row.text(first + 2);
    h.p_model = row.is_null(first + 3) ? "" : row.text(first + 3);
    return h;
  }

  // Creates `dir` if missing; a directory created is recorded in `dirs` by
  // its parent, so that the new entry is made durable with the others.
  static void ensure_dir_noted(const std::string& dir, std::set<std::string>& dirs) {
    if (ensure_dir(dir)) dirs.insert(parent_of(dir));
  }

  // Step 1 for one workunit: its file under the temp name in DIR/<batch>/.
  Delivery write_one(Database& db, ReadyWorkunit& wu, FileSystems& file_systems, std::set<std::string>& dirs) {
    Delivery d;
    d.wu = &wu;
    d.dir = deliver_dir + "/" + std::to_string(wu.batch);
    ensure_dir_noted(d.dir, dirs);
    file_systems.add(d.dir);
    wu.mask = wu.error_mask;
    if (wu.result_name.empty() && wu.mask == 0) wu.mask = kNoCanonical;  // as BOINC's assimilator does
    if (wu.mask == 0) {
      const std::string source = result_bundle_path(config, wu.xml_doc_in, wu.result_name);
      d.name = wu.name + ".result";
      write_temp(d.tmp(), &source, "");
      if (wu.canonical_host.hostid > 0) d.host_lines = format_delivered_host(wu.canonical_host);
    } else {
      d.name = wu.name + ".error";
      write_temp(d.tmp(), nullptr, error_text(db, wu, d.host_lines));
    }
    dirs.insert(d.dir);
    return d;
  }

  // Step 3 for one workunit: the final name, and a result of a batch linked
  // into results/<batch>/. Adds the directories written to `dirs`.
  void place_one(const Delivery& d, std::set<std::string>& dirs) {
    const ReadyWorkunit& wu = *d.wu;
    rename_into_place(d.tmp(), d.final_path());
    const std::string tag = "[WU#" + std::to_string(wu.id) + " " + wu.name + "] ";
    if (wu.mask != 0) {
      log.debug(tag + "delivered error: " + describe_error_mask(wu.mask));
      return;
    }
    if (batch_collect && wu.batch != 0) {
      ensure_dir_noted(results_dir, dirs);
      const std::string collect = results_dir + "/" + std::to_string(wu.batch);
      ensure_dir_noted(collect, dirs);
      link_into(d.final_path(), collect, wu.name + "__file_" + bundle_open_name(wu.xml_doc_in));
      dirs.insert(collect);
    }
    log.debug(tag + "delivered " + wu.result_name);
  }

  // Each batch directory's host lines in one append, before the barrier: a
  // delivery named by step 3 has its line durable already. Who ran a task is
  // only shown to people, so a failure here is logged and delivers anyway.
  void append_hosts(const std::vector<Delivery>& written) {
    std::map<std::string, std::string> by_dir;
    for (const Delivery& d : written) by_dir[d.dir] += d.host_lines;
    for (const auto& [dir, lines] : by_dir) {
      if (lines.empty()) continue;
      try {
        append_delivered_hosts(dir + "/" + kDeliveryHostsFile, lines);
      } catch (const Error& e) {
        log.critical(std::string("hosts of the deliveries not recorded: ") + e.what());
      }
    }
  }

  // Logs a workunit left READY for the next pass (the others go on).
  void skipped(const ReadyWorkunit& wu, const Error& e) {
    log.critical("[WU#" + std::to_string(wu.id) + " " + wu.name + "] not assimilated: " + e.what());
  }

  // Marks delivered workunits of one batch DONE in one transaction (their
  // files are already durable, so a crash before the commit only means the
  // same bytes are delivered again). The batch row is locked first: two
  // assimilators finishing a batch's last workunits are serialised there, so
  // exactly one sees none left. Then the rows still READY are locked and only
  // those are marked (another instance or a restart may have marked some).
  // Returns how many this call marked.
  int commit_group(Database& db, const std::vector<ReadyWorkunit*>& wus) {
    const std::int64_t batch = wus.front()->batch;
    int marked = 0;
    db.transaction_retrying([&] {
      marked = 0;
      std::int64_t njobs = 0;
      int batch_state = 0;
      if (batch != 0) {
        auto b = db.query("SELECT njobs, state FROM batch WHERE id = ? FOR UPDATE", {batch});
        if (!b.empty()) {
          njobs = b[0].integer(0);
          batch_state = static_cast<int>(b[0].integer(1));
        }
      }
      std::vector<DbValue> ids = {std::int64_t{kAssimilateReady}};
      for (const ReadyWorkunit* wu : wus) ids.push_back(wu->id);
      std::set<std::int64_t> ready;
      for (const auto& row :
           db.query("SELECT id FROM workunit WHERE assimilate_state = ? AND id IN (" + sql_placeholders(wus.size()) +
                        ") FOR UPDATE",
                    ids))
        ready.insert(row.integer(0));
      // One UPDATE per error bit to add (none, or "no canonical result").
      std::map<std::int64_t, std::vector<std::int64_t>> by_added_mask;
      for (const ReadyWorkunit* wu : wus)
        if (ready.count(wu->id))
          by_added_mask[wu->mask == kNoCanonical && wu->error_mask == 0 ? wu->mask : 0].push_back(wu->id);
      const std::int64_t now = db_now();
      for (const auto& [added_mask, marked_ids] : by_added_mask) {
        std::vector<DbValue> args = {std::int64_t{kAssimilateDone}, now, added_mask};
        args.insert(args.end(), marked_ids.begin(), marked_ids.end());
        marked += static_cast<int>(
            db.execute("UPDATE workunit SET assimilate_state = ?, transition_time = ?, error_mask = error_mask | ? "
                       "WHERE id IN (" + sql_placeholders(marked_ids.size()) + ")",
                       args));
      }
      if (marked == 0 || batch == 0 || batch_state != kBatchInProgress) return;
      // Any workunit of the batch not done yet? Scanned from the highest id
      // down: a pass goes up in id order, so the first row looked at is
      // usually one still to do, and a large batch is not read whole per group.
      auto open = db.query(
          "SELECT id FROM workunit WHERE batch = ? AND assimilate_state <> ? ORDER BY id DESC LIMIT 1 "
          "LOCK IN SHARE MODE",
          {batch, std::int64_t{kAssimilateDone}});
      if (!open.empty()) return;
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
    return marked;
  }

  // Steps 1 to 4 (top of this file) for wus[first, last): returns the
  // workunits whose files are durable under their final names, ready to be
  // marked DONE. A workunit whose file cannot be written or placed stays
  // READY (logged); a failed barrier or directory fsync throws (naming the
  // path) and ends the daemon with no workunit of the group marked: after an
  // I/O error on the disk, going on would only repeat it.
  std::vector<ReadyWorkunit*> deliver_group(Database& db, std::vector<ReadyWorkunit>& wus, std::size_t first,
                                            std::size_t last) {
    std::set<std::string> dirs;
    std::vector<Delivery> written;
    {
      FileSystems file_systems;
      for (std::size_t i = first; i < last; ++i) {
        try {
          written.push_back(write_one(db, wus[i], file_systems, dirs));
        } catch (const Error& e) {
          if (e.code() == Errc::database) throw;
          skipped(wus[i], e);
        }
      }
      append_hosts(written);
      try {
        file_systems.sync();  // step 2
      } catch (...) {
        for (const Delivery& d : written) ::unlink(d.tmp().c_str());  // no final name was given yet
        throw;
      }
    }
    std::vector<ReadyWorkunit*> placed;
    for (const Delivery& d : written) {
      try {
        place_one(d, dirs);
        placed.push_back(d.wu);
      } catch (const Error& e) {
        skipped(*d.wu, e);
      }
    }
    for (const auto& dir : dirs) fsync_dir(dir);  // step 4
    return placed;
  }

  // One query for the workunits and their canonical results; then, per group:
  // every file written and fsynced, each directory fsynced once (so every
  // delivered file of the group is durable), and only then the group
  // committed, a transaction per batch, on the pool's connections.
  bool pass(Database& db) {
    if (app_id == 0) app_id = app_id_by_name(db, options.app);
    // The first 1000 ready workunits (by id) in a derived table, then their
    // canonical rows; sorted here, since ORDER BY over xml_doc_in would make
    // the server build an on-disk temporary table.
    auto rows = db.query(
        "SELECT w.id, w.name, w.batch, w.error_mask, w.canonical_resultid, r.name, r.xml_doc_in, "
        "r.hostid, h.domain_name, h.os_name, h.p_model "
        "FROM (SELECT id, name, batch, error_mask, canonical_resultid FROM workunit "
        "WHERE appid = ? AND assimilate_state = ? AND " + options.mod_clause() +
        " ORDER BY id LIMIT 1000) w "
        "LEFT JOIN result r ON r.id = w.canonical_resultid AND w.canonical_resultid <> 0 "
        "LEFT JOIN host h ON h.id = r.hostid",
        {app_id, std::int64_t{kAssimilateReady}});
    std::vector<ReadyWorkunit> wus;
    for (const auto& row : rows) {
      ReadyWorkunit wu;
      wu.id = row.integer(0);
      wu.name = row.text(1);
      wu.batch = row.integer(2);
      wu.error_mask = row.integer(3);
      wu.canonical = row.integer(4);
      if (!row.is_null(5)) {
        wu.result_name = row.text(5);
        wu.xml_doc_in = row.is_null(6) ? "" : row.text(6);
        wu.canonical_host = host_of_row(wu.name, true, row, 7);
      }
      wus.push_back(std::move(wu));
    }
    std::sort(wus.begin(), wus.end(), [](const ReadyWorkunit& a, const ReadyWorkunit& b) { return a.id < b.id; });
    std::atomic<int> assimilated{0};
    for (std::size_t first = 0; first < wus.size(); first += kGroup) {
      const std::size_t last = std::min(wus.size(), first + kGroup);
      std::vector<ReadyWorkunit*> group = deliver_group(db, wus, first, last);
      // Step 5: one transaction per batch of the group; batches on the pool's threads.
      std::map<std::int64_t, std::vector<ReadyWorkunit*>> by_batch;
      for (ReadyWorkunit* wu : group) by_batch[wu->batch].push_back(wu);
      std::vector<const std::vector<ReadyWorkunit*>*> parts;
      for (const auto& kv : by_batch) parts.push_back(&kv.second);
      pool->for_each(db, parts.size(), [&](Database& d, std::size_t i) { assimilated += commit_group(d, *parts[i]); });
    }
    if (!wus.empty()) log.normal("assimilated " + std::to_string(assimilated) + " workunits");
    // A pass that found less than a group pauses (--sleep) as an idle one
    // does, so work that trickles in is taken in groups: passes of a few
    // workunits each would pay the query, the directory fsyncs and the commit's
    // log flush for every few workunits.
    return assimilated > 0 && wus.size() >= kGroup;
  }
};

}  // namespace
}  // namespace mw::boinc

namespace {

int assimilator_main(int argc, char** argv) {
  using namespace mw::boinc;
  Assimilator a;
  CLI::App app{"Delivers the results of a BOINC app's finished workunits to a directory",
               "mw-assimilator"};
  add_daemon_options(app, a.options);
  app.add_option("--deliver", a.deliver_dir,
                 "Pickup directory: DIR/<batch id>/<wu_name>.result|.error (default: the install record's, "
                 "else PROJECT/mw_deliver)");
  bool no_batch_collect = false;
  app.add_flag("--no-batch-collect", no_batch_collect,
               "Do not link batch results into PROJECT/results/<batch>/ for get_output3.php");
  int code = parse_daemon_command_line(app, argc, argv);
  if (code >= 0) return code;
  return run_daemon(
      a.options, a.log,
      "mw-assimilator starting: app " + a.options.app + ", deliver to " +
          (a.deliver_dir.empty() ? std::string("the recorded directory") : a.deliver_dir),
      [&](const ProjectConfig& config) {
        a.config = config;
        if (a.deliver_dir.empty()) {
          a.deliver_dir = app_defaults(config, a.options.app).deliver_dir;
          a.log.normal("delivering to " + a.deliver_dir);
        }
        a.batch_collect = !no_batch_collect;
        a.results_dir = config.project_dir + "/results";
        a.pool = std::make_unique<WorkerPool>(db_params_from(config), a.options.threads);
        struct stat st {};
        if (::stat(a.deliver_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          throw mw::Error(mw::Errc::usage, "--deliver " + a.deliver_dir + " is not a directory");
      },
      [&](Database& d) { return a.pass(d); });
}

}  // namespace

// Nothing leaves main as an exception: bin/start's log gets one line and the
// daemon's fatal-error status.
int main(int argc, char** argv) {
  return mw::cli::run_main("mw-assimilator", mw::boinc::kExitDaemonFailed, [&] { return assimilator_main(argc, argv); });
}
