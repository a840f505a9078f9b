// xml_text.h — the character-level rules of mwkit's XML: UTF-8 decoding,
// which code points XML 1.0 allows, and escaping text for the canonical writer.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mw::xml {

// One step of a UTF-8 decoder. `length` is how many bytes the step consumed:
// the whole sequence when `valid`, otherwise the maximal ill-formed subpart
// (Unicode 15, §3.9, "U+FFFD substitution of maximal subparts"), at least 1.
struct Utf8Step {
  char32_t code_point = 0;  // meaningful only when valid
  std::size_t length = 1;
  bool valid = false;
};
Utf8Step decode_utf8(std::string_view bytes, std::size_t pos) noexcept;

void append_utf8(std::string& out, char32_t code_point);

// XML 1.0 "Char": #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
bool is_xml_char(char32_t code_point) noexcept;
// XML "S": space, tab, line feed, carriage return.
inline bool is_xml_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_all_xml_space(std::string_view text) noexcept;

// Why `text` cannot be stored as XML text (invalid UTF-8, or a code point
// that XML forbids), naming the byte offset; nullopt when it can.
std::optional<std::string> xml_text_problem(std::string_view text);

// Escapes valid XML text for element content: & < > become entity references
// and CR becomes &#13; (a literal CR would be turned into LF by every reader).
std::string escape_text(std::string_view text);

// Renders a value for an error message: at most `max_chars` bytes, with
// control bytes, quotes, backslashes and non-ASCII bytes as \xNN so that
// hostile input cannot forge lines in logs.
std::string quote_for_message(std::string_view value, std::size_t max_chars = 64);

}  // namespace mw::xml
