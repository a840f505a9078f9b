// Tests for task.xml / result.xml (docs/task-format.md): round trips, the
// canonical bytes, and one test per rule the reader and validate_* enforce,
// each checking the field path its message must name.
#include "mw/task_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mw/error.h"

namespace mw {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHashA(64, 'a');
const std::string kHashB = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kFFFD = "\xEF\xBF\xBD";

// ------------------------------------------------------------------ fixtures

TaskManifest full_task() {
  TaskManifest t;
  t.name = "pi_0001";
  t.program.bundled_file = "monte_pi";
  t.program.function = "monte_pi";
  t.args = {"--seed", "42", "", " spaced  ", "<&>\"'"};
  t.files = {{"monte_pi", FileRole::program, 1234, kHashA, true},
             {"input.bin", FileRole::input, 0, kHashB, false},
             {"table.dat", FileRole::data, 18446744073709551615u, kHashA, true}};
  t.outputs = {{"out.txt", 1048576, false}, {"log.txt", 1, true}};
  t.limits.wall_seconds = 60;
  t.limits.cpu_seconds = 0.25;
  t.limits.memory_bytes = 1u << 30;
  t.limits.disk_bytes = 5;
  t.estimates.cpu_seconds = 0;
  t.estimates.fpops = 1.5e15;
  t.estimates.memory_bytes = 0;
  t.estimates.disk_bytes = 42;
  return t;
}

TaskManifest minimal_task() {
  TaskManifest t;
  t.name = "t";
  t.program.host_path = "/bin/sh";
  return t;
}

ResultManifest full_result() {
  ResultManifest r;
  r.task_name = "pi_0001";
  r.task_sha256 = kHashB;
  r.status = ResultStatus::nonzero_exit;
  r.reason = "exited with code 3";
  r.exit_code = 3;
  r.signal = 9;  // consistency with status is deliberately not required
  r.cpu_seconds = 1.25;
  r.wall_seconds = 0.1;
  r.peak_memory_bytes = 123456789;
  r.stdout_bytes = 10;
  r.stderr_bytes = 99999;
  r.outputs = {{"mw.stdout", 10, kHashA}, {"mw.stderr", 4096, kHashB}, {"out.txt", 0, kHashA}};
  r.stderr_tail = "line 1\n\tline 2 <&> \"π\"\n";
  return r;
}

ResultManifest minimal_result() {
  ResultManifest r;
  r.task_name = "t";
  return r;
}

void expect_same(const TaskManifest& a, const TaskManifest& b) {
  EXPECT_EQ(a.format_version, b.format_version);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.program.bundled_file, b.program.bundled_file);
  EXPECT_EQ(a.program.host_path, b.program.host_path);
  EXPECT_EQ(a.program.function, b.program.function);
  EXPECT_EQ(a.args, b.args);
  EXPECT_EQ(a.env, b.env);
  ASSERT_EQ(a.files.size(), b.files.size());
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    EXPECT_EQ(a.files[i].name, b.files[i].name);
    EXPECT_EQ(a.files[i].role, b.files[i].role);
    EXPECT_EQ(a.files[i].size, b.files[i].size);
    EXPECT_EQ(a.files[i].sha256, b.files[i].sha256);
    EXPECT_EQ(a.files[i].executable, b.files[i].executable);
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (std::size_t i = 0; i < a.outputs.size(); ++i) {
    EXPECT_EQ(a.outputs[i].name, b.outputs[i].name);
    EXPECT_EQ(a.outputs[i].max_bytes, b.outputs[i].max_bytes);
    EXPECT_EQ(a.outputs[i].optional, b.outputs[i].optional);
  }
  EXPECT_EQ(a.limits.wall_seconds, b.limits.wall_seconds);
  EXPECT_EQ(a.limits.cpu_seconds, b.limits.cpu_seconds);
  EXPECT_EQ(a.limits.memory_bytes, b.limits.memory_bytes);
  EXPECT_EQ(a.limits.disk_bytes, b.limits.disk_bytes);
  EXPECT_EQ(a.estimates.cpu_seconds, b.estimates.cpu_seconds);
  EXPECT_EQ(a.estimates.fpops, b.estimates.fpops);
  EXPECT_EQ(a.estimates.memory_bytes, b.estimates.memory_bytes);
  EXPECT_EQ(a.estimates.disk_bytes, b.estimates.disk_bytes);
}

void expect_same(const ResultManifest& a, const ResultManifest& b) {
  EXPECT_EQ(a.format_version, b.format_version);
  EXPECT_EQ(a.task_name, b.task_name);
  EXPECT_EQ(a.task_sha256, b.task_sha256);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.signal, b.signal);
  EXPECT_EQ(a.cpu_seconds, b.cpu_seconds);
  EXPECT_EQ(a.wall_seconds, b.wall_seconds);
  EXPECT_EQ(a.peak_memory_bytes, b.peak_memory_bytes);
  EXPECT_EQ(a.stdout_bytes, b.stdout_bytes);
  EXPECT_EQ(a.stderr_bytes, b.stderr_bytes);
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (std::size_t i = 0; i < a.outputs.size(); ++i) {
    EXPECT_EQ(a.outputs[i].name, b.outputs[i].name);
    EXPECT_EQ(a.outputs[i].size, b.outputs[i].size);
    EXPECT_EQ(a.outputs[i].sha256, b.outputs[i].sha256);
  }
  EXPECT_EQ(a.stderr_tail, b.stderr_tail);
}

// Runs `fn`, expects Error(Errc::format) and returns its message ("" if none).
std::string format_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::format) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error was thrown";
  return "";
}

std::string task_error(const std::string& xml) {
  return format_error([&] { parse_task_xml(xml); });
}
std::string result_error(const std::string& xml) {
  return format_error([&] { parse_result_xml(xml); });
}
std::string validate_error(const TaskManifest& t) {
  return format_error([&] { validate_task(t); });
}
std::string validate_error(const ResultManifest& r) {
  return format_error([&] { validate_result(r); });
}

// Replaces the one occurrence of `from`; fails the test if there is not
// exactly one, so edits to canonical documents cannot silently miss.
std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' not in:\n" << text;
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "'" << from << "' occurs twice";
  return text.replace(at, from.size(), to);
}

std::string full_task_xml() { return task_to_xml(full_task()); }
std::string full_result_xml() { return result_to_xml(full_result()); }

// A hand-written small manifest, to test the reader on non-canonical input.
std::string small_task_xml(const std::string& inside) {
  return "<mw_task format_version=\"1\"><name>t</name>"
         "<program><host_path>/bin/sh</host_path></program>" +
         inside + "</mw_task>";
}

// ------------------------------------------------------------------ round trips

TEST(TaskFormatRoundTrip, TaskWithEveryOptionalField) {
  const TaskManifest t = full_task();
  expect_same(parse_task_xml(task_to_xml(t)), t);
}

TEST(TaskFormatRoundTrip, DeclaredEnvironmentSurvivesInOrder) {
  TaskManifest t = full_task();
  t.env = {{"OMP_NUM_THREADS", "1"}, {"EMPTY", ""}, {"_odd_9", "<&> π \n x"}};
  const std::string xml = task_to_xml(t);
  EXPECT_THAT(xml, HasSubstr("<env>"));
  expect_same(parse_task_xml(xml), t);
}

