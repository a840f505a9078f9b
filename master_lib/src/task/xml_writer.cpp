#include "task/xml_writer.h"

#include "task/xml_text.h"

namespace mw::xml {

Writer::Writer() : out_("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") {}

// Every element starts with an indent, so this is also where they are counted.
void Writer::indent() {
  ++elements_;
  out_.append(static_cast<std::size_t>(depth_) * 2, ' ');
}

void Writer::open(std::string_view name, std::string_view attribute, std::string_view value) {
  indent();
  out_ += '<';
  out_ += name;
  if (!attribute.empty()) {
    out_ += ' ';
    out_ += attribute;
    out_ += "=\"";
    out_ += value;
    out_ += '"';
  }
  out_ += ">\n";
  ++depth_;
}

void Writer::close(std::string_view name) {
  --depth_;
  out_.append(static_cast<std::size_t>(depth_) * 2, ' ');
  out_ += "</";
  out_ += name;
  out_ += ">\n";
}

void Writer::text(std::string_view name, std::string_view text) {
  indent();
  out_ += '<';
  out_ += name;
  out_ += '>';
  out_ += escape_text(text);
  out_ += "</";
  out_ += name;
  out_ += ">\n";
}

void Writer::flag(std::string_view name) {
  indent();
  out_ += '<';
  out_ += name;
  out_ += "/>\n";
}

}  // namespace mw::xml
