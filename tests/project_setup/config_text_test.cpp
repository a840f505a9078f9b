// ConfigText: in-place edits of config.xml that keep every other byte.
#include "config_text.h"

#include <gtest/gtest.h>

#include "mw/error.h"
#include "support/test_support.h"

namespace {

using mw::setup::ConfigText;

const std::vector<std::pair<std::string, std::string>> kDaemon = {{"cmd", "mw-validator --app mw"},
                                                                  {"output", "v.log"}};

TEST(ConfigText, AddsDaemonsSectionBeforeBoincEndWhenAbsent) {
  auto t = ConfigText::parse("<boinc>\n  <config>\n    <db_name>x</db_name>\n  </config>\n</boinc>\n", "c.xml");
  t.add_daemon(kDaemon);
  EXPECT_EQ(t.text(),
            "<boinc>\n  <config>\n    <db_name>x</db_name>\n  </config>\n  <daemons>\n    <daemon>\n"
            "      <cmd>mw-validator --app mw</cmd>\n      <output>v.log</output>\n    </daemon>\n"
            "  </daemons>\n</boinc>\n");
  ASSERT_EQ(t.daemons().size(), 1u);
  EXPECT_EQ(t.daemons()[0].cmd, "mw-validator --app mw");
  EXPECT_EQ(t.daemons()[0].output, "v.log");
}

TEST(ConfigText, SelfClosingDaemonsAndCommentsAndEscapes) {
  auto t = ConfigText::parse(
      "<boinc><config><x>1</x></config><!-- <daemons><daemon><cmd>old</cmd></daemon></daemons> -->"
      "<daemons/></boinc>",
      "c.xml");
  EXPECT_TRUE(t.daemons().empty());  // the commented-out one does not count
  t.add_daemon({{"cmd", "a --x <y> & z"}});
  ASSERT_EQ(t.daemons().size(), 1u);
  EXPECT_EQ(t.daemons()[0].cmd, "a --x <y> & z");
  EXPECT_NE(t.text().find("<cmd>a --x &lt;y&gt; &amp; z</cmd>"), std::string::npos) << t.text();
  EXPECT_NE(t.text().find("<!-- <daemons><daemon><cmd>old</cmd></daemon></daemons> -->"), std::string::npos);
}

TEST(ConfigText, ReplaceAndRemoveRestoreTheOriginalBytes) {
  const std::string original =
      "<boinc>\n    <config>\n        <one_result_per_host_per_wu> 0 </one_result_per_host_per_wu>\n"
      "    </config>\n    <daemons>\n        <daemon><cmd>feeder</cmd></daemon>  <!-- keep -->\n"
      "    </daemons>\n</boinc>\n";
  auto t = ConfigText::parse(original, "c.xml");
  EXPECT_EQ(t.config_value("one_result_per_host_per_wu"), "0");
  EXPECT_FALSE(t.config_value("absent"));
  t.add_daemon(kDaemon);
  t.replace_daemon(1, {{"cmd", "mw-validator --app mw2"}});
  EXPECT_EQ(t.daemons()[1].cmd, "mw-validator --app mw2");
  t.remove_daemon(1);
  EXPECT_EQ(t.text(), original);
  t.set_config_value("one_result_per_host_per_wu", "1");
  EXPECT_EQ(t.config_value("one_result_per_host_per_wu"), "1");
  t.set_config_value("new_flag", "1");
  EXPECT_NE(t.text().find("        <new_flag>1</new_flag>\n    </config>"), std::string::npos) << t.text();
}

TEST(ConfigText, ProjectXmlAppEntries) {
  auto t = ConfigText::parse_project_xml(
      "<boinc>\n  <app>\n    <name>uppercase</name>\n  </app>\n</boinc>\n", "project.xml");
  EXPECT_TRUE(t.has_app("uppercase"));
  EXPECT_FALSE(t.has_app("mw"));
  t.add_app("mw", "mwkit tasks (mw)");
  EXPECT_TRUE(t.has_app("mw"));
  EXPECT_EQ(t.text(),
            "<boinc>\n  <app>\n    <name>uppercase</name>\n  </app>\n  <app>\n    <name>mw</name>\n"
            "    <user_friendly_name>mwkit tasks (mw)</user_friendly_name>\n  </app>\n</boinc>\n");
}

TEST(ConfigText, MalformedOrForeignDocumentsAreRefusedWithTheLine) {
  auto msg = mw::test::error_of([] { ConfigText::parse("<boinc>\n<config>\n</boinc>\n", "p/config.xml"); },
                                mw::Errc::format);
  EXPECT_NE(msg.find("p/config.xml: line "), std::string::npos) << msg;
  msg = mw::test::error_of([] { ConfigText::parse("<project><config/></project>", "p/config.xml"); },
                           mw::Errc::format);
  EXPECT_NE(msg.find("not a BOINC config.xml"), std::string::npos) << msg;
}

}  // namespace
