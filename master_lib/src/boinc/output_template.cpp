// Output templates: the text the transitioner stores in result.xml_doc_in.
#include <string>

#include "boinc/template_lexer.h"
#include "mw/boinc/templates.h"
#include "mw/error.h"

namespace mw::boinc {
namespace {

constexpr std::string_view kOutfileMacro = "<OUTFILE_";
constexpr std::string_view kUploadUrlMacro = "<UPLOAD_URL/>";
constexpr std::string_view kWrapperOpen = "<output_template>";
constexpr std::string_view kWrapperClose = "</output_template>";
// BOINC signs each <file_info> whose start tag ends its line.
constexpr std::string_view kSignedFileInfo = "<file_info>\n";

int line_at(std::string_view text, std::size_t offset) {
  int line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

}  // namespace

std::string output_file_stem(const std::string& result_name, std::int64_t random) {
  return result_name + "_r" + std::to_string(random) + "_";
}

std::string make_result_xml_doc_in(std::string_view output_template, const std::string& source,
                                   const std::string& result_name, std::int64_t random,
                                   const ProjectConfig& config) {
  // BOINC rescans from the start after every substitution; names and URLs
  // without '<' cannot create new macros, so one left-to-right pass is the same.
  if (result_name.find('<') != std::string::npos)
    throw Error(Errc::usage, "result name '" + result_name + "' contains '<'");
  if (config.upload_url.find('<') != std::string::npos)
    throw Error(Errc::usage, config.config_path + ": <upload_url> contains '<'");
  if (output_template.find('\0') != std::string_view::npos)
    throw Error(Errc::format, source + ": holds a NUL byte");

  const std::string stem = output_file_stem(result_name, random);
  std::string text(output_template);

  for (std::size_t at = text.find(kOutfileMacro); at != std::string::npos;
       at = text.find(kOutfileMacro, at)) {
    const std::size_t suffix = at + kOutfileMacro.size();
    const std::size_t close = text.find("/>", suffix);
    // The macro must end at the first '>' after its name: <OUTFILE_x/>.
    if (close == std::string::npos || text.find('>', suffix) != close + 1)
      throw Error(Errc::format, source + ": line " + std::to_string(line_at(text, at)) +
                                    ": malformed <OUTFILE_…/> macro (expected <OUTFILE_N/>)");
    const std::string replacement = stem + text.substr(suffix, close - suffix);
    text.replace(at, close + 2 - at, replacement);
    at += replacement.size();
  }
  for (std::size_t at = text.find(kUploadUrlMacro); at != std::string::npos;
       at = text.find(kUploadUrlMacro, at)) {
    text.replace(at, kUploadUrlMacro.size(), config.upload_url);
    at += config.upload_url.size();
  }

  if (!config.dont_generate_upload_certificates && text.find(kSignedFileInfo) != std::string::npos)
    throw Error(Errc::usage,
                source + ": " + config.config_path +
                    " does not set <dont_generate_upload_certificates>, so BOINC would sign each "
                    "output <file_info> with keys/upload_private; mwkit does not implement upload "
                    "certificates. Set <dont_generate_upload_certificates>1</dont_generate_upload_certificates> "
                    "and <ignore_upload_certificates>1</ignore_upload_certificates> (make_project's defaults)");

  // BOINC drops the first len("<output_template>") characters whenever the
  // wrapper appears anywhere, assuming it opens the text; do exactly that.
  if (text.find(kWrapperOpen) != std::string::npos) {
    text.erase(0, kWrapperOpen.size());
    const std::size_t close = text.find(kWrapperClose);
    if (close != std::string::npos) text.erase(close);
  }
  text = detail::trim_blanks(text);
  if (text.size() > kMaxXmlDocBytes)
    throw Error(Errc::usage, source + ": result xml_doc_in would be " + std::to_string(text.size()) +
                                 " bytes; BOINC stores at most " + std::to_string(kMaxXmlDocBytes));
  return text;
}

}  // namespace mw::boinc
