#include "task/xml_text.h"

#include <cstdio>

namespace mw::xml {
namespace {

bool in_range(unsigned char byte, unsigned lo, unsigned hi) { return byte >= lo && byte <= hi; }

}  // namespace

Utf8Step decode_utf8(std::string_view bytes, std::size_t pos) noexcept {
  const auto lead = static_cast<unsigned char>(bytes[pos]);
  if (lead < 0x80) return {lead, 1, true};

  // Table 3-7 of the Unicode standard: the second byte's range depends on the
  // lead byte, which is what excludes overlong forms, surrogates and > U+10FFFF.
  std::size_t need = 0;
  unsigned lo = 0x80, hi = 0xBF;
  char32_t cp = 0;
  if (in_range(lead, 0xC2, 0xDF)) {
    need = 1, cp = lead & 0x1F;
  } else if (lead == 0xE0) {
    need = 2, cp = lead & 0x0F, lo = 0xA0;
  } else if (in_range(lead, 0xE1, 0xEC) || in_range(lead, 0xEE, 0xEF)) {
    need = 2, cp = lead & 0x0F;
  } else if (lead == 0xED) {
    need = 2, cp = lead & 0x0F, hi = 0x9F;
  } else if (lead == 0xF0) {
    need = 3, cp = lead & 0x07, lo = 0x90;
  } else if (in_range(lead, 0xF1, 0xF3)) {
    need = 3, cp = lead & 0x07;
  } else if (lead == 0xF4) {
    need = 3, cp = lead & 0x07, hi = 0x8F;
  } else {
    return {0, 1, false};  // a stray continuation byte, C0, C1 or F5..FF
  }

  for (std::size_t k = 1; k <= need; ++k) {
    if (pos + k >= bytes.size()) return {0, k, false};
    const auto byte = static_cast<unsigned char>(bytes[pos + k]);
    const unsigned first_lo = k == 1 ? lo : 0x80;
    const unsigned first_hi = k == 1 ? hi : 0xBF;
    if (!in_range(byte, first_lo, first_hi)) return {0, k, false};
    cp = (cp << 6) | (byte & 0x3F);
  }
  return {cp, need + 1, true};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_xml_char(char32_t cp) noexcept {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

bool is_all_xml_space(std::string_view text) noexcept {
  for (char c : text)
    if (!is_xml_space(c)) return false;
  return true;
}

std::optional<std::string> xml_text_problem(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const Utf8Step step = decode_utf8(text, pos);
    if (!step.valid) return "invalid UTF-8 at byte " + std::to_string(pos);
    if (!is_xml_char(step.code_point)) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(step.code_point));
      return std::string("character ") + hex + " at byte " + std::to_string(pos) +
             " is not allowed in XML";
    }
    pos += step.length;
  }
  return std::nullopt;
}

std::string escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\r': out += "&#13;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string quote_for_message(std::string_view value, std::size_t max_chars) {
  std::string out = "'";
  const std::size_t shown = value.size() < max_chars ? value.size() : max_chars;
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c >= 0x7F || c == '\'' || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '\'';
  if (shown < value.size()) out += "... (" + std::to_string(value.size()) + " bytes)";
  return out;
}

}  // namespace mw::xml
