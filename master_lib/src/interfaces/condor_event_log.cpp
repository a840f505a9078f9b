// HTCondor job event log reader — see condor_event_log.h.
#include "interfaces/condor_event_log.h"

#include <cctype>
#include <cstdlib>

namespace mw::detail {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The integer after `key` in `text` ("return value 3" -> 3).
std::optional<int> number_after(std::string_view text, std::string_view key) {
  const auto at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string digits;
  for (std::size_t i = at + key.size(); i < text.size(); ++i) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '-' && digits.empty())) digits += c;
    else if (!digits.empty() || c != ' ') break;
  }
  if (digits.empty() || digits == "-") return std::nullopt;
  return std::atoi(digits.c_str());
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

CondorExecuteHost condor_execute_host(const CondorEvent& event) {
  CondorExecuteHost host;
  if (event.code != 1) return host;
  static constexpr std::string_view kPrefix = "Job executing on host:";
  std::string_view text = event.header_text;
  if (text.compare(0, kPrefix.size(), kPrefix) == 0) text = trim(text.substr(kPrefix.size()));
  if (text.size() > 2 && text.front() == '<' && text.back() == '>') {
    const std::string_view sinful = text.substr(1, text.size() - 2);
    const auto query = sinful.find('?');
    const std::string_view where = sinful.substr(0, query);
    if (!where.empty() && where.front() == '[') {
      const auto close = where.find(']');
      if (close != std::string_view::npos) host.address = std::string(where.substr(1, close - 1));
    } else {
      host.address = std::string(where.substr(0, where.rfind(':')));
    }
    if (query != std::string_view::npos) {
      std::string_view params = sinful.substr(query + 1);
      while (!params.empty()) {
        const auto amp = params.find('&');
        const std::string_view param = params.substr(0, amp);
        if (param.compare(0, 6, "alias=") == 0) host.machine = std::string(param.substr(6));
        params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
      }
    }
  }
  for (const auto& line : event.body) {
    if (line.compare(0, 9, "SlotName:") != 0) continue;
    host.slot = std::string(trim(std::string_view(line).substr(9)));
    if (host.slot.size() > 1 && host.slot.front() == '"' && host.slot.back() == '"')
      host.slot = host.slot.substr(1, host.slot.size() - 2);
    const auto at = host.slot.find('@');
    if (at != std::string::npos && at + 1 < host.slot.size()) host.machine = host.slot.substr(at + 1);
  }
  return host;
}

std::optional<CondorEvent> parse_condor_event_header(std::string_view line) {
  // "CCC (C.P.S) DATE TIME text"
  if (line.size() < 7 || !all_digits(line.substr(0, 3)) || line.substr(3, 2) != " (") return std::nullopt;
  const auto close = line.find(')', 5);
  if (close == std::string_view::npos) return std::nullopt;
  const std::string_view id = line.substr(5, close - 5);
  const auto dot1 = id.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : id.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return std::nullopt;
  const auto c = id.substr(0, dot1), p = id.substr(dot1 + 1, dot2 - dot1 - 1), s = id.substr(dot2 + 1);
  if (!all_digits(c) || !all_digits(p) || !all_digits(s)) return std::nullopt;
  CondorEvent ev;
  ev.code = std::atoi(std::string(line.substr(0, 3)).c_str());
  ev.cluster = std::atol(std::string(c).c_str());
  ev.proc = std::atol(std::string(p).c_str());
  // Skip the date and the time: two space-separated words.
  std::string_view rest = trim(line.substr(close + 1));
  for (int word = 0; word < 2; ++word) {
    const auto sp = rest.find(' ');
    rest = sp == std::string_view::npos ? std::string_view() : trim(rest.substr(sp));
  }
  ev.header_text = std::string(rest);
  return ev;
}

void CondorEventLogParser::line(std::string_view text, std::vector<CondorEvent>& out) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (trim(text) == "...") {
    if (current_) {
      CondorEvent ev = std::move(*current_);
      current_.reset();
      if (ev.code == 5) {
        for (const auto& b : ev.body) {
          if (b.find("Normal termination") != std::string::npos) ev.return_value = number_after(b, "return value");
          if (b.find("Abnormal termination") != std::string::npos) ev.signal = number_after(b, "signal");
        }
      }
      out.push_back(std::move(ev));
    }
    skipping_ = false;
    return;
  }
  if (skipping_) return;
  if (!current_) {
    if (trim(text).empty()) return;
    current_ = parse_condor_event_header(text);
    if (!current_) {
      last_error_ = "job event log: line '" + std::string(text.substr(0, 120)) +
                    "' is not an event header; skipped to the next '...'";
      skipping_ = true;
    }
    return;
  }
  const auto body = trim(text);
  if (!body.empty()) current_->body.emplace_back(body);
}

std::vector<CondorEvent> CondorEventLogParser::feed(std::string_view bytes) {
  std::vector<CondorEvent> out;
  partial_.append(bytes.data(), bytes.size());
  std::size_t start = 0;
  for (;;) {
    const auto nl = partial_.find('\n', start);
    if (nl == std::string::npos) break;
    line(std::string_view(partial_).substr(start, nl - start), out);
    start = nl + 1;
  }
  partial_.erase(0, start);
  return out;
}

}  // namespace mw::detail
