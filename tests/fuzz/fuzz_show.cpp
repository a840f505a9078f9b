// Fuzzes the show path's safety net: whatever bytes a task's arguments, a
// result's reason or a volunteer's stderr hold, what mw-task show prints
// through terminal_safe has no terminal control left in it — no C0 control
// (but newline and tab where kept), no DEL, no C1 control, no bidi override or
// isolate, no line/paragraph separator — and is valid UTF-8. The input is also
// parsed as task.xml and result.xml, and every text field is escaped.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "mw/error.h"
#include "mw/task_format.h"
#include "tool_common.h"

namespace {

void check(const std::string& out, bool keep_newlines) {
  const auto* s = reinterpret_cast<const unsigned char*>(out.data());
  for (std::size_t i = 0; i < out.size();) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if ((c < 0x20 && !(keep_newlines && (c == '\n' || c == '\t'))) || c == 0x7f) std::abort();
      ++i;
      continue;
    }
    const std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || i + len > out.size()) std::abort();
    std::uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) std::abort();
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
        (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
        cp == 0x2029 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      std::abort();
    i += len;
  }
}

void check_both(const std::string& text) {
  check(mw::tools::terminal_safe(text), false);
  check(mw::tools::terminal_safe(text, true), true);
  check(mw::tools::display_quote(text), false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_both(text);
  try {
    const mw::TaskManifest t = mw::parse_task_xml(text);
    check_both(t.name);
    check_both(t.program.host_path);
    for (const auto& a : t.args) check_both(a);
    for (const auto& v : t.env) check_both(v.value);
  } catch (const mw::Error&) {
  }
  try {
    const mw::ResultManifest r = mw::parse_result_xml(text);
    check_both(r.reason);
    check_both(r.stderr_tail);
  } catch (const mw::Error&) {
  }
  return 0;
}
