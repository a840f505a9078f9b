#include "boinc/template_lexer.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

#include "mw/error.h"

namespace mw::boinc::detail {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string trim_blanks(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_blank(s[b])) ++b;
  while (e > b && is_blank(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

namespace {

bool starts_with(std::string_view s, std::size_t at, std::string_view prefix) {
  return s.size() >= at + prefix.size() && s.compare(at, prefix.size(), prefix) == 0;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string unescape(std::string_view s) {
  struct Named {
    std::string_view entity;
    char value;
  };
  static constexpr Named kNamed[] = {{"&lt;", '<'},    {"&gt;", '>'},    {"&quot;", '"'},
                                     {"&apos;", '\''}, {"&amp;", '&'},   {"&#xD;", '\r'},
                                     {"&#xd;", '\r'},  {"&#xA;", '\n'},  {"&#xa;", '\n'}};
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    bool matched = false;
    for (const auto& n : kNamed) {
      if (starts_with(s, i, n.entity)) {
        out += n.value;
        i += n.entity.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (!starts_with(s, i, "&#")) {
      out += s[i++];
      continue;
    }
    // "&#" followed by decimal digits and ';' is a character when below 256;
    // otherwise "&#" stays as it is and decoding resumes right after it.
    const std::size_t digits = i + 2;
    std::size_t j = digits;
    // BOINC converts the digits with atoi(): strtol's value, saturated at
    // LONG_MAX, then cut to an int. Reproduce that, wrap-around included.
    unsigned long long value = 0;
    bool saturated = false;
    while (j < s.size() && is_digit(s[j])) {
      const auto d = static_cast<unsigned long long>(s[j] - '0');
      if (!saturated && value > (static_cast<unsigned long long>(LONG_MAX) - d) / 10) saturated = true;
      if (!saturated) value = value * 10 + d;
      ++j;
    }
    if (saturated) value = static_cast<unsigned long long>(LONG_MAX);
    const auto as_int = static_cast<std::int32_t>(static_cast<std::uint32_t>(value & 0xffffffffu));
    const bool well_formed = j > digits && j < s.size() && s[j] == ';';
    if (well_formed && as_int < 256) {
      const char c = static_cast<char>(static_cast<unsigned char>(as_int & 0xff));
      if (c == '\0') return out;
      out += c;
      i = j + 1;
    } else {
      out += "&#";
      i = digits;
    }
  }
  return out;
}

TemplateLexer::TemplateLexer(std::string_view text, std::string source)
    : text_(text), source_(std::move(source)) {
  for (std::size_t i = 0; i < text_.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text_[i]);
    if (byte == 0 || byte == 0xFF)
      fail(i, byte == 0 ? "holds a NUL byte" : "holds a 0xFF byte (not UTF-8)");
  }
}

int TemplateLexer::line_of(std::size_t offset) const {
  offset = std::min(offset, text_.size());
  return 1 + static_cast<int>(std::count(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

void TemplateLexer::fail(std::size_t offset, const std::string& what) const {
  throw Error(Errc::format, source_ + ": line " + std::to_string(line_of(offset)) + ": " + what);
}

Token TemplateLexer::next(std::size_t max_text) {
  for (;;) {
    while (pos_ < text_.size() && is_blank(text_[pos_])) ++pos_;
    Token tok;
    tok.offset = pos_;
    if (pos_ >= text_.size()) return tok;

    if (text_[pos_] != '<') {
      const std::size_t lt = text_.find('<', pos_);
      if (lt == std::string_view::npos) {  // BOINC drops text that runs to the end
        pos_ = text_.size();
        return tok;
      }
      if (lt - pos_ > max_text) fail(pos_, "text longer than " + std::to_string(max_text) + " characters");
      tok.kind = Token::Kind::text;
      tok.value = trim_blanks(text_.substr(pos_, lt - pos_));
      pos_ = lt;
      return tok;
    }

    const std::size_t start = pos_ + 1;
    if (starts_with(text_, start, "!--")) {
      const std::size_t close = text_.find("-->", start + 3);
      if (close == std::string_view::npos) {
        pos_ = text_.size();
        return tok;
      }
      pos_ = close + 3;
      continue;
    }
    if (starts_with(text_, start, "![CDATA[")) {
      const std::size_t body = start + 8;
      const std::size_t close = text_.find("]]>", body);
      if (close == std::string_view::npos) {
        pos_ = text_.size();
        return tok;
      }
      if (close - body + 8 >= max_text) fail(pos_, "CDATA section too long");
      tok.kind = Token::Kind::text;
      tok.cdata = true;
      tok.value = trim_blanks(text_.substr(body, close - body));
      pos_ = close + 3;
      return tok;
    }

    const std::size_t gt = text_.find('>', start);
    if (gt == std::string_view::npos) {
      pos_ = text_.size();
      return tok;
    }
    bool blank_seen = false;
    for (std::size_t i = start; i < gt; ++i) {
      const char c = text_[i];
      if (is_blank(c)) blank_seen = true;
      else if (c == '/' || !blank_seen) tok.value += c;
    }
    // BOINC cuts tag names at 4086 characters; refuse rather than misread.
    if (tok.value.size() > kTagText - 9) fail(pos_, "tag name too long");
    tok.kind = Token::Kind::tag;
    pos_ = gt + 1;
    return tok;
  }
}

std::string TemplateLexer::element_contents(const std::string& name, std::size_t start_offset) {
  const std::string end_tag = "</" + name + ">";
  const std::size_t at = text_.find(end_tag, pos_);
  if (at == std::string_view::npos) fail(start_offset, "<" + name + "> has no " + end_tag);
  if (at - pos_ + end_tag.size() > kElementBytes)
    fail(start_offset, "<" + name + "> is longer than BOINC copies (" + std::to_string(kElementBytes) + " bytes)");
  std::string body = trim_blanks(text_.substr(pos_, at - pos_));
  pos_ = at + end_tag.size();
  return body;
}

}  // namespace mw::boinc::detail
