// Input templates: parsed once into the pieces BOINC's create_work emits, then
// rendered per workunit with that workunit's files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "boinc/template_lexer.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/templates.h"
#include "mw/error.h"
#include "util/fs.h"

namespace mw::boinc {

using detail::TemplateLexer;
using detail::Token;

namespace {

constexpr std::uint64_t kMaxTemplateBytes = 1u << 20;

struct FileInfoSpec {
  int line = 0;
  std::string copied;         // other elements, each followed by "\n", in template order
  std::string physical_name;  // non-empty: a constant file
  bool gzip = false;
  std::vector<std::string> urls;
  std::string md5;
  double nbytes = -1;  // > 0: a remote file described by the template itself
  std::optional<double> gzipped_nbytes;
};

struct FileRefSpec {
  std::string body;               // the lines after <file_name>
  bool open_as_physical = false;  // <copy_file/> without <open_name>
};

// A stretch of literal <workunit> output, or a reference to a file_ref.
struct Piece {
  std::string text;
  int file_ref = -1;
};

}  // namespace

struct InputTemplate::Parsed {
  std::string source;
  std::vector<FileInfoSpec> file_infos;
  std::size_t variable_files = 0;
  std::vector<FileRefSpec> file_refs;
  std::vector<Piece> workunit;
  bool has_command_line = false;
  int line_of_command_line = 0;
  TemplateWorkunitValues values;
};

namespace {

// Reads one template into InputTemplate::Parsed, mirroring BOINC's scan.
class Parser {
 public:
  Parser(std::string_view text, std::string source) : lx_(text, std::move(source)) {}

  InputTemplate::Parsed run() {
    out_.source = lx_.source();
    bool seen_workunit = false;
    for (;;) {
      Token t = lx_.next();
      if (t.kind == Token::Kind::end) break;
      // BOINC skips text and any tag it does not know at the top level
      // (including the <input_template> wrapper).
      if (t.kind != Token::Kind::tag) continue;
      if (t.value == "file_info") {
        if (seen_workunit)
          lx_.fail(t.offset, "<file_info> after <workunit>: BOINC would put it after </workunit>, "
                             "where no <file_ref> can name it; list every <file_info> first");
        file_info(t);
      } else if (t.value == "workunit") {
        if (seen_workunit) lx_.fail(t.offset, "a second <workunit>; a template has exactly one");
        seen_workunit = true;
        workunit(t);
      }
    }
    if (!seen_workunit)
      throw Error(Errc::format, lx_.source() + ": has no <workunit> element");
    return std::move(out_);
  }

 private:
  TemplateLexer lx_;
  InputTemplate::Parsed out_;

  Token next_in(const Token& open, const std::string& what, std::size_t max = detail::kTagText) {
    Token t = lx_.next(max);
    if (t.kind == Token::Kind::end) lx_.fail(open.offset, what + " is not closed before the end of the template");
    if (t.kind == Token::Kind::text)
      lx_.fail(t.offset, "unexpected text '" + t.value.substr(0, 40) + "' in " + what);
    return t;
  }

  void expect_close(const std::string& name) {
    Token t = lx_.next();
    if (t.kind != Token::Kind::tag || t.value != "/" + name)
      lx_.fail(t.offset, "<" + name + "> must hold only text and be closed by </" + name + ">");
  }

  // The text of <name>…</name> after its start tag; "" for <name></name>.
  std::string string_body(const Token& open, std::size_t max) {
    const std::string& name = open.value;
    Token t = lx_.next(max);
    if (t.kind == Token::Kind::end) lx_.fail(open.offset, "<" + name + "> is not closed");
    if (t.kind == Token::Kind::tag) {
      if (t.value == "/" + name) return "";
      lx_.fail(t.offset, "<" + name + "> must hold text, not <" + t.value + ">");
    }
    expect_close(name);
    return t.cdata ? t.value : detail::unescape(t.value);
  }

  // The raw number text of <name>…</name>; nullopt for <name></name> (BOINC reads 0).
  std::optional<std::string> number_text(const Token& open) {
    const std::string& name = open.value;
    Token t = lx_.next(detail::kShortText);
    if (t.kind == Token::Kind::end) lx_.fail(open.offset, "<" + name + "> is not closed");
    if (t.kind == Token::Kind::tag) {
      if (t.value == "/" + name) return std::nullopt;
      lx_.fail(t.offset, "<" + name + "> must hold a number, not <" + t.value + ">");
    }
    expect_close(name);
    return t.value;
  }

