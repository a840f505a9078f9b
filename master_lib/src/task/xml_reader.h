// xml_reader.h — a strict reader for the XML 1.0 subset mwkit manifests use.
//
// Why not tinyxml2: its 9.x parser drops whitespace-only text even in
// PRESERVE_WHITESPACE mode (so <arg> </arg> would read as ""), passes undefined
// entities through as literal text, turns &#0; and surrogate references into
// garbage bytes, accepts invalid UTF-8, control characters, several root
// elements and "]]>" in text, and keeps a DOCTYPE as an opaque node. A
// manifest decides what runs on a volunteer's machine, so every one of those
// would be a way for two readers to disagree about the same bytes. This reader
// implements the whole subset in one pass and rejects everything else.
//
// Accepted: an optional UTF-8 byte-order mark; an optional XML declaration
// (version 1.0, encoding UTF-8 if given); comments and processing instructions
// (ignored); one root element; attributes; character data with the five
// predefined entities and character references; CDATA sections (read as
// text). Rejected: DOCTYPE (so no entity definitions), anything not
// well-formed, and documents over the resource limits below.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mw::xml {

struct Attribute {
  std::string name;
  std::string value;  // references decoded, whitespace normalized as XML requires
};

struct Element {
  std::string name;
  int line = 0;  // line of the start tag's '<', counting from 1
  std::vector<Attribute> attributes;
  std::vector<Element> children;
  // All character data and CDATA directly inside this element, concatenated in
  // document order, exactly (comments and child elements split nothing off).
  std::string text;
};

// Resource limits: a result manifest comes from a volunteer's host, so the
// reader bounds memory and recursion before anything else looks at it.
inline constexpr std::size_t kMaxDocumentBytes = 8u << 20;
inline constexpr std::size_t kMaxElements = 200000;
inline constexpr int kMaxDepth = 16;

// Parses one document and returns its root element. Throws Error(Errc::format)
// "<source>: line N: not well-formed XML: ..." (or "<source>: line N: ..." for
// well-formed constructs the format forbids, such as a DOCTYPE).
Element parse_document(std::string_view bytes, const std::string& source);

}  // namespace mw::xml