TEST(TaskFormatRejects, BadDuplicateOrReservedEnvironmentNames) {
  TaskManifest t = minimal_task();
  t.env = {{"9LIVES", "x"}};
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/env/var[1]/name"));
  t.env = {{"A-B", "x"}};
  EXPECT_THAT(validate_error(t), HasSubstr("[A-Za-z_][A-Za-z0-9_]*"));
  t.env = {{"X", "1"}, {"X", "2"}};
  EXPECT_THAT(validate_error(t), HasSubstr("declared twice"));
  for (const char* reserved : {"PWD", "HOME", "TMPDIR", "MW_TASK_NAME"}) {
    t.env = {{reserved, "/elsewhere"}};
    EXPECT_THAT(validate_error(t), HasSubstr("set by the runner")) << reserved;
  }
  EXPECT_THAT(task_error(small_task_xml("<env><var><name>X</name></var></env>")),
              HasSubstr("value"));
}

TEST(TaskFormatRoundTrip, TaskWithNoOptionalField) {
  const TaskManifest t = minimal_task();
  const std::string xml = task_to_xml(t);
  expect_same(parse_task_xml(xml), t);
  for (const char* absent : {"<args", "<env", "<files", "<outputs", "<limits", "<estimates", "<function"})
    EXPECT_THAT(xml, Not(HasSubstr(absent)));
}

TEST(TaskFormatRoundTrip, TrickyArgumentsSurviveExactly) {
  const std::vector<std::string> tricky = {
      "", " ", "   ", "\t", "\n", " \n\t ", "\r", "\r\n", "a\r\nb", "  leading", "trailing  ",
      "<&>\"'", "&amp;", "&#65;", "]]>", "x]]>y", "<!-- not a comment -->", "<![CDATA[x]]>",
      "<?pi?>", "π ≈ 3.14159 😀", "line1\nline2\n", "\xC2\x85 C1 control is valid XML",
      std::string(5000, 'x')};
  TaskManifest t = minimal_task();
  for (const std::string& arg : tricky) {
    t.args = {arg, "between", arg};
    const std::string xml = task_to_xml(t);
    EXPECT_EQ(parse_task_xml(xml).args, t.args) << xml;
  }
}

TEST(TaskFormatRoundTrip, RandomArgumentsSurviveExactly) {
  // Characters chosen to stress escaping and whitespace handling.
  const std::vector<std::string> alphabet = {" ", "\t", "\n", "\r", "<", ">", "&", "\"", "'",
                                             "]", "a", ";", "#", "é", "€", "😀", "\xC2\x9F"};
  std::mt19937 rng(12345);
  TaskManifest t = minimal_task();
  for (int round = 0; round < 300; ++round) {
    t.args.clear();
    const int count = static_cast<int>(rng() % 4);
    for (int i = 0; i < count; ++i) {
      std::string arg;
      const int length = static_cast<int>(rng() % 8);
      for (int k = 0; k < length; ++k) arg += alphabet[rng() % alphabet.size()];
      t.args.push_back(arg);
    }
    EXPECT_EQ(parse_task_xml(task_to_xml(t)).args, t.args);
  }
}

TEST(TaskFormatRoundTrip, EmptyArgumentIsWrittenAsAnEmptyElementAndReadBothWays) {
  TaskManifest t = minimal_task();
  t.args = {""};
  EXPECT_THAT(task_to_xml(t), HasSubstr("    <arg></arg>\n"));
  const std::string xml = small_task_xml("<args><arg/><arg></arg><arg>  </arg></args>");
  EXPECT_EQ(parse_task_xml(xml).args, (std::vector<std::string>{"", "", "  "}));
}

TEST(TaskFormatRoundTrip, DoublesRoundTripExactlyAndIntegralOnesPrintPlainly) {
  const std::vector<double> values = {60,       0.1,    1.0 / 3,  1e-300, 4.9e-324, 1e300,
                                      2.5e-7,   1e21,   123456.789, 1.7976931348623157e308,
                                      0.000001, 3600.5};
  for (double v : values) {
    TaskManifest t = minimal_task();
    t.limits.wall_seconds = v;
    t.estimates.fpops = v;
    const TaskManifest back = parse_task_xml(task_to_xml(t));
    EXPECT_EQ(back.limits.wall_seconds, v);
    EXPECT_EQ(back.estimates.fpops, v);
  }
  TaskManifest t = minimal_task();
  t.limits.wall_seconds = 60;
  EXPECT_THAT(task_to_xml(t), HasSubstr("<wall_seconds>60</wall_seconds>"));
}

TEST(TaskFormatRoundTrip, ResultWithEveryOptionalField) {
  const ResultManifest r = full_result();
  expect_same(parse_result_xml(result_to_xml(r)), r);
}

TEST(TaskFormatRoundTrip, ResultWithNoOptionalField) {
  const ResultManifest r = minimal_result();
  const std::string xml = result_to_xml(r);
  expect_same(parse_result_xml(xml), r);
  for (const char* absent : {"<task_sha256", "<reason", "<exit_code", "<signal", "<outputs",
                             "<stderr_tail"})
    EXPECT_THAT(xml, Not(HasSubstr(absent)));
}

TEST(TaskFormatRoundTrip, EveryResultStatusRoundTrips) {
  for (int i = 0; i <= static_cast<int>(ResultStatus::rejected); ++i) {
    ResultManifest r = minimal_result();
    r.status = static_cast<ResultStatus>(i);
    EXPECT_EQ(parse_result_status(to_string(r.status)), r.status);
    EXPECT_EQ(parse_result_xml(result_to_xml(r)).status, r.status);
  }
  EXPECT_FALSE(parse_result_status("Success"));
  EXPECT_FALSE(parse_result_status(""));
}

TEST(TaskFormatRoundTrip, ResultWriterSanitizesReasonAndStderrTail) {
  ResultManifest r = minimal_result();
  r.reason = "bad\x01" "byte\xFF";
  r.stderr_tail = std::string("nul\0here\r\n", 10);
  const ResultManifest back = parse_result_xml(result_to_xml(r));
  EXPECT_EQ(back.reason, "bad" + kFFFD + "byte" + kFFFD);
  EXPECT_EQ(back.stderr_tail, "nul" + kFFFD + "here" + kFFFD + "\n");
}

// ------------------------------------------------------------------ canonical bytes

TEST(TaskFormatCanonical, WriteParseWriteGivesIdenticalBytes) {
  for (const TaskManifest& t : {full_task(), minimal_task()}) {
    const std::string once = task_to_xml(t);
    EXPECT_EQ(task_to_xml(parse_task_xml(once)), once);
  }
  for (const ResultManifest& r : {full_result(), minimal_result()}) {
    const std::string once = result_to_xml(r);
    EXPECT_EQ(result_to_xml(parse_result_xml(once)), once);
  }
}

