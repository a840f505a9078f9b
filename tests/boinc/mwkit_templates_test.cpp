// The templates mwkit installs (top-level templates/) parse with mwkit's
// template code and give the same documents as Debian's libsched.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "boinc/layer_oracle.h"
#include "mw/boinc/hierarchy.h"
#include "mw/boinc/inline_task.h"
#include "mw/boinc/md5_info.h"
#include "mw/boinc/templates.h"
#include "mw/error.h"
#include "support/test_support.h"

namespace {

using namespace mw::boinc;
using mw::test::read_text;
using mw::test::ScratchDir;
using mw::test::write_text;

const char* kUploadUrl = "http://127.0.0.1/lab_cgi/file_upload_handler";
const char* kDownloadUrl = "http://127.0.0.1/lab/download";

std::string template_text(const std::string& name) {
  return read_text(std::string(MW_SOURCE_DIR) + "/templates/" + name);
}

oracle::Infile staged(const std::string& name) {
  oracle::Infile f;
  f.name = name;
  return f;
}

struct Project {
  ScratchDir dir;
  ProjectConfig config;
  oracle::Config boinc;
  Project() {
    config.download_dir = boinc.download_dir = dir / "download";
    ::mkdir(config.download_dir.c_str(), 0755);
    config.download_url = boinc.download_url = kDownloadUrl;
    config.upload_url = boinc.upload_url = kUploadUrl;
    config.uldl_dir_fanout = boinc.fanout = 1024;
    config.dont_generate_upload_certificates = boinc.dont_generate_upload_certificates = true;
  }
  void stage(const std::string& name, const std::string& bytes) {
    write_text(make_dir_hier_path(name, config.download_dir, config.uldl_dir_fanout), bytes);
  }
};

void expect_no_workunit_values(const TemplateWorkunitValues& v) {
  EXPECT_FALSE(v.min_quorum || v.target_nresults || v.max_error_results || v.max_total_results ||
               v.max_success_results || v.delay_bound || v.rsc_fpops_est || v.rsc_fpops_bound ||
               v.rsc_memory_bound || v.rsc_disk_bound || v.rsc_bandwidth_bound || v.batch ||
               v.size_class);
}

TEST(MwkitTemplates, InputTemplateMatchesLibsched) {
  Project p;
  p.stage("wu1.task.zip", "PK fake task bundle");
  const std::string tmpl = template_text("mw_in.xml");
  auto parsed = InputTemplate::parse(tmpl, "templates/mw_in.xml");
  EXPECT_EQ(parsed.variable_file_count(), 1u);
  EXPECT_FALSE(parsed.has_command_line());
  expect_no_workunit_values(parsed.values());

  auto ours = make_workunit_doc(parsed, {InputFile::staged("wu1.task.zip")}, p.config);
  auto theirs = oracle::process_input_template(tmpl, {staged("wu1.task.zip")}, p.boinc, nullptr, nullptr);
  ASSERT_EQ(theirs.rc, 0);
  EXPECT_EQ(ours.xml_doc, theirs.xml_doc);
  EXPECT_EQ(theirs.min_quorum, oracle::kUnsetInt);  // the template leaves quorum to create_work
  EXPECT_EQ(theirs.target_nresults, oracle::kUnsetInt);
  EXPECT_EQ(theirs.max_error_results, oracle::kUnsetInt);
  EXPECT_NE(ours.xml_doc.find("<open_name>task.zip</open_name>"), std::string::npos);
}

TEST(MwkitTemplates, ProgramTemplateKeepsTheProgramOnTheHost) {
  Project p;
  p.stage("wu2.task.zip", "PK another bundle");
  const std::string program = "mwp_" + std::string(64, 'a');
  p.stage(program, "#!/bin/sh\necho hi\n");
  const std::string tmpl = template_text("mw_in_program.xml");
  auto parsed = InputTemplate::parse(tmpl, "templates/mw_in_program.xml");
  EXPECT_EQ(parsed.variable_file_count(), 2u);
  expect_no_workunit_values(parsed.values());
  auto ours = make_workunit_doc(parsed, {InputFile::staged("wu2.task.zip"), InputFile::staged(program)},
                                p.config);
  auto theirs = oracle::process_input_template(tmpl, {staged("wu2.task.zip"), staged(program)}, p.boinc, nullptr,
                                               nullptr);
  ASSERT_EQ(theirs.rc, 0);
  EXPECT_EQ(ours.xml_doc, theirs.xml_doc);
  EXPECT_EQ(theirs.min_quorum, oracle::kUnsetInt);
  // The program's <file_info> is sticky and never deleted; the bundle's is not.
  auto second = ours.xml_doc.find("<name>" + program + "</name>");
  ASSERT_NE(second, std::string::npos);
  auto info_start = ours.xml_doc.rfind("<file_info>", second);
  EXPECT_NE(ours.xml_doc.find("<sticky/>", info_start), std::string::npos);
  EXPECT_NE(ours.xml_doc.find("<no_delete/>", info_start), std::string::npos);
  EXPECT_EQ(ours.xml_doc.find("<sticky/>"), ours.xml_doc.find("<sticky/>", info_start));
  EXPECT_NE(ours.xml_doc.find("<open_name>mw_program</open_name>"), std::string::npos);
}

// Inline tasks (mw/boinc/inline_task.h): the bundle in the command line, no
// file for it; libsched makes the same document from the same command line.
TEST(MwkitTemplates, InlineTemplatesMatchLibschedWithTheTaskInTheCommandLine) {
  Project p;
  const std::string command_line = std::string(kInlineTaskOption) + " " + encode_inline_task("PK small bundle");
  {
    const std::string tmpl = template_text("mw_in_inline.xml");
    auto parsed = InputTemplate::parse(tmpl, "templates/mw_in_inline.xml");
    EXPECT_EQ(parsed.variable_file_count(), 0u);
    EXPECT_FALSE(parsed.has_command_line());
    expect_no_workunit_values(parsed.values());
    auto ours = make_workunit_doc(parsed, {}, p.config, command_line);
    auto theirs = oracle::process_input_template(tmpl, {}, p.boinc, command_line.c_str(), nullptr);
    ASSERT_EQ(theirs.rc, 0);
    EXPECT_EQ(ours.xml_doc, theirs.xml_doc);
    EXPECT_EQ(ours.xml_doc.find("<file_info>"), std::string::npos);
    EXPECT_NE(ours.xml_doc.find("<command_line>\n" + command_line + "\n</command_line>"), std::string::npos)
        << ours.xml_doc;
  }
  {
    const std::string program = "mwp_" + std::string(64, 'b');
    p.stage(program, "#!/bin/sh\necho hi\n");
    const std::string tmpl = template_text("mw_in_inline_program.xml");
    auto parsed = InputTemplate::parse(tmpl, "templates/mw_in_inline_program.xml");
    EXPECT_EQ(parsed.variable_file_count(), 1u);
    expect_no_workunit_values(parsed.values());
    auto ours = make_workunit_doc(parsed, {InputFile::staged(program)}, p.config, command_line);
    auto theirs = oracle::process_input_template(tmpl, {staged(program)}, p.boinc, command_line.c_str(), nullptr);
    ASSERT_EQ(theirs.rc, 0);
    EXPECT_EQ(ours.xml_doc, theirs.xml_doc);
    EXPECT_NE(ours.xml_doc.find("<sticky/>"), std::string::npos);
    EXPECT_NE(ours.xml_doc.find("<no_delete/>"), std::string::npos);
    EXPECT_NE(ours.xml_doc.find("<open_name>mw_program</open_name>"), std::string::npos);
  }
}

TEST(InlineTask, Base64RoundTripsEveryByteAndRefusesMalformedTextSayingWhere) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 255u, 256u}) {
    const std::string bytes = all.substr(0, n);
    if (n == 0) continue;  // an empty bundle is never inline
    EXPECT_EQ(decode_inline_task(encode_inline_task(bytes)), bytes) << n;
  }
  EXPECT_EQ(encode_inline_task("PK\x03"), "UEsD");
  // RFC 4648's vectors: every padding case.
  const std::pair<const char*, const char*> rfc[] = {{"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
                                                     {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                     {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : rfc) EXPECT_EQ(encode_inline_task(plain), encoded) << plain;
  // Every length up to past the inline limit, every byte value in every
  // position of a 3-byte group, through OpenSSL's decoder.
  std::string bytes;
  for (std::size_t n = 1; n <= kMaxInlineBundleBytes + 3; ++n) {
    bytes.push_back(static_cast<char>((n * 167 + 13) & 0xff));
    ASSERT_EQ(decode_inline_task(encode_inline_task(bytes)), bytes) << n;
  }
  EXPECT_EQ(decode_inline_task("UEsDBA=="), "PK\x03\x04");
  auto error = [](const std::string& text) {
    return mw::test::error_of([&] { decode_inline_task(text); }, mw::Errc::format);
  };
  EXPECT_NE(error("").find("empty"), std::string::npos);
  EXPECT_NE(error("UEsDB").find("not a multiple of 4"), std::string::npos);
  EXPECT_NE(error("UE*D").find("character 3"), std::string::npos);
  EXPECT_NE(error("UE=D").find("'=' before the end"), std::string::npos);
  EXPECT_NE(error("UE D").find("character 3"), std::string::npos) << "blanks are not skipped";
  EXPECT_NE(error("UEsDB").find(kInlineTaskOption), std::string::npos) << "names where the text came from";
  EXPECT_NE(error("U===").find("character 2"), std::string::npos);
}

TEST(MwkitTemplates, OutputTemplateMatchesLibsched) {
  Project p;
  const std::string tmpl = template_text("mw_out.xml");
  const std::string ours =
      make_result_xml_doc_in(tmpl, "templates/mw_out.xml", "wu1_0", 12345, p.config);
  auto theirs = oracle::process_result_template(tmpl, output_file_stem("wu1_0", 12345), p.boinc);
  ASSERT_EQ(theirs.rc, 0);
  EXPECT_EQ(ours, theirs.xml_doc_in);
  EXPECT_NE(ours.find("<name>wu1_0_r12345_0</name>"), std::string::npos);
  EXPECT_NE(ours.find("<max_nbytes>67108864</max_nbytes>"), std::string::npos);
  EXPECT_NE(ours.find(std::string("<url>") + kUploadUrl + "</url>"), std::string::npos);
  EXPECT_NE(ours.find("<open_name>result.zip</open_name>"), std::string::npos);
}

}  // namespace
