#include "client_wrapper/fake_boinc_client.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <app_ipc.h>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace mw::test {

using namespace std::chrono_literals;

FakeBoincClient::FakeBoincClient(const std::string& slot) {
  // Just enough of init_data.xml for the API to leave standalone mode.
  std::ofstream(slot + "/" + INIT_DATA_FILE)
      << "<app_init_data>\n<major_version>7</major_version>\n<minor_version>20</minor_version>\n"
         "<release>5</release>\n<app_version>100</app_version>\n<app_name>mw</app_name>\n"
         "<wu_name>fake_wu</wu_name>\n<result_name>fake_wu_0</result_name>\n"
         "<client_pid>" << getpid() << "</client_pid>\n"
         "<shm_key>-1</shm_key>\n"  // -1: attach to the mmap file, not SysV shm
         "</app_init_data>\n";
  const std::string path = slot + "/boinc_mmap_file";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0 || ftruncate(fd, sizeof(SHARED_MEM)) != 0)
    throw std::runtime_error("cannot create " + path);
  void* p = mmap(nullptr, sizeof(SHARED_MEM), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("cannot map " + path);
  shm_ = static_cast<SHARED_MEM*>(p);
  std::memset(shm_, 0, sizeof(SHARED_MEM));
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

FakeBoincClient::~FakeBoincClient() {
  stop_ = true;
  heartbeat_.join();
  munmap(shm_, sizeof(SHARED_MEM));
}

void FakeBoincClient::heartbeat_loop() {
  while (!stop_) {
    shm_->heartbeat.send_msg("<heartbeat/>");
    std::this_thread::sleep_for(200ms);
  }
}

bool FakeBoincClient::send_control(const std::string& message) {
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!shm_->process_control_request.send_msg(message.c_str())) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

double FakeBoincClient::reported_fraction_done() {
  char buf[MSG_CHANNEL_SIZE];
  if (shm_->app_status.get_msg(buf)) {
    if (const char* tag = std::strstr(buf, "<fraction_done>"))
      last_fraction_ = std::atof(tag + std::strlen("<fraction_done>"));
  }
  return last_fraction_;
}

}  // namespace mw::test