TEST(TaskFormatCanonical, NonCanonicalInputIsRewrittenCanonically) {
  const std::string messy =
      "\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8' standalone='yes'?>\r\n"
      "<!-- a comment --><?app hint?>\r\n"
      "<mw_task  format_version = '1' >\r\n"
      "<limits><wall_seconds>060.0</wall_seconds></limits>"
      "<program><host_path>/bin/sh</host_path></program><name>t</name>"
      "<args><arg><![CDATA[<&>]]>&#x41;&quot;</arg><arg>a<!-- split -->b</arg></args>"
      "<files/><outputs></outputs><estimates/>\r\n</mw_task>\r\n<!-- trailer -->\n";
  const TaskManifest t = parse_task_xml(messy);
  EXPECT_EQ(t.args, (std::vector<std::string>{"<&>A\"", "ab"}));
  EXPECT_EQ(t.limits.wall_seconds, 60);
  EXPECT_EQ(task_to_xml(t),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<mw_task format_version=\"1\">\n"
            "  <name>t</name>\n"
            "  <program>\n"
            "    <host_path>/bin/sh</host_path>\n"
            "  </program>\n"
            "  <args>\n"
            "    <arg>&lt;&amp;&gt;A\"</arg>\n"
            "    <arg>ab</arg>\n"
            "  </args>\n"
            "  <limits>\n"
            "    <wall_seconds>60</wall_seconds>\n"
            "  </limits>\n"
            "</mw_task>\n");
}

TEST(TaskFormatCanonical, GoldenTaskBytes) {
  TaskManifest t;
  t.name = "pi_0001";
  t.program.bundled_file = "monte_pi";
  t.program.function = "monte_pi";
  t.args = {"--seed", "42", "a <b> & \"c\"\r"};
  t.files = {{"monte_pi", FileRole::program, 123, kHashA, true}};
  t.outputs = {{"out.txt", 1048576, true}};
  t.limits.wall_seconds = 60;
  t.limits.memory_bytes = 268435456;
  t.estimates.fpops = 1e12;
  EXPECT_EQ(task_to_xml(t),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<mw_task format_version=\"1\">\n"
            "  <name>pi_0001</name>\n"
            "  <program>\n"
            "    <bundled_file>monte_pi</bundled_file>\n"
            "    <function>monte_pi</function>\n"
            "  </program>\n"
            "  <args>\n"
            "    <arg>--seed</arg>\n"
            "    <arg>42</arg>\n"
            "    <arg>a &lt;b&gt; &amp; \"c\"&#13;</arg>\n"
            "  </args>\n"
            "  <files>\n"
            "    <file>\n"
            "      <name>monte_pi</name>\n"
            "      <role>program</role>\n"
            "      <size>123</size>\n"
            "      <sha256>" + kHashA + "</sha256>\n"
            "      <executable/>\n"
            "    </file>\n"
            "  </files>\n"
            "  <outputs>\n"
            "    <output>\n"
            "      <name>out.txt</name>\n"
            "      <max_bytes>1048576</max_bytes>\n"
            "      <optional/>\n"
            "    </output>\n"
            "  </outputs>\n"
            "  <limits>\n"
            "    <wall_seconds>60</wall_seconds>\n"
            "    <memory_bytes>268435456</memory_bytes>\n"
            "  </limits>\n"
            "  <estimates>\n"
            "    <fpops>1000000000000</fpops>\n"
            "  </estimates>\n"
            "</mw_task>\n");
}

TEST(TaskFormatCanonical, GoldenResultBytes) {
  ResultManifest r;
  r.task_name = "pi_0001";
  r.status = ResultStatus::signaled;
  r.reason = "killed by signal 9";
  r.signal = 9;
  r.cpu_seconds = 0.5;
  r.wall_seconds = 2;
  r.peak_memory_bytes = 1024;
  r.stdout_bytes = 3;
  r.outputs = {{"mw.stdout", 3, kHashB}};
  r.stderr_tail = "oops\x01\n";
  EXPECT_EQ(result_to_xml(r),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<mw_result format_version=\"1\">\n"
            "  <task_name>pi_0001</task_name>\n"
            "  <status>signaled</status>\n"
            "  <reason>killed by signal 9</reason>\n"
            "  <signal>9</signal>\n"
            "  <cpu_seconds>0.5</cpu_seconds>\n"
            "  <wall_seconds>2</wall_seconds>\n"
            "  <peak_memory_bytes>1024</peak_memory_bytes>\n"
            "  <stdout_bytes>3</stdout_bytes>\n"
            "  <stderr_bytes>0</stderr_bytes>\n"
            "  <outputs>\n"
            "    <output>\n"
            "      <name>mw.stdout</name>\n"
            "      <size>3</size>\n"
            "      <sha256>" + kHashB + "</sha256>\n"
            "    </output>\n"
            "  </outputs>\n"
            "  <stderr_tail>oops" + kFFFD + "\n</stderr_tail>\n"
            "</mw_result>\n");
}

TEST(TaskFormatCanonical, NegativeZeroIsWrittenAsZero) {
  TaskManifest t = minimal_task();
  t.estimates.cpu_seconds = -0.0;
  EXPECT_THAT(task_to_xml(t), HasSubstr("<cpu_seconds>0</cpu_seconds>"));
}

// ------------------------------------------------------------------ XML level

struct XmlCase {
  const char* label;
  std::string xml;
  std::vector<std::string> expected;  // substrings of the message
};

class TaskFormatXmlErrors : public ::testing::TestWithParam<XmlCase> {};

TEST_P(TaskFormatXmlErrors, AreRejectedWithAClearMessage) {
  const std::string message = task_error(GetParam().xml);
  EXPECT_THAT(message, HasSubstr("task.xml: "));
  for (const std::string& s : GetParam().expected) EXPECT_THAT(message, HasSubstr(s));
}

std::string nested(const std::string& name, int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "<" + name + ">";
  for (int i = 0; i < depth; ++i) s += "</" + name + ">";
  return s;
}

