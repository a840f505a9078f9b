#include "config_text.h"

#include <tinyxml2.h>

#include <algorithm>
#include <cstring>

#include "mw/error.h"

namespace mw::setup {
namespace {

constexpr const char* kDefaultIndentUnit = "    ";

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string xml_unescape(const std::string& s) {
  static const std::pair<const char*, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool done = false;
    if (s[i] == '&')
      for (const auto& [ent, ch] : kEntities)
        if (s.compare(i, std::strlen(ent), ent) == 0) {
          out += ch;
          i += std::strlen(ent);
          done = true;
          break;
        }
    if (!done) out += s[i++];
  }
  return out;
}

bool is_name_end(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>'; }

}  // namespace

ConfigText::ConfigText(std::string text, std::string source)
    : text_(std::move(text)), source_(std::move(source)) {}

ConfigText ConfigText::parse_document(std::string text, const std::string& source, const char* child,
                                      const char* what) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(text.data(), text.size()) != tinyxml2::XML_SUCCESS)
    throw Error(Errc::format, source + ": line " + std::to_string(doc.ErrorLineNum()) +
                                  ": not well-formed XML (" + doc.ErrorStr() + "); nothing was changed");
  const auto* root = doc.RootElement();
  if (root == nullptr || std::strcmp(root->Name(), "boinc") != 0 ||
      (child != nullptr && root->FirstChildElement(child) == nullptr))
    throw Error(Errc::format, source + ": not a BOINC " + what + "; nothing was changed");
  ConfigText t(std::move(text), source);
  t.rescan();
  return t;
}

ConfigText ConfigText::parse(std::string text, const std::string& source) {
  return parse_document(std::move(text), source, "config", "config.xml (<boinc><config>…</config>…</boinc>)");
}

ConfigText ConfigText::parse_project_xml(std::string text, const std::string& source) {
  return parse_document(std::move(text), source, nullptr, "project.xml (<boinc>…</boinc>)");
}

bool ConfigText::has_app(const std::string& name) const {
  for (const auto& e : elements_)
    if (e.path == "boinc/app/name" &&
        xml_unescape(trim(text_.substr(e.content_begin, e.content_end - e.content_begin))) == name)
      return true;
  return false;
}

void ConfigText::add_app(const std::string& name, const std::string& user_friendly_name) {
  insert_before_close(find("boinc")->content_end, [&](const std::string& ind) {
    return element_text("app", ind, {{"name", name}, {"user_friendly_name", user_friendly_name}});
  });
}

void ConfigText::rescan() {
  elements_.clear();
  std::vector<std::size_t> open;  // indexes into elements_
  std::string path;
  const std::string& s = text_;
  std::size_t i = 0;
  auto skip_to = [&](const char* terminator) {
    auto at = s.find(terminator, i);
    if (at == std::string::npos) throw Error(Errc::format, source_ + ": unterminated markup");
    i = at + std::strlen(terminator);
  };
  while ((i = s.find('<', i)) != std::string::npos) {
    if (s.compare(i, 4, "<!--") == 0) { skip_to("-->"); continue; }
    if (s.compare(i, 2, "<?") == 0) { skip_to("?>"); continue; }
    if (s.compare(i, 9, "<![CDATA[") == 0) { skip_to("]]>"); continue; }
    if (s.compare(i, 2, "<!") == 0) { skip_to(">"); continue; }
    if (s.compare(i, 2, "</") == 0) {
      std::size_t close = s.find('>', i);
      if (open.empty() || close == std::string::npos)
        throw Error(Errc::format, source_ + ": unbalanced end tag");
      Element& e = elements_[open.back()];
      e.content_end = i;
      e.end = close + 1;
      open.pop_back();
      path = open.empty() ? "" : elements_[open.back()].path;
      i = close + 1;
      continue;
    }
    std::size_t name_end = i + 1;
    while (name_end < s.size() && !is_name_end(s[name_end])) ++name_end;
    std::string name = s.substr(i + 1, name_end - i - 1);
    std::size_t close = name_end;
    char quote = 0;
    for (; close < s.size(); ++close) {
      char c = s[close];
      if (quote) { if (c == quote) quote = 0; }
      else if (c == '"' || c == '\'') quote = c;
      else if (c == '>') break;
    }
    if (close >= s.size()) throw Error(Errc::format, source_ + ": unterminated start tag <" + name);
    Element e;
    e.path = path.empty() ? name : path + "/" + name;
    e.begin = i;
    e.self_closing = s[close - 1] == '/';
    e.content_begin = e.content_end = close + 1;
    e.end = close + 1;
    elements_.push_back(e);
    if (!e.self_closing) {
      open.push_back(elements_.size() - 1);
      path = e.path;
    }
    i = close + 1;
  }
}