  int int_body(const Token& open) {
    auto text = number_text(open);
    if (!text) return 0;
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(text->c_str(), &end, 0);
    if (errno != 0 || end != text->c_str() + text->size() || v < INT_MIN || v > INT_MAX)
      lx_.fail(open.offset, "<" + open.value + ">: '" + *text + "' is not an integer");
    return static_cast<int>(v);
  }

  double double_body(const Token& open) {
    auto text = number_text(open);
    if (!text) return 0;
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text->c_str(), &end);
    if (errno != 0 || end != text->c_str() + text->size() || !std::isfinite(v))
      lx_.fail(open.offset, "<" + open.value + ">: '" + *text + "' is not a finite number");
    return v;
  }

  // <name/> is true; <name>N</name> is N != 0.
  bool flag_body(const Token& open) {
    Token t = lx_.next(detail::kShortText);
    if (t.kind != Token::Kind::text)
      lx_.fail(open.offset, "<" + open.value + "> must be <" + open.value + "/> or hold 0 or 1");
    expect_close(open.value);
    char* end = nullptr;
    const long v = std::strtol(t.value.c_str(), &end, 0);
    if (end != t.value.c_str() + t.value.size())
      lx_.fail(open.offset, "<" + open.value + ">: '" + t.value + "' is not an integer");
    return v != 0;
  }

  // An element BOINC does not interpret, rebuilt as BOINC rebuilds it: the
  // tag name without attributes, the body trimmed, or <name/> when self-closed.
  std::string copy_element(const Token& open, const std::string& where) {
    const std::string& v = open.value;
    if (v.empty()) lx_.fail(open.offset, "a tag without a name in " + where);
    if (v.back() == '/') return "<" + v + ">";
    if (v.find('/') != std::string::npos)
      lx_.fail(open.offset, "unexpected <" + v + "> in " + where);
    if (v.size() > 256) lx_.fail(open.offset, "tag name longer than 256 characters");
    return "<" + v + ">" + lx_.element_contents(v, open.offset) + "</" + v + ">";
  }

  void file_info(const Token& open) {
    FileInfoSpec spec;
    spec.line = lx_.line_of(open.offset);
    const std::string where = "<file_info> #" + std::to_string(out_.file_infos.size() + 1);
    for (;;) {
      Token t = next_in(open, where);
      const std::string& v = t.value;
      if (v == "/file_info") break;
      if (v == "gzip/") spec.gzip = true;
      else if (v == "gzip") spec.gzip = flag_body(t);
      else if (v == "physical_name/") spec.physical_name.clear();
      else if (v == "physical_name") spec.physical_name = string_body(t, detail::kShortText);
      else if (v == "url/") spec.urls.emplace_back();
      else if (v == "url") spec.urls.push_back(string_body(t, detail::kLongText));
      else if (v == "number") (void)int_body(t);
      else if (v == "md5_cksum/") spec.md5.clear();
      else if (v == "md5_cksum") spec.md5 = string_body(t, detail::kLongText);
      else if (v == "nbytes") spec.nbytes = double_body(t);
      else if (v == "gzipped_nbytes") spec.gzipped_nbytes = double_body(t);
      else spec.copied += copy_element(t, where) + "\n";
    }
    if (spec.physical_name.empty()) ++out_.variable_files;
    out_.file_infos.push_back(std::move(spec));
  }

  void add_text(std::string text) {
    if (!out_.workunit.empty() && out_.workunit.back().file_ref < 0)
      out_.workunit.back().text += text;
    else
      out_.workunit.push_back(Piece{std::move(text), -1});
  }