const std::string kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, TaskFormatXmlErrors,
    ::testing::Values(
        XmlCase{"mismatched_tag", kDecl + "<mw_task format_version=\"1\">\n<name>t</nam>\n",
                {"line 3", "not well-formed", "</nam>", "<name>"}},
        XmlCase{"unclosed", kDecl + "<mw_task format_version=\"1\">\n  <name>t</name>\n",
                {"not well-formed", "<mw_task> (line 2) is not closed"}},
        XmlCase{"empty", "", {"no root element"}},
        XmlCase{"doctype",
                kDecl + "<!DOCTYPE mw_task [<!ENTITY x \"y\">]>\n<mw_task format_version=\"1\"/>",
                {"line 2", "DOCTYPE declarations are not allowed"}},
        XmlCase{"undefined_entity", small_task_xml("<args><arg>&x;</arg></args>"),
                {"undefined entity '&x;'"}},
        XmlCase{"bare_ampersand", small_task_xml("<args><arg>a & b</arg></args>"),
                {"'&' must start an entity"}},
        XmlCase{"nul_reference", small_task_xml("<args><arg>&#0;</arg></args>"),
                {"character reference '&#0;'"}},
        XmlCase{"surrogate_reference", small_task_xml("<args><arg>&#xD800;</arg></args>"),
                {"character reference '&#xD800;'"}},
        XmlCase{"huge_reference", small_task_xml("<args><arg>&#99999999999;</arg></args>"),
                {"character reference"}},
        XmlCase{"bad_reference", small_task_xml("<args><arg>&#x1g;</arg></args>"),
                {"malformed character reference"}},
        XmlCase{"invalid_utf8", kDecl + "<mw_task format_version=\"1\">\n<name>\xC3(</name>",
                {"line 3", "invalid UTF-8"}},
        XmlCase{"overlong_utf8", small_task_xml("<args><arg>\xC0\xAF</arg></args>"),
                {"invalid UTF-8"}},
        XmlCase{"control_character", small_task_xml("<args><arg>\x01</arg></args>"),
                {"U+0001 is not allowed"}},
        XmlCase{"cdata_end_in_text", small_task_xml("<args><arg>a]]>b</arg></args>"),
                {"']]>' is not allowed"}},
        XmlCase{"two_roots", small_task_xml("") + "<mw_task format_version=\"1\"/>",
                {"more than one root element"}},
        XmlCase{"text_after_root", small_task_xml("") + "junk", {"content after the root"}},
        XmlCase{"duplicate_attribute", "<mw_task format_version=\"1\" format_version=\"1\"/>",
                {"attribute 'format_version' appears twice"}},
        XmlCase{"unquoted_attribute", "<mw_task format_version=1/>", {"expected a quoted value"}},
        XmlCase{"double_dash_comment", small_task_xml("<!-- a -- b -->"),
                {"'--' is not allowed inside a comment"}},
        XmlCase{"late_declaration", "<!-- c -->" + kDecl + small_task_xml(""),
                {"XML declaration is only allowed at the very start"}},
        XmlCase{"xml_1_1", "<?xml version=\"1.1\"?>" + small_task_xml(""),
                {"XML version '1.1' is not supported"}},
        XmlCase{"latin1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + small_task_xml(""),
                {"encoding 'ISO-8859-1' is not supported"}},
        XmlCase{"too_deep", small_task_xml(nested("x", 20)), {"nested more than 16 deep"}}),
    [](const ::testing::TestParamInfo<XmlCase>& info) { return std::string(info.param.label); });

TEST(TaskFormatXml, OversizedDocumentIsRejectedBeforeParsing) {
  const std::string huge = small_task_xml("<!--" + std::string(9u << 20, 'x') + "-->");
  EXPECT_THAT(task_error(huge), HasSubstr("more than the limit of 8388608"));
}

TEST(TaskFormatXml, WriterRefusesWhatReadersWouldRejectAsTooLarge) {
  TaskManifest t = minimal_task();
  t.args.assign(200001, "a");
  EXPECT_THAT(format_error([&] { task_to_xml(t); }),
              HasSubstr("task.xml: the manifest would have 200006 elements"));
  t.args.assign(100, std::string(100000, 'a'));
  EXPECT_THAT(format_error([&] { task_to_xml(t); }), HasSubstr("readers accept at most"));
  t.args.assign(1000, std::string(1000, 'a'));
  EXPECT_EQ(parse_task_xml(task_to_xml(t)).args, t.args);
}

TEST(TaskFormatXml, ResultParserReportsXmlErrorsWithItsSourceName) {
  const std::string message =
      format_error([] { parse_result_xml("<mw_result>\n<x>", "host7/result.xml"); });
  EXPECT_THAT(message, AllOf(HasSubstr("host7/result.xml: line 2"), HasSubstr("not well-formed")));
}

TEST(TaskFormatXml, WrongRootElementIsRejected) {
  EXPECT_THAT(task_error("<mw_result format_version=\"1\"/>"),
              HasSubstr("/mw_result: expected the root element <mw_task>"));
  EXPECT_THAT(result_error(full_task_xml()),
              HasSubstr("/mw_task: expected the root element <mw_result>"));
}

TEST(TaskFormatXml, FormatVersionMissingMalformedOrUnsupported) {
  const std::string xml = full_task_xml();
  EXPECT_THAT(task_error(replace_once(xml, " format_version=\"1\"", "")),
              HasSubstr("/mw_task/@format_version: missing required attribute"));
  EXPECT_THAT(task_error(replace_once(xml, "format_version=\"1\"", "format_version=\"one\"")),
              HasSubstr("/mw_task/@format_version: expected an integer, got 'one'"));
  EXPECT_THAT(task_error(replace_once(xml, "format_version=\"1\"", "format_version=\" 1\"")),
              HasSubstr("expected an integer, got ' 1'"));
  // A newer document may contain elements this reader does not know; the
  // version must be what the message talks about.
  EXPECT_THAT(task_error(replace_once(replace_once(xml, "format_version=\"1\"",
                                                   "format_version=\"2\""),
                                      "<name>pi", "<future/><name>pi")),
              HasSubstr("/mw_task/@format_version: unsupported format version 2 (this reader "
                        "knows 1)"));
  EXPECT_THAT(result_error(replace_once(full_result_xml(), "format_version=\"1\"",
                                        "format_version=\"0\"")),
              HasSubstr("/mw_result/@format_version: unsupported format version 0"));
  TaskManifest t = minimal_task();
  t.format_version = 3;
  EXPECT_THAT(validate_error(t), HasSubstr("unsupported format version 3"));
}

// ------------------------------------------------------------------ structure

struct EditCase {
  const char* label;
  std::string from;
  std::string to;
  std::vector<std::string> expected;
};

class TaskFormatStructureErrors : public ::testing::TestWithParam<EditCase> {};

TEST_P(TaskFormatStructureErrors, NameTheFieldPath) {
  const EditCase& c = GetParam();
  const std::string message = task_error(replace_once(full_task_xml(), c.from, c.to));
  for (const std::string& s : c.expected) EXPECT_THAT(message, HasSubstr(s));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TaskFormatStructureErrors,
    ::testing::Values(
        EditCase{"unknown_top_element", "  <name>pi", "  <colour>red</colour>\n  <name>pi",
                 {"task.xml: /mw_task/colour: unknown element <colour> (line 3)"}},
        EditCase{"unknown_file_element", "<role>input</role>", "<role>input</role><mode>1</mode>",
                 {"/mw_task/files/file[2]/mode: unknown element"}},
        EditCase{"unknown_limit", "<disk_bytes>5</disk_bytes>", "<gpu_count>1</gpu_count>",
                 {"/mw_task/limits/gpu_count: unknown element"}},
        EditCase{"element_inside_text", "<name>pi_0001</name>", "<name>pi<b/></name>",
                 {"/mw_task/name/b: unknown element"}},
        EditCase{"element_in_args", "<arg>42</arg>", "<arg>42</arg><flag/>",
                 {"/mw_task/args/flag: unknown element"}},
        EditCase{"unknown_root_attribute", "format_version=\"1\"",
                 "format_version=\"1\" xmlns=\"urn:x\"", {"/mw_task/@xmlns: unknown attribute"}},
        EditCase{"unknown_child_attribute", "<size>0</size>", "<size unit=\"B\">0</size>",
                 {"/mw_task/files/file[2]/size/@unit: unknown attribute"}},
        EditCase{"text_in_root", "  <name>pi", "  oops <name>pi",
                 {"/mw_task: unexpected text 'oops' (only elements belong here) (line 2)"}},
        EditCase{"text_in_files", "<files>", "<files>x",
                 {"/mw_task/files: unexpected text"}},
        EditCase{"text_in_flag", "<optional/>", "<optional>false</optional>",
                 {"/mw_task/outputs/output[2]/optional: unexpected text 'false'"}},
        EditCase{"duplicate_name", "<name>pi_0001</name>", "<name>a</name><name>b</name>",
                 {"/mw_task/name: element <name> appears more than once (first at line 3)"}},
        EditCase{"duplicate_limits", "<limits>", "<limits/><limits>",
                 {"/mw_task/limits: element <limits> appears more than once"}},
        EditCase{"duplicate_file_size", "<size>0</size>", "<size>0</size><size>0</size>",
                 {"/mw_task/files/file[2]/size: element <size> appears more than once"}},
        EditCase{"duplicate_program", "  <args>",
                 "  <program><host_path>/x</host_path></program><args>",
                 {"/mw_task/program: element <program> appears more than once"}},
        EditCase{"missing_name", "<name>pi_0001</name>", "",
                 {"/mw_task/name: missing required element <name> in <mw_task> (line 2)"}},
        EditCase{"missing_role", "<role>input</role>", "",
                 {"/mw_task/files/file[2]/role: missing required element"}},
        EditCase{"missing_size", "<size>0</size>", "",
                 {"/mw_task/files/file[2]/size: missing required element"}},
        EditCase{"missing_sha256", "<sha256>" + kHashB + "</sha256>", "",
                 {"/mw_task/files/file[2]/sha256: missing required element"}},
        EditCase{"missing_file_name", "<name>input.bin</name>", "",
                 {"/mw_task/files/file[2]/name: missing required element"}},
        EditCase{"missing_max_bytes", "<max_bytes>1</max_bytes>", "",
                 {"/mw_task/outputs/output[2]/max_bytes: missing required element"}}),
    [](const ::testing::TestParamInfo<EditCase>& info) { return std::string(info.param.label); });

