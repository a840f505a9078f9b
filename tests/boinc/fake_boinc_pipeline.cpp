#include "boinc/fake_boinc_pipeline.h"

#include <sys/stat.h>

#include <chrono>
#include <regex>

#include "mw/boinc/delivery_hosts.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/inline_task.h"
#include "mw/runner.h"
#include "mw/task_format.h"
#include "support/test_support.h"
#include "util/fs.h"

namespace mw::test {

FakeBoincPipeline::FakeBoincPipeline(const BoincTestProject& project, std::string deliver_dir,
                                     std::vector<PublicKey> trusted)
    : project_(project), deliver_dir_(std::move(deliver_dir)), trusted_(std::move(trusted)) {}

FakeBoincPipeline::~FakeBoincPipeline() { stop(); }

void FakeBoincPipeline::start() { thread_ = std::thread([this] { loop(); }); }

void FakeBoincPipeline::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void FakeBoincPipeline::loop() {
  SqlConnection db = project_.server().connect(project_.db_name());
  while (!stop_) {
    if (!paused_) {
      for (const SqlRow& wu : db.rows("SELECT id, name, xml_doc, batch, error_mask FROM workunit "
                                      "WHERE assimilate_state = 0 ORDER BY id LIMIT 100")) {
        handle(wu);
        db.execute("UPDATE workunit SET assimilate_state = 2 WHERE id = " + wu.at("id"));
        ++delivered_;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void FakeBoincPipeline::handle(const SqlRow& wu) {
  const std::string dir = deliver_dir_ + "/" + wu.at("batch");
  ::mkdir(deliver_dir_.c_str(), 0775);
  ::mkdir(dir.c_str(), 0775);
  const std::string name = wu.at("name");
  if (wu.at("error_mask") != "0") {
    write_text(dir + "/." + name + ".tmp", "error_mask " + wu.at("error_mask") + ": cancelled\n");
    ::rename((dir + "/." + name + ".tmp").c_str(), (dir + "/" + name + ".error").c_str());
    return;
  }
  // The workunit's files, in <file_info> order: the bundle, then the program.
  std::vector<std::string> files;
  static const std::regex file_name("<file_info>[\\s\\S]*?<name>([^<]+)</name>");
  const std::string& xml = wu.at("xml_doc");
  for (std::sregex_iterator it(xml.begin(), xml.end(), file_name), end; it != end; ++it)
    files.push_back(boinc::dir_hier_path((*it)[1].str(), project_.config().download_dir,
                                         project_.config().uldl_dir_fanout));
  ScratchDir scratch;
  const std::string task_dir = scratch / "task";
  ::mkdir(task_dir.c_str(), 0755);
  // As the client and mw-wrapper do: a task in the command line
  // (--mw-task-base64 B64) instead of a first file; the program file follows.
  static const std::regex inline_task(std::string("<command_line>\\s*") + boinc::kInlineTaskOption +
                                      "\\s+([A-Za-z0-9+/=]+)\\s*</command_line>");
  std::smatch m;
  if (std::regex_search(xml, m, inline_task)) {
    // The real client formats the command line into a fixed 8 KiB buffer
    // (client/app_start.cpp); one that would not fit must fail here too.
    const std::size_t length = std::string(boinc::kInlineTaskOption).size() + 1 + m[1].length();
    if (length >= 8192)
      throw std::runtime_error("fake pipeline: a command line of " + std::to_string(length) +
                               " bytes does not fit the BOINC client's 8 KiB buffer");
    write_text(scratch / "task.zip", boinc::decode_inline_task(m[1].str()));
    files.insert(files.begin(), scratch / "task.zip");
  }
  auto unzip = run_command({"/usr/bin/unzip", "-q", files.at(0), "-d", task_dir});
  if (unzip.exit_code != 0) throw std::runtime_error("fake pipeline: unzip failed: " + unzip.err);
  if (files.size() > 1) {
    TaskManifest manifest = parse_task_xml(read_text(task_dir + "/task.xml"));
    write_text(task_dir + "/" + manifest.program.bundled_file, read_text(files[1]));
  }
  const std::string tmp = dir + "/." + name + ".result.tmp";
  run_task_bundle(task_dir, trusted_, tmp);
  if (const int n = volunteer_hosts_; n > 0) {
    boinc::DeliveredHost host;
    host.wu_name = name;
    host.canonical = true;
    host.hostid = 1 + std::stoll(wu.at("id")) % n;
    host.domain_name = "volunteer-" + std::to_string(host.hostid) + ".example.org";
    host.os_name = "Linux";
    host.p_model = "Fake CPU";
    boinc::append_delivered_hosts(dir + "/" + boinc::kDeliveryHostsFile, boinc::format_delivered_host(host));
  }
  ::rename(tmp.c_str(), (dir + "/" + name + ".result").c_str());
}

}  // namespace mw::test