  void workunit(const Token& open) {
    auto& val = out_.values;
    for (;;) {
      Token t = next_in(open, "<workunit>");
      const std::string& v = t.value;
      if (v == "/workunit") break;
      if (v == "file_ref") {
        file_ref(t);
      } else if (v == "command_line/" || v == "command_line") {
        const std::string cmd = v == "command_line" ? string_body(t, detail::kLongText) : "";
        if (!out_.has_command_line) out_.line_of_command_line = lx_.line_of(t.offset);
        out_.has_command_line = true;
        add_text("<command_line>\n" + cmd + "\n</command_line>\n");
      } else if (v == "rsc_fpops_est") val.rsc_fpops_est = double_body(t);
      else if (v == "rsc_fpops_bound") val.rsc_fpops_bound = double_body(t);
      else if (v == "rsc_memory_bound") val.rsc_memory_bound = double_body(t);
      else if (v == "rsc_bandwidth_bound") val.rsc_bandwidth_bound = double_body(t);
      else if (v == "rsc_disk_bound") val.rsc_disk_bound = double_body(t);
      else if (v == "batch") val.batch = int_body(t);
      else if (v == "delay_bound") val.delay_bound = int_body(t);
      else if (v == "min_quorum") val.min_quorum = int_body(t);
      else if (v == "target_nresults") val.target_nresults = int_body(t);
      else if (v == "max_error_results") val.max_error_results = int_body(t);
      else if (v == "max_total_results") val.max_total_results = int_body(t);
      else if (v == "max_success_results") val.max_success_results = int_body(t);
      else if (v == "size_class") val.size_class = int_body(t);
      else add_text(copy_element(t, "<workunit>") + "\n");
    }
    if (out_.file_refs.size() != out_.file_infos.size())
      lx_.fail(open.offset, "<workunit> has " + std::to_string(out_.file_refs.size()) +
                                " <file_ref>s for " + std::to_string(out_.file_infos.size()) +
                                " <file_info>s; BOINC needs exactly one per file, in the same order");
  }

