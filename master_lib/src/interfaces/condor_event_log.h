// Internal: HTCondor's job event log (the "log =" file of a submit description),
// read incrementally while jobs append to it.
//
// The documented text format: each event starts with a header line
//   CCC (CLUSTER.PROC.SUBPROC) DATE TIME text...
// (CCC the three-digit event code; the date is "MM/DD" in old logs, ISO
// "YYYY-MM-DD" in new ones — neither matters here), then indented body lines,
// and ends with a line "...". Events of interest: 000 submitted, 001 executing,
// 004 evicted, 005 terminated ("(1) Normal termination (return value N)" or
// "(0) Abnormal termination (signal N)"), 009 aborted, 012 held (reason on the
// next line), 013 released.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mw::detail {

struct CondorEvent {
  int code = -1;
  long cluster = 0;
  long proc = 0;
  std::string header_text;            // the rest of the header line, after the time
  std::vector<std::string> body;      // body lines, leading whitespace removed
  // 005 only: what the job's executable did.
  std::optional<int> return_value;
  std::optional<int> signal;
  // 012: the hold reason (the first body line); 009/013: the first body line.
  std::string reason() const { return body.empty() ? std::string() : body.front(); }
};

// Where a 001 event says the job runs. HTCondor writes
//   001 (C.P.S) DATE TIME Job executing on host: <SINFUL>
//   \tSlotName: slot1_2@exec.example.org      (HTCondor 8.9 and later)
//   \tCpus = 1 ...                             (the slot's resources)
// where SINFUL is the execute machine's startd address, "IP:PORT" or
// "[IPv6]:PORT", with "?addrs=...&alias=HOSTNAME&..." in current versions.
struct CondorExecuteHost {
  std::string machine;  // the host name: the slot name's part after '@', else alias=; may be empty
  std::string address;  // the IP address of the sinful string; may be empty
  std::string slot;     // the slot name, when given
};
// Empty members for an event that is not 001 or names no host.
CondorExecuteHost condor_execute_host(const CondorEvent& event);

class CondorEventLogParser {
 public:
  // Feeds bytes as they were appended to the log; returns the events completed
  // by them (a partly written event waits for the rest). A header line that
  // does not parse makes the parser skip to the next "..." line; the error is
  // kept in last_error() for status().
  std::vector<CondorEvent> feed(std::string_view bytes);
  const std::string& last_error() const { return last_error_; }

 private:
  void line(std::string_view text, std::vector<CondorEvent>& out);

  std::string partial_;   // bytes after the last newline
  std::optional<CondorEvent> current_;
  bool skipping_ = false;
  std::string last_error_;
};

// Parses a header line; nullopt when it is not one.
std::optional<CondorEvent> parse_condor_event_header(std::string_view line);

}  // namespace mw::detail
