// template_lexer.h — reads BOINC job templates token by token, the way BOINC does.
//
// BOINC's create_work does not parse templates as XML: it scans them with its
// own lenient tokenizer and rebuilds workunit.xml_doc from the pieces, so the
// bytes it stores depend on that tokenizer's habits (whitespace trimmed around
// text, attributes dropped, every '/' kept in a tag name, nested content copied
// raw up to the first matching end tag). Producing the same bytes means
// reading the same way; a real XML parser would not. Where BOINC would carry
// on with garbage after a malformed value, this lexer's callers stop with an
// error naming the template, the line and the element instead.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mw::boinc::detail {

// Buffer sizes of BOINC's parser; text longer than these makes BOINC stop or
// misread, so we refuse it. Each bounds the raw text between the first
// non-blank character and the next '<'.
inline constexpr std::size_t kTagText = 4095;        // tags, and text read as a tag
inline constexpr std::size_t kShortText = 255;       // numbers, open_name, physical_name
inline constexpr std::size_t kLongText = 262143;     // url, md5_cksum, command_line
inline constexpr std::size_t kElementBytes = 65535;  // a copied element's body + end tag

struct Token {
  enum class Kind { end, tag, text };
  Kind kind = Kind::end;
  // tag: the name up to the first blank, plus every '/' in the tag, so
  // "<a x='1/2'/>" reads "a//" and "</a>" reads "/a". text: trimmed.
  std::string value;
  bool cdata = false;       // text came from <![CDATA[...]]> (BOINC does not unescape it)
  std::size_t offset = 0;   // of the token's first character, for line numbers
};

class TemplateLexer {
 public:
  // Refuses (Errc::format) text holding a NUL or 0xFF byte: BOINC's reader
  // stops at either, silently.
  TemplateLexer(std::string_view text, std::string source);

  // Next tag or text; comments are skipped. `max_text` bounds a text token.
  // Input that ends inside a tag, comment, CDATA section or text yields end.
  Token next(std::size_t max_text = kTagText);

  // After the start tag <name>: the raw characters up to the first "</name>",
  // trimmed; consumes the end tag. Fails when there is none.
  std::string element_contents(const std::string& name, std::size_t start_offset);

  int line_of(std::size_t offset) const;
  const std::string& source() const { return source_; }
  [[noreturn]] void fail(std::size_t offset, const std::string& what) const;

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::string source_;
};

// BOINC's whitespace: the six ASCII blanks of the C locale.
bool is_blank(char c);
std::string trim_blanks(std::string_view s);

// BOINC's entity decoding for template text: &lt; &gt; &amp; &quot; &apos;,
// &#xA; &#xa; &#xD; &#xd;, and &#N; (decimal) when N, converted as C atoi()
// converts it, is below 256 — so a huge N can wrap into a character, as in
// BOINC. Anything else is kept literally. A decoded NUL ends the text, as it
// ends BOINC's C string.
std::string unescape(std::string_view s);

}  // namespace mw::boinc::detail
