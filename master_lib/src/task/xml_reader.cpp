#include "task/xml_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "mw/error.h"
#include "task/xml_text.h"

namespace mw::xml {
namespace {

bool is_name_start(char c) {
  const auto u = static_cast<unsigned char>(c);
  // Non-ASCII bytes are always part of a valid UTF-8 character by the time
  // names are read; no name outside ASCII means anything to mwkit, so the
  // element or attribute is rejected later as unknown rather than here.
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || u >= 0x80;
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

class Parser {
 public:
  Parser(std::string_view bytes, const std::string& source) : source_(source) {
    normalize(bytes);
  }

  Element parse_document() {
    if (starts_with("<?xml") && pos_ + 5 < text_.size() &&
        (is_xml_space(text_[pos_ + 5]) || text_[pos_ + 5] == '?'))
      parse_declaration();
    skip_misc();
    if (at_end()) fail("the document has no root element");
    if (starts_with("<!DOCTYPE")) forbid("DOCTYPE declarations are not allowed");
    if (peek() != '<') fail("text before the root element");
    Element root = parse_element(1);
    skip_misc();
    if (!at_end()) {
      if (peek() == '<' && pos_ + 1 < text_.size() && is_name_start(text_[pos_ + 1]))
        fail("more than one root element");
      fail("content after the root element");
    }
    return root;
  }

 private:
  // XML processors see only LF line ends (XML 1.0 §2.11); doing that here, and
  // checking every character once, lets the parser work on plain bytes.
  void normalize(std::string_view bytes) {
    if (bytes.size() > kMaxDocumentBytes)
      throw Error(Errc::format, source_ + ": the document is " + std::to_string(bytes.size()) +
                                    " bytes, more than the limit of " +
                                    std::to_string(kMaxDocumentBytes));
    std::size_t pos = 0;
    if (bytes.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
    text_.reserve(bytes.size());
    for (; pos < bytes.size();) {
      const Utf8Step step = decode_utf8(bytes, pos);
      if (!step.valid) fail("invalid UTF-8 at byte " + std::to_string(pos));
      if (!is_xml_char(step.code_point)) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(step.code_point));
        fail(std::string("character ") + hex + " is not allowed in XML");
      }
      if (step.code_point == '\r') {
        text_ += '\n';
        ++line_;
        if (pos + 1 < bytes.size() && bytes[pos + 1] == '\n') ++pos;
      } else {
        if (step.code_point == '\n') ++line_;
        text_.append(bytes.substr(pos, step.length));
      }
      pos += step.length;
    }
    line_ = 1;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::format,
                source_ + ": line " + std::to_string(line_) + ": not well-formed XML: " + what);
  }
  [[noreturn]] void forbid(const std::string& what) const {
    throw Error(Errc::format, source_ + ": line " + std::to_string(line_) + ": " + what);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  bool starts_with(std::string_view prefix) const {
    return text_.compare(pos_, prefix.size(), prefix) == 0;
  }
  // Every move forward goes through here so that line_ stays exact.
  void advance(std::size_t n) {
    const std::size_t end = std::min(pos_ + n, text_.size());
    line_ += static_cast<int>(std::count(text_.begin() + pos_, text_.begin() + end, '\n'));
    pos_ = end;
  }
  bool skip_space() {
    const std::size_t start = pos_;
    std::size_t end = pos_;
    while (end < text_.size() && is_xml_space(text_[end])) ++end;
    advance(end - start);
    return end > start;
  }
  void expect(char c, const std::string& context) {
    if (at_end() || peek() != c)
      fail(std::string("expected '") + c + "' " + context);
    advance(1);
  }

  std::string parse_name(const char* what) {
    if (at_end() || !is_name_start(peek())) fail(std::string("expected ") + what);
    std::size_t end = pos_ + 1;
    while (end < text_.size() && is_name_char(text_[end])) ++end;
    std::string name = text_.substr(pos_, end - pos_);
    advance(end - pos_);
    return name;
  }

  void parse_declaration() {
    advance(5);  // "<?xml"
    std::vector<Attribute> fields;
    while (true) {
      const bool spaced = skip_space();
      if (starts_with("?>")) break;
      if (at_end()) fail("unterminated XML declaration");
      if (!spaced) fail("expected whitespace between XML declaration fields");
      Attribute field;
      field.name = parse_name("an XML declaration field");
      skip_space();
      expect('=', "after an XML declaration field");
      skip_space();
      field.value = parse_quoted(false);
      fields.push_back(std::move(field));
    }
    advance(2);
    check_declaration(fields);
  }

  void check_declaration(const std::vector<Attribute>& fields) const {
    // XML fixes both the set and the order of the declaration's fields.
    static const char* const order[] = {"version", "encoding", "standalone"};
    std::size_t next = 0;
    for (const Attribute& f : fields) {
      while (next < 3 && f.name != order[next]) ++next;
      if (next == 3) fail("unexpected or misplaced field '" + f.name + "' in the XML declaration");
      ++next;
    }
    if (fields.empty() || fields[0].name != "version")
      fail("the XML declaration must start with version");
    if (fields[0].value != "1.0")
      forbid("XML version " + quote_for_message(fields[0].value) + " is not supported (only 1.0)");
    for (const Attribute& f : fields) {
      if (f.name == "encoding" && ascii_lower(f.value) != "utf-8")
        forbid("encoding " + quote_for_message(f.value) + " is not supported (only UTF-8)");
      if (f.name == "standalone" && f.value != "yes" && f.value != "no")
        fail("standalone must be 'yes' or 'no'");
    }
  }

  // Comments, processing instructions and whitespace, as allowed around the root.
  void skip_misc() {
    while (true) {
      skip_space();
      if (starts_with("<!--")) {
        skip_comment();
      } else if (starts_with("<?")) {
        skip_processing_instruction();
      } else {
        return;
      }
    }
  }

  void skip_comment() {
    advance(4);
    const std::size_t dashes = text_.find("--", pos_);
    if (dashes == std::string::npos) fail("unterminated comment");
    if (dashes + 2 >= text_.size() || text_[dashes + 2] != '>') {
      advance(dashes - pos_);
      fail("'--' is not allowed inside a comment");
    }
    advance(dashes + 3 - pos_);
  }

  void skip_processing_instruction() {
    advance(2);
    const std::string target = parse_name("a processing instruction target");
    if (ascii_lower(target) == "xml")
      fail("the XML declaration is only allowed at the very start of the document");
    if (!starts_with("?>") && !skip_space())
      fail("expected whitespace after the processing instruction target");
    const std::size_t end = text_.find("?>", pos_);
    if (end == std::string::npos) fail("unterminated processing instruction");
    advance(end + 2 - pos_);
  }

  // &name; or &#N; or &#xH; — only the five predefined entities exist, since a
  // DOCTYPE (the one place that could define more) is refused.
  void parse_reference(std::string& out) {
    const std::size_t semicolon = text_.find(';', pos_);
    const std::size_t max_len = 32;  // generous: "&#x10FFFF;" needs 9, leading zeros are legal
    if (semicolon == std::string::npos || semicolon - pos_ > max_len)
      fail("'&' must start an entity or character reference (write &amp; for a literal '&')");
    const std::string ref = text_.substr(pos_ + 1, semicolon - pos_ - 1);
    if (!ref.empty() && ref[0] == '#') {
      append_utf8(out, character_reference(ref));
    } else if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "amp") {
      out += '&';
    } else if (ref == "apos") {
      out += '\'';
    } else if (ref == "quot") {
      out += '"';
    } else {
      fail("undefined entity " + quote_for_message("&" + ref + ";") +
           " (only lt, gt, amp, apos and quot exist)");
    }
    advance(semicolon + 1 - pos_);
  }