TEST(TaskFormatStructure, MissingProgramIsNamed) {
  const std::string xml = "<mw_task format_version=\"1\"><name>t</name></mw_task>";
  EXPECT_THAT(task_error(xml), HasSubstr("/mw_task/program: missing required element <program>"));
}

TEST(TaskFormatStructure, ResultRequiresItsFields) {
  for (const char* field : {"task_name", "status", "cpu_seconds", "wall_seconds",
                            "peak_memory_bytes", "stdout_bytes", "stderr_bytes"}) {
    const std::string xml = full_result_xml();
    const std::size_t start = xml.find(std::string("  <") + field + ">");
    const std::size_t end = xml.find('\n', start);
    ASSERT_NE(start, std::string::npos) << field;
    const std::string without = xml.substr(0, start) + xml.substr(end + 1);
    EXPECT_THAT(result_error(without),
                HasSubstr(std::string("/mw_result/") + field + ": missing required element"));
  }
}

TEST(TaskFormatStructure, ResultRejectsUnknownAndDuplicateElements) {
  const std::string xml = full_result_xml();
  EXPECT_THAT(result_error(replace_once(xml, "<status>", "<credit>1</credit><status>")),
              HasSubstr("/mw_result/credit: unknown element"));
  EXPECT_THAT(result_error(replace_once(xml, "<status>", "<status>success</status><status>")),
              HasSubstr("/mw_result/status: element <status> appears more than once"));
  EXPECT_THAT(result_error(replace_once(xml, "<size>4096</size>", "")),
              HasSubstr("/mw_result/outputs/output[2]/size: missing required element"));
}

TEST(TaskFormatStructure, ContainersMayBeEmptyOrAbsentAndChildrenInAnyOrder) {
  const TaskManifest t = parse_task_xml(
      "<mw_task format_version=\"1\">"
      "<estimates></estimates><limits/><outputs/><files>\n</files><args/>"
      "<program><function>f</function><host_path>/w</host_path></program><name>n</name>"
      "</mw_task>");
  EXPECT_EQ(t.name, "n");
  EXPECT_EQ(t.program.host_path, "/w");
  EXPECT_EQ(t.program.function, "f");
  EXPECT_TRUE(t.args.empty() && t.files.empty() && t.outputs.empty());
  EXPECT_FALSE(t.limits.wall_seconds || t.estimates.fpops);
}

TEST(TaskFormatStructure, FieldErrorsCarryTheLineNumber) {
  const std::string xml = replace_once(full_task_xml(), "<size>0</size>", "<size>12x</size>");
  EXPECT_THAT(task_error(xml),
              HasSubstr("task.xml: /mw_task/files/file[2]/size: expected a non-negative "
                        "integer, got '12x' (line 26)"));
}

// ------------------------------------------------------------------ values

class TaskFormatValueErrors : public ::testing::TestWithParam<EditCase> {};

TEST_P(TaskFormatValueErrors, NameTheFieldPath) {
  const EditCase& c = GetParam();
  const std::string message = task_error(replace_once(full_task_xml(), c.from, c.to));
  for (const std::string& s : c.expected) EXPECT_THAT(message, HasSubstr(s));
}

