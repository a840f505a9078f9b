// util/terminal_text.h — text from tasks, volunteers or the database made safe
// to print on a terminal or into a log line.
#pragma once

#include <string>

namespace mw::detail {

// `text` made safe to print on a terminal: C0 controls (but newline and tab
// when keep_newlines), DEL, C1 controls, Unicode bidi overrides/isolates and
// invalid UTF-8 come out as \xNN / \u{NNNN} escapes, so a task's arguments,
// a volunteer's stderr or a name from the database cannot rewrite the screen,
// reorder what it shows or forge a line of a log.
std::string terminal_safe(const std::string& text, bool keep_newlines = false);

}  // namespace mw::detail
