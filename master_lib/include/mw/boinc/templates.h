// mw/boinc/templates.h — BOINC input and output templates, processed as BOINC does.
//
// An input template (templates/APP_in) describes a workunit's files and
// parameters; BOINC's create_work turns it, plus the job's file names, into
// workunit.xml_doc and moves the <workunit> numbers (bounds, quorum, ...) into
// workunit columns. An output template (templates/APP_out) becomes each
// result's xml_doc_in when the transitioner creates the result. mwkit inserts
// workunits itself, so it must write exactly the bytes BOINC would: the tests
// compare every output with Debian's libsched 7.20.5.
//
// Input templates (the format BOINC 7.20 reads):
//   <input_template>
//     <file_info>…</file_info>      one per input file, in order:
//        variable: takes the next InputFile given to make_workunit_doc;
//        constant: <physical_name>NAME</physical_name>, staged once with NAME.md5;
//        remote:   <url>BASE</url><md5_cksum>…</md5_cksum><nbytes>N</nbytes>
//                  (takes the next InputFile's name; URL = BASE + name);
//        <gzip/> adds <gzipped_url>/<gzipped_nbytes> from the staged NAME.gz;
//        <number> is ignored; other elements (<sticky/>, <no_delete/>, …) are
//        copied first, then name, url, md5_cksum, nbytes.
//     <workunit>
//        <file_ref>…</file_ref>      the n-th one refers to the n-th <file_info>
//          (<file_number> and <file_name> are ignored); <open_name> and
//          <copy_file/> are kept; <copy_file/> without <open_name> opens the file
//          under its physical name.
//        <command_line>…</command_line>
//        rsc_fpops_est, rsc_fpops_bound, rsc_memory_bound, rsc_bandwidth_bound,
//        rsc_disk_bound, batch, delay_bound, min_quorum, target_nresults,
//        max_error_results, max_total_results, max_success_results,
//        size_class: removed from the XML, returned as TemplateWorkunitValues;
//        anything else (e.g. <priority>, <credit>) is copied into the XML.
//     </workunit>
//   </input_template>
// Copied elements are rebuilt the way BOINC's scanner rebuilds them: the tag
// name without attributes, the body trimmed of blanks, <x/> kept as <x/>.
//
// Where BOINC would silently misread a template (a number that is not one, an
// element cut off by the end of the file, <file_info> after <workunit>, more
// than one <workunit>), these functions throw Error(Errc::format) naming the
// template, the line and the element instead.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mw/boinc/md5_info.h"
#include "mw/boinc/project_config.h"

namespace mw::boinc {

// The <workunit> values an input template sets, each only if present (the last
// occurrence wins). BOINC's create_work applies them over whatever the caller
// had put in the workunit — they override create_work's command-line options
// (reference gotcha 17) — and does not copy them into xml_doc. Integers are
// read like C strtol base 0 ("010" is 8, "0x10" is 16), doubles like strtod.
// BOINC 7.20 does not raise max_success/max_total_results to target_nresults
// here (8.x does); that and create_work's sanity checks are the caller's.
struct TemplateWorkunitValues {
  std::optional<double> rsc_fpops_est;
  std::optional<double> rsc_fpops_bound;
  std::optional<double> rsc_memory_bound;
  std::optional<double> rsc_bandwidth_bound;
  std::optional<double> rsc_disk_bound;
  std::optional<int> batch;
  std::optional<int> delay_bound;
  std::optional<int> min_quorum;
  std::optional<int> target_nresults;
  std::optional<int> max_error_results;
  std::optional<int> max_total_results;
  std::optional<int> max_success_results;
  std::optional<int> size_class;
};

// One file argument of a workunit (BOINC's create_work file list), matched in
// order to the template's variable <file_info>s.
struct InputFile {
  std::string name;                   // physical name
  std::optional<FileDigest> digest;   // when known, the staged file is not read
  std::string url;                    // set only for remote files