std::string size_edit(const char* value) { return std::string("<size>") + value + "</size>"; }
std::string wall_edit(const char* value) {
  return std::string("<wall_seconds>") + value + "</wall_seconds>";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TaskFormatValueErrors,
    ::testing::Values(
        EditCase{"size_suffix", "<size>0</size>", size_edit("12x"),
                 {"/mw_task/files/file[2]/size: expected a non-negative integer, got '12x'"}},
        EditCase{"size_negative", "<size>0</size>", size_edit("-1"), {"got '-1'"}},
        EditCase{"size_plus", "<size>0</size>", size_edit("+1"), {"got '+1'"}},
        EditCase{"size_space", "<size>0</size>", size_edit(" 1"), {"got ' 1'"}},
        EditCase{"size_empty", "<size>0</size>", size_edit(""), {"got ''"}},
        EditCase{"size_overflow", "<size>0</size>", size_edit("18446744073709551616"),
                 {"/mw_task/files/file[2]/size: expected a non-negative integer below 2^64"}},
        EditCase{"wall_word", "<wall_seconds>60</wall_seconds>", wall_edit("soon"),
                 {"/mw_task/limits/wall_seconds: expected a finite decimal number, got 'soon'"}},
        EditCase{"wall_inf", "<wall_seconds>60</wall_seconds>", wall_edit("inf"),
                 {"/mw_task/limits/wall_seconds: expected a finite decimal number"}},
        EditCase{"wall_nan", "<wall_seconds>60</wall_seconds>", wall_edit("nan"), {"got 'nan'"}},
        EditCase{"wall_hex", "<wall_seconds>60</wall_seconds>", wall_edit("0x10"), {"'0x10'"}},
        EditCase{"wall_overflow", "<wall_seconds>60</wall_seconds>", wall_edit("1e999"),
                 {"'1e999'"}},
        EditCase{"wall_underflow", "<wall_seconds>60</wall_seconds>", wall_edit("1e-400"),
                 {"/mw_task/limits/wall_seconds: expected a finite decimal number, got '1e-400'"}},
        EditCase{"wall_space", "<wall_seconds>60</wall_seconds>", wall_edit("60 "), {"'60 '"}},
        EditCase{"wall_leading_dot", "<wall_seconds>60</wall_seconds>", wall_edit(".5"),
                 {"'.5'"}},
        EditCase{"wall_trailing_dot", "<wall_seconds>60</wall_seconds>", wall_edit("5."),
                 {"'5.'"}},
        EditCase{"wall_zero", "<wall_seconds>60</wall_seconds>", wall_edit("0"),
                 {"/mw_task/limits/wall_seconds: must be a finite number greater than 0, got 0"}},
        EditCase{"wall_negative", "<wall_seconds>60</wall_seconds>", wall_edit("-1.5"),
                 {"/mw_task/limits/wall_seconds: must be a finite number greater than 0"}},
        EditCase{"cpu_limit_zero", "<cpu_seconds>0.25</cpu_seconds>",
                 "<cpu_seconds>0</cpu_seconds>", {"/mw_task/limits/cpu_seconds: must be"}},
        EditCase{"memory_limit_zero", "<memory_bytes>1073741824</memory_bytes>",
                 "<memory_bytes>0</memory_bytes>",
                 {"/mw_task/limits/memory_bytes: must be greater than 0, got 0"}},
        EditCase{"disk_limit_zero", "<disk_bytes>5</disk_bytes>", "<disk_bytes>0</disk_bytes>",
                 {"/mw_task/limits/disk_bytes: must be greater than 0"}},
        EditCase{"estimate_negative", "<cpu_seconds>0</cpu_seconds>",
                 "<cpu_seconds>-1</cpu_seconds>",
                 {"/mw_task/estimates/cpu_seconds: must be a finite number not below 0"}},
        EditCase{"fpops_negative", "<fpops>1500000000000000</fpops>", "<fpops>-1e3</fpops>",
                 {"/mw_task/estimates/fpops: must be a finite number not below 0"}},
        EditCase{"estimate_memory_word", "<memory_bytes>0</memory_bytes>",
                 "<memory_bytes>lots</memory_bytes>",
                 {"/mw_task/estimates/memory_bytes: expected a non-negative integer"}},
        EditCase{"role_unknown", "<role>input</role>", "<role>exe</role>",
                 {"/mw_task/files/file[2]/role: expected program, input or data, got 'exe'"}},
        EditCase{"role_case", "<role>input</role>", "<role>Input</role>", {"got 'Input'"}},
        EditCase{"sha_uppercase", "<sha256>" + kHashB + "</sha256>",
                 "<sha256>" + std::string(64, 'A') + "</sha256>",
                 {"/mw_task/files/file[2]/sha256: expected 64 lowercase hexadecimal digits"}},
        EditCase{"sha_short", "<sha256>" + kHashB + "</sha256>",
                 "<sha256>" + kHashB.substr(1) + "</sha256>", {"file[2]/sha256: expected 64"}},
        EditCase{"max_bytes_zero", "<max_bytes>1</max_bytes>", "<max_bytes>0</max_bytes>",
                 {"/mw_task/outputs/output[2]/max_bytes: must be greater than 0, got 0"}}),
    [](const ::testing::TestParamInfo<EditCase>& info) { return std::string(info.param.label); });

TEST(TaskFormatValues, LeadingZerosAndExponentsAreAccepted) {
  const TaskManifest t = parse_task_xml(small_task_xml(
      "<limits><wall_seconds>1.5E+2</wall_seconds><memory_bytes>007</memory_bytes></limits>"
      "<estimates><fpops>0</fpops><disk_bytes>0</disk_bytes></estimates>"));
  EXPECT_EQ(t.limits.wall_seconds, 150);
  EXPECT_EQ(t.limits.memory_bytes, 7u);
  EXPECT_EQ(t.estimates.fpops, 0);
  EXPECT_EQ(t.estimates.disk_bytes, 0u);
}

TEST(TaskFormatValues, ResultNumbersAreChecked) {
  const std::string xml = full_result_xml();
  const auto edit = [&](const std::string& from, const std::string& to) {
    return result_error(replace_once(xml, from, to));
  };
  EXPECT_THAT(edit("<exit_code>3</exit_code>", "<exit_code>256</exit_code>"),
              HasSubstr("/mw_result/exit_code: expected an integer from 0 to 255, got '256'"));
  EXPECT_THAT(edit("<exit_code>3</exit_code>", "<exit_code>-1</exit_code>"),
              HasSubstr("/mw_result/exit_code: expected an integer from 0 to 255, got '-1'"));
  EXPECT_THAT(edit("<signal>9</signal>", "<signal>0</signal>"),
              HasSubstr("/mw_result/signal: expected an integer from 1 to 127, got '0'"));
  EXPECT_THAT(edit("<signal>9</signal>", "<signal>128</signal>"),
              HasSubstr("/mw_result/signal: expected an integer from 1 to 127"));
  EXPECT_THAT(edit("<cpu_seconds>1.25</cpu_seconds>", "<cpu_seconds>-1</cpu_seconds>"),
              HasSubstr("/mw_result/cpu_seconds: must be a finite number not below 0"));
  EXPECT_THAT(edit("<wall_seconds>0.1</wall_seconds>", "<wall_seconds>x</wall_seconds>"),
              HasSubstr("/mw_result/wall_seconds: expected a finite decimal number"));
  EXPECT_THAT(edit("<stderr_bytes>99999</stderr_bytes>", "<stderr_bytes>1.5</stderr_bytes>"),
              HasSubstr("/mw_result/stderr_bytes: expected a non-negative integer"));
  EXPECT_THAT(edit("<status>nonzero_exit</status>", "<status>ok</status>"),
              HasSubstr("/mw_result/status: unknown status 'ok'"));
  EXPECT_THAT(edit("<task_sha256>" + kHashB + "</task_sha256>", "<task_sha256>xyz</task_sha256>"),
              HasSubstr("/mw_result/task_sha256: expected 64 lowercase hexadecimal digits"));
  EXPECT_THAT(edit("<sha256>" + kHashB + "</sha256>", "<sha256>" + kHashB + "0</sha256>"),
              HasSubstr("/mw_result/outputs/output[2]/sha256: expected 64"));
}

// ------------------------------------------------------------------ names

TEST(TaskFormatNames, MemberNameRule) {
  for (const std::string& ok :
       {std::string("a"), std::string("a.b"), std::string("A_b-9"), std::string("_x"),
        std::string(128, 'x'), std::string("task.xml.bak"), std::string("mw"),
        std::string("mwx.y"), std::string("x.."), std::string("mw_out")})
    EXPECT_TRUE(is_valid_member_name(ok)) << ok;
  for (const std::string& bad :
       {std::string(""), std::string(".hidden"), std::string("-x"), std::string("a/b"),
        std::string("a b"), std::string(".."), std::string(129, 'x'), std::string("task.xml"),
        std::string("task.sig"), std::string("result.xml"), std::string("mw.stdout"),
        std::string("mw.stderr"), std::string("mw.anything"), std::string("MW.stdout"),
        std::string("Task.XML"), std::string("RESULT.xml"), std::string("caf\xC3\xA9"),
        std::string("a\0b", 3), std::string("a\\b"), std::string("a:b")})
    EXPECT_FALSE(is_valid_member_name(bad)) << bad;
}

