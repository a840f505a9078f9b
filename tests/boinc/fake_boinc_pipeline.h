// FakeBoincPipeline — a TEST DOUBLE for everything between a new workunit
// and mw-assimilator's delivery directory: BOINC's transitioner, scheduler, a
// volunteer's client running the wrapper, the validator and the assimilator,
// collapsed into one thread. It reads new workunits from the database, runs
// each task with mwkit's runner (the program file put in beside the bundle as
// the wrapper does), and delivers DELIVER/<batch>/<wu>.result — or .error for a
// cancelled workunit — then marks the workunit assimilated. Never shipped.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "mw/signing.h"
#include "support/boinc_project.h"

namespace mw::test {

class FakeBoincPipeline {
 public:
  FakeBoincPipeline(const BoincTestProject& project, std::string deliver_dir,
                    std::vector<PublicKey> trusted);
  ~FakeBoincPipeline();
  void start();
  void stop();
  // While paused, workunits wait (to cancel them first, say).
  void set_paused(bool paused) { paused_ = paused; }
  // With n > 0, workunit W "runs" on host 1 + W % n, which the delivery
  // records as mw-assimilator does (mw/boinc/delivery_hosts.h; named
  // volunteer-<id>.example.org). With 0 (the default) it records none, as
  // an mw-assimilator from before the hosts file.
  void set_volunteer_hosts(int n) { volunteer_hosts_ = n; }
  int delivered() const { return delivered_; }

 private:
  void loop();
  void handle(const SqlRow& wu);

  const BoincTestProject& project_;
  std::string deliver_dir_;
  std::vector<PublicKey> trusted_;
  std::atomic<bool> stop_{false}, paused_{false};
  std::atomic<int> delivered_{0}, volunteer_hosts_{0};
  std::thread thread_;
};

}  // namespace mw::test
