// xml_writer.h — produces mwkit's canonical XML layout: the declaration line,
// then one element per line indented by two spaces per level, LF line ends.
// The layout is part of the format because task.sig covers task.xml byte for
// byte: the same manifest must always produce the same bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace mw::xml {

class Writer {
 public:
  Writer();

  // <name attribute="value"> on its own line; the children that follow are
  // indented one level deeper. `attribute` may be empty. Names and attribute
  // values are the caller's constants and are written as given.
  void open(std::string_view name, std::string_view attribute = {},
            std::string_view value = {});
  void close(std::string_view name);
  // <name>text</name>, with the text escaped (text must be valid XML text).
  void text(std::string_view name, std::string_view text);
  // <name/>, a flag.
  void flag(std::string_view name);

  std::size_t element_count() const { return elements_; }
  std::string finish() { return std::move(out_); }

 private:
  void indent();

  std::string out_;
  int depth_ = 0;
  std::size_t elements_ = 0;
};

}  // namespace mw::xml