  // Staged at dir_hier_path(name, download_dir, fanout) — or at the top of
  // download_dir, whence it is copied into the hierarchy as BOINC does.
  // MD5 and size come from NAME.md5 (if cache_md5_info) or by hashing.
  static InputFile staged(std::string name);
  // Staged, with MD5 and size already known (e.g. computed while writing the
  // file): nothing is read; the caller vouches for the file being there.
  static InputFile known(std::string name, FileDigest digest);
  // Served from elsewhere (BOINC's --remote_file): named jf_<md5>, URL verbatim.
  static InputFile remote(std::string url, FileDigest digest);
};

// What BOINC records about each <file_info> of the workunit, in order.
struct WorkunitFile {
  std::string name;  // physical name (the file_deleter removes it later)
  std::string md5;
  double nbytes = 0;
};

struct WorkunitDoc {
  std::string xml_doc;             // byte-identical to BOINC's workunit.xml_doc
  TemplateWorkunitValues values;   // to apply to the workunit's columns
  std::vector<WorkunitFile> files;
};

// BOINC's limit for workunit.xml_doc and result.xml_doc_in (BLOB_SIZE - 1).
inline constexpr std::size_t kMaxXmlDocBytes = 65535;

// A parsed input template; parse once, then make any number of workunits.
// Cheap to copy (shares the parsed form), immutable, safe to use from threads.
class InputTemplate {
 public:
  // `source` names the template in error messages (usually its path).
  static InputTemplate parse(std::string_view text, std::string source);
  // Reads and parses a template file (Errc::io if unreadable).
  static InputTemplate load(const std::string& path);

  const std::string& source() const;
  std::size_t file_count() const;           // <file_info> elements
  std::size_t variable_file_count() const;  // those that take an InputFile
  bool has_command_line() const;            // the template has <command_line>
  const TemplateWorkunitValues& values() const;

  struct Parsed;

 private:
  friend WorkunitDoc make_workunit_doc(const InputTemplate&, const std::vector<InputFile>&,
                                       const ProjectConfig&, const std::optional<std::string>&,
                                       const std::string&);
  explicit InputTemplate(std::shared_ptr<const Parsed> parsed);
  std::shared_ptr<const Parsed> parsed_;
};

// Builds workunit.xml_doc as BOINC's create_work would for `files` (one per
// variable <file_info>, in order). `command_line`, when given (even empty),
// becomes the first element of <workunit>; a template that has its own
// <command_line> then is an error, as in BOINC 7.20. `additional_xml`, when not
// empty, is added (plus a newline) before </workunit>.
// Side effects, as in BOINC: fan-out directories are created (mode 0771), a
// file found only at the top of download_dir is copied into the hierarchy,
// and with cache_md5_info a missing NAME.md5 is written (a stale one deleted
// and replaced). Throws Error(Errc::format) for template/file-count problems,
// Error(Errc::io) for missing or unreadable staged files (a constant file
// needs its NAME.md5), Error(Errc::usage) when xml_doc would exceed
// kMaxXmlDocBytes or a caller-supplied name or digest could break the
// hierarchy or the markup ('/', "..", '<', '&', '%', control characters; an
// MD5 that is not 32 lowercase hex digits).
WorkunitDoc make_workunit_doc(const InputTemplate& tmpl, const std::vector<InputFile>& files,
                              const ProjectConfig& config,
                              const std::optional<std::string>& command_line = std::nullopt,
                              const std::string& additional_xml = "");

// The file-name stem of a result's outputs: "RESULT_r<random>_". BOINC's
// transitioner draws `random` with lrand48() per result; <OUTFILE_0/> then
// becomes RESULT_r<random>_0.
std::string output_file_stem(const std::string& result_name, std::int64_t random);

// result.xml_doc_in as BOINC's transitioner makes it from the output template
// text: <OUTFILE_x/> → stem + x, <UPLOAD_URL/> → config.upload_url, the
// <output_template> wrapper removed (BOINC assumes it opens the text), blanks
// trimmed. Upload certificates are NOT implemented: when config.xml does not
// set <dont_generate_upload_certificates> and the template has a "<file_info>"
// line that BOINC would sign, this throws Error(Errc::usage) rather than
// produce a document the upload handler might reject. Errc::format for a
// malformed <OUTFILE_ macro (names `source`), Errc::usage for a result name or
// upload URL containing '<', or a document over kMaxXmlDocBytes.
std::string make_result_xml_doc_in(std::string_view output_template, const std::string& source,
                                   const std::string& result_name, std::int64_t random,
                                   const ProjectConfig& config);

}  // namespace mw::boinc