  char32_t character_reference(const std::string& ref) const {
    const bool hex = ref.size() > 1 && ref[1] == 'x';
    const std::string digits = ref.substr(hex ? 2 : 1);
    std::uint32_t value = 0;
    bool ok = !digits.empty();
    for (char c : digits) {
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) {
        ok = false;
        break;
      }
      value = value * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
      if (value > 0x10FFFF) value = 0x110000;  // saturate: stays invalid, cannot overflow
    }
    if (!ok) fail("malformed character reference " + quote_for_message("&" + ref + ";"));
    if (!is_xml_char(value))
      fail("character reference " + quote_for_message("&" + ref + ";") +
           " is not a character XML allows");
    return value;
  }

  // A quoted attribute value. Literal tabs and line feeds become spaces, as
  // XML's attribute-value normalization requires; references keep theirs.
  std::string parse_quoted(bool allow_references) {
    if (at_end() || (peek() != '"' && peek() != '\'')) fail("expected a quoted value");
    const char quote = peek();
    advance(1);
    std::string value;
    while (true) {
      if (at_end()) fail("unterminated quoted value");
      const char c = peek();
      if (c == quote) break;
      if (c == '<') fail("'<' is not allowed in an attribute value");
      if (c == '&' && allow_references) {
        parse_reference(value);
        continue;
      }
      if (c == '&') fail("references are not allowed here");
      value += (c == '\t' || c == '\n') ? ' ' : c;
      advance(1);
    }
    advance(1);
    return value;
  }

