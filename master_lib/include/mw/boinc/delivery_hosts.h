// mw/boinc/delivery_hosts.h — which volunteer hosts ran the delivered
// workunits (docs/boinc-conventions.md, "Delivery").
//
// mw-assimilator appends one line per host to DIR/<batch id>/mw_hosts.tsv for
// every workunit it delivers: the canonical result's host for a .result, the
// hosts of the erroring results for an .error. A line is written before its
// delivery gets its final name, so a reader that sees the delivery finds the
// line. A delivery with no line (an mw-assimilator older than this file)
// simply has no known host.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mw::boinc {

inline constexpr const char* kDeliveryHostsFile = "mw_hosts.tsv";

struct DeliveredHost {
  std::string wu_name;
  bool canonical = false;  // the canonical result's host; false: an erroring result's
  std::int64_t hostid = 0;  // host.id
  std::string domain_name, os_name, p_model;  // from the host row; may be empty
};

// One line, ending in '\n': wu_name, "canonical" or "error", hostid,
// domain_name, os_name, p_model, separated by tabs; in the text fields '%',
// control characters and DEL are written %XX (two upper-case hex digits).
std::string format_delivered_host(const DeliveredHost& host);

// Appends `lines` to the file `path` in one write, first ending a line left
// unfinished by a crash. Not synced: the caller's durability barrier covers
// it. Throws Error(Errc::io) naming the path.
void append_delivered_hosts(const std::string& path, const std::string& lines);

// Follows one hosts file as it grows (not thread-safe).
class DeliveredHostsReader {
 public:
  explicit DeliveredHostsReader(std::string path) : path_(std::move(path)) {}
  // The hosts of `wu_name` (reading first what was appended since the last
  // call), then forgotten. A line read twice (a redelivery) counts once;
  // lines that do not parse are skipped. Empty when the file names none.
  std::vector<DeliveredHost> take(const std::string& wu_name);

 private:
  void read_more();

  std::string path_;
  std::uint64_t offset_ = 0;
  std::string partial_;  // bytes after the last newline read
  std::unordered_map<std::string, std::vector<DeliveredHost>> by_wu_;
};

}  // namespace mw::boinc
