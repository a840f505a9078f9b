// interfaces/host_tally.h — per-host counts for back ends that learn only
// afterwards which machine ran a task (HTCondor, BOINC): what status() lists
// as InterfaceStatus::hosts. Not thread-safe: the owner's lock guards it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "mw/interface.h"

namespace mw::detail {

// A host as the back end names it: `id` is the key; `name` and `details`
// (taken from the latest event that has them) are only shown.
struct HostRef {
  std::string id;
  std::string name;
  std::string details;
};

class HostTally {
 public:
  // `knows_running`: the back end sees tasks start on a host (HTCondor's
  // execute events), so HostStatus::running is filled; else it stays unset.
  explicit HostTally(bool knows_running) : knows_running_(knows_running) {}

  // A task started on `host` (+1) or left it without ending (-1: evicted, held).
  void running(const HostRef& host, int delta, double now);
  // A task ended on `host`; `was_running` when running(host, +1) counted it.
  void ended(const HostRef& host, bool failed, bool was_running, double now);

  // Fills status.hosts with the kHostsListed hosts seen last (latest first)
  // and status.hosts_seen with the count of all.
  void fill(InterfaceStatus& status) const;


 private:
  HostStatus& touch(const HostRef& host, double now);

  bool knows_running_;
  std::unordered_map<std::string, HostStatus> hosts_;
};

// Seconds since the Unix epoch, now: HostStatus::last_seen's clock.
double unix_now();

}  // namespace mw::detail