TEST(TaskFormatNames, InvalidNamesAreReportedWithTheReason) {
  const std::string xml = full_task_xml();
  EXPECT_THAT(task_error(replace_once(xml, "<name>pi_0001</name>", "<name>a/b</name>")),
              HasSubstr("/mw_task/name: invalid name 'a/b': character '/' at position 2"));
  EXPECT_THAT(task_error(replace_once(xml, "<name>pi_0001</name>", "<name>mw.task</name>")),
              HasSubstr("/mw_task/name: invalid name 'mw.task': the prefix 'mw.' is reserved"));
  EXPECT_THAT(task_error(replace_once(xml, "<name>pi_0001</name>", "<name></name>")),
              HasSubstr("/mw_task/name: a name must not be empty"));
  EXPECT_THAT(task_error(replace_once(xml, "<name>input.bin</name>", "<name>.input</name>")),
              HasSubstr("/mw_task/files/file[2]/name: invalid name '.input': must not start"));
  EXPECT_THAT(task_error(replace_once(xml, "<name>input.bin</name>", "<name>task.sig</name>")),
              HasSubstr("/mw_task/files/file[2]/name: invalid name 'task.sig': reserved"));
  EXPECT_THAT(task_error(replace_once(xml, "<name>out.txt</name>", "<name>mw.stdout</name>")),
              HasSubstr("/mw_task/outputs/output[1]/name: invalid name 'mw.stdout'"));
  EXPECT_THAT(
      task_error(replace_once(xml, "<name>input.bin</name>", "<name>" + std::string(129, 'n') +
                                                                 "</name>")),
      HasSubstr("/mw_task/files/file[2]/name: name is 129 characters long, more than 128"));
}

TEST(TaskFormatNames, DuplicateFileNamesIgnoringCase) {
  const std::string xml = full_task_xml();
  EXPECT_THAT(task_error(replace_once(xml, "<name>table.dat</name>", "<name>input.bin</name>")),
              HasSubstr("/mw_task/files/file[3]/name: duplicate file name 'input.bin' (also "
                        "/mw_task/files/file[2]"));
  EXPECT_THAT(task_error(replace_once(xml, "<name>table.dat</name>", "<name>INPUT.bin</name>")),
              HasSubstr("/mw_task/files/file[3]/name: duplicate file name 'INPUT.bin'"));
}

TEST(TaskFormatNames, DuplicateOutputNames) {
  const std::string xml = full_task_xml();
  EXPECT_THAT(task_error(replace_once(xml, "<name>log.txt</name>", "<name>out.txt</name>")),
              HasSubstr("/mw_task/outputs/output[2]/name: output name 'out.txt' is already used "
                        "by /mw_task/outputs/output[1]"));
}

TEST(TaskFormatNames, OutputMayNotShareAFileName) {
  const std::string xml = full_task_xml();
  EXPECT_THAT(task_error(replace_once(xml, "<name>log.txt</name>", "<name>Input.Bin</name>")),
              HasSubstr("/mw_task/outputs/output[2]/name: output name 'Input.Bin' is already used "
                        "by /mw_task/files/file[2]"));
}

TEST(TaskFormatNames, ResultOutputNames) {
  ResultManifest r = full_result();
  EXPECT_NO_THROW(validate_result(r));  // mw.stdout and mw.stderr are allowed here
  r.outputs[2].name = "mw.other";
  EXPECT_THAT(validate_error(r), HasSubstr("/mw_result/outputs/output[3]/name: invalid name"));
  r.outputs[2].name = "MW.STDOUT";
  EXPECT_THAT(validate_error(r), HasSubstr("/mw_result/outputs/output[3]/name: invalid name "
                                           "'MW.STDOUT': the prefix 'mw.' is reserved"));
  r.outputs.push_back({"OUT.txt", 1, kHashA});
  r.outputs[2].name = "out.txt";
  EXPECT_THAT(validate_error(r),
              HasSubstr("/mw_result/outputs/output[4]/name: duplicate output name 'OUT.txt' "
                        "(also /mw_result/outputs/output[3]"));
  r = full_result();
  r.task_name = "bad name";
  EXPECT_THAT(validate_error(r), HasSubstr("result.xml: /mw_result/task_name: invalid name"));
}

// ------------------------------------------------------------------ program

TEST(TaskFormatProgram, ExactlyOneOfBundledFileAndHostPath) {
  const std::string xml = full_task_xml();
  EXPECT_THAT(task_error(replace_once(xml, "<function>",
                                      "<host_path>/bin/sh</host_path><function>")),
              HasSubstr("/mw_task/program: exactly one of <bundled_file> and <host_path>"));
  EXPECT_THAT(task_error(replace_once(xml, "<bundled_file>monte_pi</bundled_file>", "")),
              HasSubstr("/mw_task/program: exactly one of <bundled_file> and <host_path>"));
  TaskManifest t = minimal_task();
  t.program.host_path.clear();
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/program: exactly one of"));
  t.program.host_path = "/bin/sh";
  t.program.bundled_file = "sh";
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/program: exactly one of"));
}

TEST(TaskFormatProgram, BundledFileMustBeAProgramFileOfTheTask) {
  const std::string xml = full_task_xml();
  EXPECT_THAT(task_error(replace_once(xml, "<bundled_file>monte_pi</bundled_file>",
                                      "<bundled_file>other</bundled_file>")),
              HasSubstr("/mw_task/program/bundled_file: no file named 'other' in /mw_task/files"));
  EXPECT_THAT(task_error(replace_once(xml, "<bundled_file>monte_pi</bundled_file>",
                                      "<bundled_file>input.bin</bundled_file>")),
              HasSubstr("/mw_task/program/bundled_file: file 'input.bin' has role input, but a "
                        "bundled program needs role program"));
  EXPECT_THAT(task_error(replace_once(xml, "<bundled_file>monte_pi</bundled_file>",
                                      "<bundled_file>../x</bundled_file>")),
              HasSubstr("/mw_task/program/bundled_file: invalid name '../x'"));
  EXPECT_THAT(task_error(replace_once(xml, "<bundled_file>monte_pi</bundled_file>",
                                      "<bundled_file/>")),
              HasSubstr("/mw_task/program/bundled_file: must not be empty"));
}

TEST(TaskFormatProgram, HostPathMustBeAbsoluteAndSane) {
  TaskManifest t = minimal_task();
  t.program.host_path = "bin/sh";
  EXPECT_THAT(validate_error(t),
              HasSubstr("/mw_task/program/host_path: must be an absolute path, got 'bin/sh'"));
  t.program.host_path = "/" + std::string(4096, 'x');
  EXPECT_THAT(validate_error(t),
              HasSubstr("/mw_task/program/host_path: is 4097 bytes long, more than 4096"));
  t.program.host_path = std::string("/bin/sh\0x", 9);
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/program/host_path: contains a NUL byte"));
  t.program.host_path = "/bin/\xFFsh";
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/program/host_path: cannot be stored"));
  t.program.host_path = "/" + std::string(4095, 'x');
  EXPECT_NO_THROW(validate_task(t));
  EXPECT_THAT(task_error(small_task_xml("").replace(
                  small_task_xml("").find("/bin/sh"), 7, "")),
              HasSubstr("/mw_task/program/host_path: must not be empty"));
}