std::string ConfigText::indent_unit() const {
  // The file's own step: how far the first child of <boinc> sits inside it.
  std::string unit;
  for (const auto& e : elements_)
    if (e.path.rfind("boinc/", 0) == 0 && e.path.find('/', 6) == std::string::npos) {
      unit = indent_of(e.begin);
      break;
    }
  return unit.empty() ? kDefaultIndentUnit : unit;
}

const ConfigText::Element* ConfigText::find(const std::string& path) const {
  for (const auto& e : elements_)
    if (e.path == path) return &e;
  return nullptr;
}

std::string ConfigText::indent_of(std::size_t pos) const {
  std::size_t line = text_.rfind('\n', pos == 0 ? 0 : pos - 1);
  line = line == std::string::npos ? 0 : line + 1;
  std::string ws = text_.substr(line, pos - line);
  if (ws.find_first_not_of(" \t") != std::string::npos) return "";
  return ws;
}

std::vector<ConfigText::Daemon> ConfigText::daemons() const {
  std::vector<Daemon> out;
  for (const auto& e : elements_) {
    if (e.path != "boinc/daemons/daemon") continue;
    Daemon d;
    d.begin = e.begin;
    d.end = e.end;
    for (const auto& c : elements_) {
      if (c.begin <= e.begin || c.end > e.end) continue;
      std::string value = xml_unescape(trim(text_.substr(c.content_begin, c.content_end - c.content_begin)));
      if (c.path == e.path + "/cmd") d.cmd = value;
      else if (c.path == e.path + "/output") d.output = value;
      else if (c.path == e.path + "/pid_file") d.pid_file = value;
    }
    out.push_back(d);
  }
  return out;
}

std::string ConfigText::element_text(const std::string& tag, const std::string& indent,
                                     const std::vector<std::pair<std::string, std::string>>& children) const {
  std::string t = "<" + tag + ">\n";
  for (const auto& [child, value] : children)
    t += indent + indent_unit() + "<" + child + ">" + xml_escape(value) + "</" + child + ">\n";
  t += indent + "</" + tag + ">";
  return t;
}

void ConfigText::insert_before_close(std::size_t at,
                                     const std::function<std::string(const std::string&)>& make) {
  std::string close_ind = indent_of(at);
  std::size_t line_start = at - close_ind.size();
  bool starts_line = line_start == 0 || text_[line_start - 1] == '\n';
  std::string ind = close_ind + indent_unit();
  if (starts_line)
    text_.insert(line_start, ind + make(ind) + "\n");
  else
    text_.insert(at, "\n" + ind + make(ind) + "\n");
  rescan();
}

void ConfigText::add_daemon(const std::vector<std::pair<std::string, std::string>>& children) {
  const Element* daemons = find("boinc/daemons");
  if (daemons != nullptr && daemons->self_closing) {
    std::string ind = indent_of(daemons->begin);
    text_.replace(daemons->begin, daemons->end - daemons->begin, "<daemons>\n" + ind + "</daemons>");
    rescan();
  }
  if (find("boinc/daemons") == nullptr)
    insert_before_close(find("boinc")->content_end,
                        [](const std::string& ind) { return "<daemons>\n" + ind + "</daemons>"; });
  insert_before_close(find("boinc/daemons")->content_end,
                      [&](const std::string& ind) { return element_text("daemon", ind, children); });
}

void ConfigText::replace_daemon(std::size_t index,
                                const std::vector<std::pair<std::string, std::string>>& children) {
  Daemon d = daemons().at(index);
  text_.replace(d.begin, d.end - d.begin, element_text("daemon", indent_of(d.begin), children));
  rescan();
}

void ConfigText::remove_daemon(std::size_t index) {
  Daemon d = daemons().at(index);
  std::string ind = indent_of(d.begin);
  std::size_t begin = d.begin, end = d.end;
  std::size_t line_start = begin - ind.size();
  bool alone_before = line_start == 0 || text_[line_start - 1] == '\n';
  std::size_t after = end;
  while (after < text_.size() && (text_[after] == ' ' || text_[after] == '\t' || text_[after] == '\r')) ++after;
  bool alone_after = after == text_.size() || text_[after] == '\n';
  if (alone_before && alone_after) {
    begin = line_start;
    end = after < text_.size() ? after + 1 : after;
  }
  text_.erase(begin, end - begin);
  rescan();
}

std::optional<std::string> ConfigText::config_value(const std::string& tag) const {
  const Element* e = find("boinc/config/" + tag);
  if (e == nullptr) return std::nullopt;
  return xml_unescape(trim(text_.substr(e->content_begin, e->content_end - e->content_begin)));
}

void ConfigText::set_config_value(const std::string& tag, const std::string& value) {
  const Element* e = find("boinc/config/" + tag);
  std::string element = "<" + tag + ">" + xml_escape(value) + "</" + tag + ">";
  if (e != nullptr) {
    text_.replace(e->begin, e->end - e->begin, element);
    rescan();
  } else {
    insert_before_close(find("boinc/config")->content_end,
                        [&](const std::string&) { return element; });
  }
}

}  // namespace mw::setup
