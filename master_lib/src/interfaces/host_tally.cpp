// Per-host counts — see host_tally.h.
#include "interfaces/host_tally.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace mw::detail {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

HostStatus& HostTally::touch(const HostRef& host, double now) {
  HostStatus& h = hosts_[host.id];
  if (h.id.empty()) {
    h.id = host.id;
    if (knows_running_) h.running = 0;
  }
  if (!host.name.empty()) h.name = host.name;
  if (h.name.empty()) h.name = host.id;
  if (!host.details.empty()) h.details = host.details;
  h.last_seen = std::max(h.last_seen, now);
  return h;
}

void HostTally::running(const HostRef& host, int delta, double now) {
  HostStatus& h = touch(host, now);
  if (!h.running) return;
  if (delta > 0) *h.running += static_cast<std::uint64_t>(delta);
  else *h.running -= std::min<std::uint64_t>(*h.running, static_cast<std::uint64_t>(-delta));
}

void HostTally::ended(const HostRef& host, bool failed, bool was_running, double now) {
  HostStatus& h = touch(host, now);
  ++(failed ? h.tasks_failed : h.tasks_done);
  if (was_running && h.running && *h.running > 0) --*h.running;
}

void HostTally::fill(InterfaceStatus& status) const {
  status.hosts_seen = hosts_.size();
  // Only the listed few are put in order: n log 50 comparisons, not a full sort.
  std::vector<const HostStatus*> all;
  all.reserve(hosts_.size());
  for (const auto& kv : hosts_) all.push_back(&kv.second);
  const std::size_t listed = std::min(all.size(), kHostsListed);
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(listed), all.end(),
                    [](const HostStatus* a, const HostStatus* b) {
                      if (a->last_seen != b->last_seen) return a->last_seen > b->last_seen;
                      return a->id < b->id;  // a stable order for ties
                    });
  status.hosts.clear();
  status.hosts.reserve(listed);
  for (std::size_t i = 0; i < listed; ++i) status.hosts.push_back(*all[i]);
}

}  // namespace mw::detail