  void file_ref(const Token& open) {
    const std::size_t index = out_.file_refs.size();
    const std::string where = "<file_ref> #" + std::to_string(index + 1);
    if (index >= out_.file_infos.size())
      lx_.fail(open.offset, where + " has no matching <file_info> (file_refs match file_infos by position)");
    FileRefSpec spec;
    bool open_name = false;
    bool copy_file = false;
    for (;;) {
      Token t = next_in(open, where);
      const std::string& v = t.value;
      if (v == "/file_ref") break;
      if (v == "open_name/" || v == "open_name") {
        const std::string name = v == "open_name" ? string_body(t, detail::kShortText) : "";
        spec.body += "    <open_name>" + name + "</open_name>\n";
        open_name = true;
      } else if (v == "file_number") {
        (void)int_body(t);
      } else if (v == "copy_file/") {
        spec.body += "    <copy_file/>\n";
        copy_file = true;
      } else if (v == "file_name/") {
        // BOINC ignores <file_name>: the physical name comes from the file_info.
      } else if (v == "file_name") {
        (void)string_body(t, detail::kLongText);
      } else {
        spec.body += copy_element(t, where) + "\n";
      }
    }
    if (!open_name && !copy_file)
      lx_.fail(open.offset, where + " needs <open_name> or <copy_file/>");
    spec.open_as_physical = !open_name;
    out_.file_refs.push_back(std::move(spec));
    out_.workunit.push_back(Piece{"", static_cast<int>(index)});
  }
};

std::string format_bytes(double n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.0f", n);
  return buf;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Physical names become paths and URLs and go into XML unescaped (as BOINC
// writes them), so refuse names that would escape the directory or the markup.
void check_physical_name(const std::string& name, const std::string& what) {
  const char* problem = nullptr;
  if (name.empty()) problem = "is empty";
  else if (name == "." || name == "..") problem = "is . or ..";
  for (char c : name) {
    if (problem) break;
    const auto u = static_cast<unsigned char>(c);
    if (c == '/') problem = "contains '/'";
    else if (c == '<' || c == '>' || c == '&') problem = "contains an XML special character";
    else if (c == '%') problem = "contains '%' (BOINC URLs are not escaped)";
    else if (u < 0x20 || u == 0x7f) problem = "contains a control character";
  }
  if (problem) throw Error(Errc::usage, what + " '" + name + "' " + problem);
}

// A digest the caller supplies goes into the XML as it is: make sure it is one.
void check_digest(const FileDigest& d, const std::string& what) {
  bool hex = d.md5.size() == 32;
  for (char c : d.md5) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) throw Error(Errc::usage, what + ": MD5 '" + d.md5 + "' is not 32 lowercase hex digits");
  if (!(d.nbytes >= 0)) throw Error(Errc::usage, what + ": negative size");
}

// BOINC copies a file found only at the top of download_dir into the
// hierarchy; we do the same, atomically, and like BOINC 7.20 give the copy the
// default mode (0666 less the umask) rather than the original's.
void copy_into_hierarchy(const std::string& from, const std::string& to) {
  auto fail = [&](int err) {
    throw Error(Errc::io, "cannot copy '" + from + "' to '" + to + "': " + mw::detail::errno_text(err));
  };
  struct Fd {
    int fd;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  };
  Fd in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) fail(errno);
  const std::string tmp = mw::detail::temp_path_beside(to);
  Fd out{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)};
  if (out.fd < 0) fail(errno);
  try {
    std::string buf(1 << 16, '\0');
    for (;;) {
      ssize_t n = ::read(in.fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(errno);
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(out.fd, buf.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fail(errno);
        done += w;
      }
    }
    const int fd = out.fd;
    out.fd = -1;
    if (::close(fd) != 0) fail(errno);
    if (::rename(tmp.c_str(), to.c_str()) != 0) fail(errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

double gzip_size(const std::string& path) {
  const std::string gz = path + ".gz";
  struct stat st {};
  if (::stat(gz.c_str(), &st) != 0)
    throw Error(Errc::io, "<gzip/> needs '" + gz + "': " + mw::detail::errno_text(errno));
  return static_cast<double>(st.st_size);
}

std::string file_lines(const WorkunitFile& f, const std::string& urls, const std::string& gzip_nbytes = "") {
  return "    <name>" + f.name + "</name>\n" + urls + "    <md5_cksum>" + f.md5 + "</md5_cksum>\n" +
         "    <nbytes>" + format_bytes(f.nbytes) + "</nbytes>\n" + gzip_nbytes;
}

// The lines BOINC writes inside one <file_info>, and what it records about it.
std::string render_file_info(const InputTemplate::Parsed& p, const FileInfoSpec& spec, const InputFile* in,
                             const ProjectConfig& cfg, WorkunitFile& file, std::size_t index) {
  const std::string where =
      p.source + ": line " + std::to_string(spec.line) + ": <file_info> #" + std::to_string(index + 1);
  const int fanout = cfg.uldl_dir_fanout;

  if (!spec.physical_name.empty()) {  // constant file: staged once, with its .md5
    check_physical_name(spec.physical_name, where + ": <physical_name>");
    const std::string path = make_dir_hier_path(spec.physical_name, cfg.download_dir, fanout);
    auto digest = read_md5_info(path);
    if (!digest)
      throw Error(Errc::io, where + ": constant file '" + spec.physical_name + "' needs '" + path +
                                "' and a current '" + md5_info_path(path) + "' (BOINC never hashes constant files)");
    file = WorkunitFile{spec.physical_name, digest->md5, digest->nbytes};
    return file_lines(file, "    <url>" + dir_hier_url(spec.physical_name, cfg.download_url, fanout) + "</url>\n");
  }

  if (spec.nbytes > 0) {  // remote file described by the template: URLs are bases for the name
    if (spec.md5.empty() || spec.urls.empty() || spec.urls.back().empty())
      throw Error(Errc::format, where + ": a remote file needs <url>, <md5_cksum> and <nbytes>");
    if (spec.gzip && spec.gzipped_nbytes.value_or(0) == 0)
      throw Error(Errc::format, where + ": <gzip/> on a remote file needs <gzipped_nbytes>");
    check_physical_name(in->name, where + ": input file");
    file = WorkunitFile{in->name, spec.md5, spec.nbytes};
    std::string urls;
    for (const auto& base : spec.urls) {
      urls += "    <url>" + base + in->name + "</url>\n";
      if (spec.gzip) urls += "    <gzipped_url>" + base + in->name + ".gz</gzipped_url>\n";
    }
    std::string gz;
    if (spec.gzip) gz = "    <gzipped_nbytes>" + format_bytes(*spec.gzipped_nbytes) + "</gzipped_nbytes>\n";
    return file_lines(file, urls, gz);
  }

  if (in->digest) check_digest(*in->digest, where + ": input file '" + in->name + "'");
  if (!in->url.empty()) {  // remote file given as an argument: jf_<md5>, URL verbatim
    if (!in->digest) throw Error(Errc::usage, where + ": remote input file '" + in->url + "' needs an MD5 and size");
    check_physical_name(in->name, where + ": input file");
    file = WorkunitFile{in->name, in->digest->md5, in->digest->nbytes};
    return file_lines(file, "    <url>" + in->url + "</url>\n");
  }

  check_physical_name(in->name, where + ": input file");
  FileDigest digest;
  const std::string path = in->digest ? dir_hier_path(in->name, cfg.download_dir, fanout)
                                      : make_dir_hier_path(in->name, cfg.download_dir, fanout);
  if (in->digest) {
    digest = *in->digest;
  } else {
    if (!file_exists(path)) {
      const std::string top = cfg.download_dir + "/" + in->name;
      if (!file_exists(top))
        throw Error(Errc::io, where + ": input file '" + in->name + "' is not staged: neither '" + path +
                                  "' nor '" + top + "' exists");
      copy_into_hierarchy(top, path);
    }
    digest = staged_file_digest(path, cfg.cache_md5_info);
  }
  file = WorkunitFile{in->name, digest.md5, digest.nbytes};
  const std::string url = dir_hier_url(in->name, cfg.download_url, fanout);
  std::string urls = "    <url>" + url + "</url>\n";
  if (spec.gzip) {
    urls += "    <gzipped_url>" + url + ".gz</gzipped_url>\n";
    urls += "    <gzipped_nbytes>" + format_bytes(gzip_size(path)) + "</gzipped_nbytes>\n";
  }
  return file_lines(file, urls);
}

}  // namespace

InputTemplate::InputTemplate(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}

InputTemplate InputTemplate::parse(std::string_view text, std::string source) {
  return InputTemplate(std::make_shared<const Parsed>(Parser(text, std::move(source)).run()));
}

InputTemplate InputTemplate::load(const std::string& path) {
  return parse(mw::detail::read_file(path, kMaxTemplateBytes), path);
}

const std::string& InputTemplate::source() const { return parsed_->source; }
std::size_t InputTemplate::file_count() const { return parsed_->file_infos.size(); }
std::size_t InputTemplate::variable_file_count() const { return parsed_->variable_files; }
bool InputTemplate::has_command_line() const { return parsed_->has_command_line; }
const TemplateWorkunitValues& InputTemplate::values() const { return parsed_->values; }

InputFile InputFile::staged(std::string name) { return InputFile{std::move(name), std::nullopt, ""}; }

InputFile InputFile::known(std::string name, FileDigest digest) {
  return InputFile{std::move(name), std::move(digest), ""};
}

InputFile InputFile::remote(std::string url, FileDigest digest) {
  if (url.empty() || digest.md5.empty())
    throw Error(Errc::usage, "a remote input file needs a URL and an MD5");
  std::string name = "jf_" + digest.md5;
  return InputFile{std::move(name), std::move(digest), std::move(url)};
}

WorkunitDoc make_workunit_doc(const InputTemplate& tmpl, const std::vector<InputFile>& files,
                              const ProjectConfig& config, const std::optional<std::string>& command_line,
                              const std::string& additional_xml) {
  const InputTemplate::Parsed& p = *tmpl.parsed_;
  if (files.size() != p.variable_files)
    throw Error(Errc::format, p.source + ": needs " + std::to_string(p.variable_files) +
                                  " input file(s), one per <file_info> without <physical_name>, but " +
                                  std::to_string(files.size()) + " were given");
  if (command_line && p.has_command_line)
    throw Error(Errc::format, p.source + ": line " + std::to_string(p.line_of_command_line) +
                                  ": the template has a <command_line> and another was given; "
                                  "BOINC 7.20 refuses both, so give only one");

  WorkunitDoc doc;
  doc.values = p.values;
  std::string& out = doc.xml_doc;
  std::size_t next_input = 0;
  for (std::size_t i = 0; i < p.file_infos.size(); ++i) {
    const FileInfoSpec& spec = p.file_infos[i];
    const InputFile* in = spec.physical_name.empty() ? &files[next_input++] : nullptr;
    WorkunitFile file;
    out += "<file_info>\n";
    out += spec.copied;
    out += render_file_info(p, spec, in, config, file, i);
    out += "</file_info>\n";
    doc.files.push_back(std::move(file));
  }

  out += "<workunit>\n";
  if (command_line) out += "<command_line>\n" + *command_line + "\n</command_line>\n";
  for (const Piece& piece : p.workunit) {
    if (piece.file_ref < 0) {
      out += piece.text;
      continue;
    }
    const auto index = static_cast<std::size_t>(piece.file_ref);
    const std::string& name = doc.files[index].name;
    const FileRefSpec& ref = p.file_refs[index];
    out += "<file_ref>\n    <file_name>" + name + "</file_name>\n" + ref.body;
    if (ref.open_as_physical) out += "    <open_name>" + name + "</open_name>\n";
    out += "</file_ref>\n";
  }
  if (!additional_xml.empty()) out += additional_xml + "\n";
  out += "</workunit>";

  if (out.size() > kMaxXmlDocBytes)
    throw Error(Errc::usage, p.source + ": workunit xml_doc would be " + std::to_string(out.size()) +
                                 " bytes; BOINC stores at most " + std::to_string(kMaxXmlDocBytes));
  return doc;
}

}  // namespace mw::boinc