TEST(TaskFormatProgram, FunctionNameRule) {
  TaskManifest t = minimal_task();
  for (const std::string& ok : {std::string("f"), std::string("_f"), std::string("ns::f.v-2"),
                                std::string("F") + std::string(127, 'x')}) {
    t.program.function = ok;
    EXPECT_NO_THROW(validate_task(t)) << ok;
  }
  for (const std::string& bad : {std::string("1f"), std::string(".f"), std::string("f g"),
                                 std::string("f/g"), std::string("F") + std::string(128, 'x')}) {
    t.program.function = bad;
    EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/program/function: invalid function name"))
        << bad;
  }
  EXPECT_THAT(task_error(small_task_xml("").replace(
                  small_task_xml("").find("</program>"), 0, "<function></function>")),
              HasSubstr("/mw_task/program/function: must not be empty"));
}

// ------------------------------------------------------------------ validate_* on structs

TEST(TaskFormatValidate, WriterValidatesFirst) {
  TaskManifest t = full_task();
  t.limits.wall_seconds = 0;
  EXPECT_THAT(format_error([&] { task_to_xml(t); }),
              HasSubstr("task.xml: /mw_task/limits/wall_seconds: must be a finite number "
                        "greater than 0"));
  ResultManifest r = full_result();
  r.cpu_seconds = std::nan("");
  EXPECT_THAT(format_error([&] { result_to_xml(r); }),
              HasSubstr("result.xml: /mw_result/cpu_seconds: must be a finite number"));
}

TEST(TaskFormatValidate, SourceNameStartsTheMessage) {
  TaskManifest t = minimal_task();
  t.name = "";
  EXPECT_THAT(format_error([&] { validate_task(t, "batch7/task 12"); }),
              HasSubstr("batch7/task 12: /mw_task/name:"));
}

TEST(TaskFormatValidate, ArgumentsMustBeStorableAsXmlText) {
  TaskManifest t = minimal_task();
  t.args = {"ok", std::string("nul\0", 4)};
  EXPECT_THAT(validate_error(t),
              HasSubstr("/mw_task/args/arg[2]: cannot be stored: character U+0000 at byte 3"));
  t.args = {"ok", "fine", "bad\xC3"};
  EXPECT_THAT(validate_error(t),
              HasSubstr("/mw_task/args/arg[3]: cannot be stored: invalid UTF-8 at byte 3"));
  t.args = {"\xEF\xBF\xBE"};  // U+FFFE is not an XML character
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/args/arg[1]: cannot be stored"));
}

TEST(TaskFormatValidate, LimitsAndEstimatesOnStructs) {
  TaskManifest t = minimal_task();
  t.limits.cpu_seconds = std::numeric_limits<double>::infinity();
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/limits/cpu_seconds: must be a finite"));
  t = minimal_task();
  t.limits.disk_bytes = 0;
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/limits/disk_bytes: must be greater than 0"));
  t = minimal_task();
  t.estimates.fpops = -1;
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/estimates/fpops: must be a finite number"));
  t = minimal_task();
  t.outputs = {{"o", 0, false}};
  EXPECT_THAT(validate_error(t), HasSubstr("/mw_task/outputs/output[1]/max_bytes: must be"));
}

TEST(TaskFormatValidate, ResultRangesOnStructs) {
  ResultManifest r = minimal_result();
  r.signal = 0;
  EXPECT_THAT(validate_error(r), HasSubstr("/mw_result/signal: expected an integer from 1 to 127"));
  r = minimal_result();
  r.exit_code = -1;
  EXPECT_THAT(validate_error(r), HasSubstr("/mw_result/exit_code: expected an integer from 0"));
  r = minimal_result();
  r.status = static_cast<ResultStatus>(99);
  EXPECT_THAT(validate_error(r), HasSubstr("/mw_result/status: invalid status value 99"));
  r = minimal_result();
  r.task_sha256 = std::string(64, 'G');
  EXPECT_THAT(validate_error(r), HasSubstr("/mw_result/task_sha256: expected 64 lowercase"));
  r = minimal_result();
  r.status = ResultStatus::success;
  r.signal = 9;  // inconsistent with success, and that is allowed
  EXPECT_NO_THROW(validate_result(r));
}

TEST(TaskFormatValidate, FindFileAndFindOutput) {
  const TaskManifest t = full_task();
  ASSERT_NE(t.find_file("input.bin"), nullptr);
  EXPECT_EQ(t.find_file("input.bin")->role, FileRole::input);
  EXPECT_EQ(t.find_file("INPUT.bin"), nullptr);
  const ResultManifest r = full_result();
  ASSERT_NE(r.find_output("mw.stderr"), nullptr);
  EXPECT_EQ(r.find_output("mw.stderr")->size, 4096u);
  EXPECT_EQ(r.find_output("nope"), nullptr);
  EXPECT_STREQ(to_string(FileRole::data), "data");
}

// ------------------------------------------------------------------ to_xml_safe_text

struct SafeCase {
  const char* label;
  std::string in;
  std::string out;
};

class TaskFormatSafeText : public ::testing::TestWithParam<SafeCase> {};

TEST_P(TaskFormatSafeText, ReplacesWhatXmlCannotHold) {
  const std::string out = to_xml_safe_text(GetParam().in);
  EXPECT_EQ(out, GetParam().out);
  EXPECT_EQ(to_xml_safe_text(out), out);  // idempotent
  // Whatever comes out must be storable: a task argument uses the strict check.
  TaskManifest t = minimal_task();
  t.args = {out};
  EXPECT_EQ(parse_task_xml(task_to_xml(t)).args[0], out);
}

const std::string R = "\xEF\xBF\xBD";

INSTANTIATE_TEST_SUITE_P(
    Cases, TaskFormatSafeText,
    ::testing::Values(
        SafeCase{"ascii", "plain <text> & more", "plain <text> & more"},
        SafeCase{"tab_and_newline_kept", "a\tb\nc", "a\tb\nc"},
        SafeCase{"carriage_return", "a\r\nb", "a" + R + "\nb"},
        SafeCase{"nul", std::string("a\0b", 3), "a" + R + "b"},
        SafeCase{"c0_controls", "\x01\x1f\x1b[31m", R + R + R + "[31m"},
        SafeCase{"delete", "\x7f", R},
        SafeCase{"c1_control", "\xC2\x85", R},
        SafeCase{"valid_multibyte", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80",
                 "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"},
        SafeCase{"overlong_two_byte", "\xC0\xAF", R + R},
        SafeCase{"overlong_three_byte", "\xE0\x80\xAF", R + R + R},
        SafeCase{"surrogate", "\xED\xA0\x80", R + R + R},
        SafeCase{"above_10ffff", "\xF4\x90\x80\x80", R + R + R + R},
        SafeCase{"f5_lead", "\xF5\x80", R + R},
        SafeCase{"truncated_sequence", "x\xE2\x82", "x" + R},
        SafeCase{"truncated_then_ascii", "\xE2\x82x", R + "x"},
        SafeCase{"lone_continuation", "\x80", R},
        SafeCase{"fffe_ffff", "\xEF\xBF\xBE\xEF\xBF\xBF", R + R},
        SafeCase{"max_code_point", "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},
        SafeCase{"replacement_char_kept", R, R},
        SafeCase{"empty", "", ""}),
    [](const ::testing::TestParamInfo<SafeCase>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace mw