  Element parse_element(int depth) {
    if (depth > kMaxDepth)
      forbid("elements are nested more than " + std::to_string(kMaxDepth) + " deep");
    if (++element_count_ > kMaxElements)
      forbid("the document has more than " + std::to_string(kMaxElements) + " elements");
    Element el;
    el.line = line_;
    advance(1);  // '<'
    el.name = parse_name("an element name");
    while (true) {
      const bool spaced = skip_space();
      if (starts_with("/>")) {
        advance(2);
        return el;
      }
      if (!at_end() && peek() == '>') {
        advance(1);
        parse_content(el, depth);
        return el;
      }
      if (at_end()) fail("unexpected end of the document inside the start tag <" + el.name + ">");
      if (!spaced) fail("expected whitespace, '>' or '/>' in the start tag <" + el.name + ">");
      parse_attribute(el);
    }
  }

  void parse_attribute(Element& el) {
    Attribute attr;
    attr.name = parse_name("an attribute name");
    for (const Attribute& other : el.attributes)
      if (other.name == attr.name)
        fail("attribute '" + attr.name + "' appears twice on <" + el.name + ">");
    skip_space();
    expect('=', "after the attribute name");
    skip_space();
    attr.value = parse_quoted(true);
    el.attributes.push_back(std::move(attr));
  }

  void parse_content(Element& el, int depth) {
    while (true) {
      if (at_end())
        fail("unexpected end of the document: <" + el.name + "> (line " +
             std::to_string(el.line) + ") is not closed");
      if (starts_with("</")) {
        parse_end_tag(el);
        return;
      }
      if (starts_with("<!--")) {
        skip_comment();
      } else if (starts_with("<![CDATA[")) {
        parse_cdata(el.text);
      } else if (starts_with("<?")) {
        skip_processing_instruction();
      } else if (starts_with("<!")) {
        fail("unexpected '<!' markup inside <" + el.name + ">");
      } else if (peek() == '<') {
        el.children.push_back(parse_element(depth + 1));
      } else if (peek() == '&') {
        parse_reference(el.text);
      } else {
        parse_character_data(el.text);
      }
    }
  }

  void parse_end_tag(const Element& el) {
    advance(2);
    const std::string name = parse_name("an element name in the end tag");
    skip_space();
    expect('>', "to close the end tag </" + name + ">");
    if (name != el.name)
      fail("end tag </" + name + "> does not match <" + el.name + "> (line " +
           std::to_string(el.line) + ")");
  }

  void parse_cdata(std::string& out) {
    advance(9);  // "<![CDATA["
    const std::size_t end = text_.find("]]>", pos_);
    if (end == std::string::npos) fail("unterminated CDATA section");
    out.append(text_, pos_, end - pos_);
    advance(end + 3 - pos_);
  }

  void parse_character_data(std::string& out) {
    std::size_t end = text_.find_first_of("<&", pos_);
    if (end == std::string::npos) end = text_.size();
    // Searching only this run keeps the scan linear in the document size.
    const std::size_t bad = std::string_view(text_).substr(pos_, end - pos_).find("]]>");
    if (bad != std::string_view::npos) {
      advance(bad);
      fail("']]>' is not allowed in text (write ]]&gt;)");
    }
    out.append(text_, pos_, end - pos_);
    advance(end - pos_);
  }

  const std::string& source_;
  std::string text_;  // the document after line-end normalization
  std::size_t pos_ = 0;
  int line_ = 1;
  std::size_t element_count_ = 0;
};

}  // namespace

Element parse_document(std::string_view bytes, const std::string& source) {
  return Parser(bytes, source).parse_document();
}

}  // namespace mw::xml
