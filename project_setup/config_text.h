// config_text.h — edits to a BOINC config.xml that keep every other byte.
//
// An operator's config.xml carries comments, ordering and formatting that a
// parse-and-reserialize round trip would destroy. ConfigText therefore edits
// the text: it locates elements by byte offsets and splices new text in,
// indented like its neighbours. The document is checked with tinyxml2 first,
// so the scanner only ever walks well-formed XML.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mw::setup {

class ConfigText {
 public:
  // Error(Errc::format) naming `source` and the line when the text is not
  // well-formed XML or not <boinc><config>…</config>…</boinc>.
  static ConfigText parse(std::string text, const std::string& source);
  // The same for project.xml (bin/xadd's list of platforms and apps): <boinc>…</boinc>.
  static ConfigText parse_project_xml(std::string text, const std::string& source);

  const std::string& text() const { return text_; }

  struct Daemon {
    std::size_t begin = 0, end = 0;  // the <daemon>…</daemon> element's bytes
    std::string cmd, output, pid_file;
  };
  std::vector<Daemon> daemons() const;

  // Appends a <daemon> with these children (tag, value) at the end of
  // <daemons>, creating <daemons> before </boinc> when absent.
  void add_daemon(const std::vector<std::pair<std::string, std::string>>& children);
  // Replaces daemons()[index] with one holding these children.
  void replace_daemon(std::size_t index,
                      const std::vector<std::pair<std::string, std::string>>& children);
  // Removes daemons()[index], with its line when it stands alone on it.
  void remove_daemon(std::size_t index);

  // project.xml: is there an <app> with this <name>; add one before </boinc>.
  bool has_app(const std::string& name) const;
  void add_app(const std::string& name, const std::string& user_friendly_name);

  // The trimmed text of <config><TAG>, when present.
  std::optional<std::string> config_value(const std::string& tag) const;
  // Sets <config><TAG> to `value`, adding the element before </config>.
  void set_config_value(const std::string& tag, const std::string& value);

  struct Element {
    std::string path;  // e.g. "boinc/daemons/daemon"
    std::size_t begin = 0, end = 0;                  // whole element
    std::size_t content_begin = 0, content_end = 0;  // between the tags (equal when <x/>)
    bool self_closing = false;
  };

 private:
  explicit ConfigText(std::string text, std::string source);
  static ConfigText parse_document(std::string text, const std::string& source, const char* child,
                                   const char* what);
  void rescan();
  const Element* find(const std::string& path) const;
  std::string indent_of(std::size_t pos) const;  // white space from line start to pos
  std::string indent_unit() const;               // one indentation step of this file
  // Inserts make(indent) as a new child line just before the end tag at `at`,
  // one indent step deeper than the end tag's line.
  void insert_before_close(std::size_t at, const std::function<std::string(const std::string&)>& make);
  std::string element_text(const std::string& tag, const std::string& indent,
                           const std::vector<std::pair<std::string, std::string>>& children) const;

  std::string text_;
  std::string source_;
  std::vector<Element> elements_;  // in order of their start tags
};

}  // namespace mw::setup
