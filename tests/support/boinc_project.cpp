#include "support/boinc_project.h"

#include <sys/stat.h>
#include <unistd.h>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::test {
namespace {

void make_dir(const std::string& path, mode_t mode = 0755) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    throw Error(Errc::io, "cannot create test directory '" + path + "'");
}

}  // namespace

std::string test_output_template(std::uint64_t max_nbytes) {
  return "<output_template>\n"
         "  <file_info>\n"
         "    <name><OUTFILE_0/></name>\n"
         "    <generated_locally/>\n"
         "    <upload_when_present/>\n"
         "    <max_nbytes>" + std::to_string(max_nbytes) + "</max_nbytes>\n"
         "    <url><UPLOAD_URL/></url>\n"
         "  </file_info>\n"
         "  <result>\n"
         "    <file_ref>\n"
         "      <file_name><OUTFILE_0/></file_name>\n"
         "      <open_name>result.zip</open_name>\n"
         "    </file_ref>\n"
         "  </result>\n"
         "</output_template>\n";
}

std::string test_input_template() {
  return "<input_template>\n"
         "  <file_info>\n"
         "  </file_info>\n"
         "  <workunit>\n"
         "    <file_ref>\n"
         "      <open_name>task.zip</open_name>\n"
         "    </file_ref>\n"
         "  </workunit>\n"
         "</input_template>\n";
}

BoincTestProject::BoincTestProject(const std::string& db_name, BoincTestProjectOptions options)
    : db_name_(db_name) {
  dir_ = mw::detail::make_temp_dir(mw::detail::default_temp_root(), "mw-project-");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string short_host = host;
  short_host = short_host.substr(0, short_host.find('.'));
  for (const char* sub : {"download", "upload", "templates", "keys", "cgi-bin", "bin", "html", "apps"})
    make_dir(dir_ + "/" + sub);
  for (const char* sub : {"log_", "pid_", "tmp_"}) make_dir(dir_ + "/" + sub + short_host);
  const std::string download = options.download_dir.empty() ? dir_ + "/download" : options.download_dir;

  PrivateMariaDb& db = PrivateMariaDb::shared();
  db.create_database(db_name_);
  db.load_schema(db_name_, MW_BOINC_SCHEMA);
  mw::detail::write_file_atomic(dir_ + "/config.xml",
             "<boinc>\n<config>\n"
             "  <long_name>mwkit test project</long_name>\n"
             "  <host>" + short_host + "</host>\n"
             "  <db_name>" + db_name_ + "</db_name>\n"
             "  <db_host>" + db.host() + ":" + std::to_string(db.port()) + "</db_host>\n"
             "  <db_user>" + db.user() + "</db_user>\n"
             "  <db_passwd>" + db.password() + "</db_passwd>\n"
             "  <master_url>http://127.0.0.1/mwtest/</master_url>\n"
             "  <download_url>http://127.0.0.1/mwtest/download</download_url>\n"
             "  <download_dir>" + download + "</download_dir>\n"
             "  <upload_url>http://127.0.0.1/mwtest_cgi/file_upload_handler</upload_url>\n"
             "  <upload_dir>" + dir_ + "/upload</upload_dir>\n"
             "  <key_dir>" + dir_ + "/keys</key_dir>\n"
             "  <app_dir>" + dir_ + "/apps</app_dir>\n"
             "  <uldl_dir_fanout>" + std::to_string(options.fanout) + "</uldl_dir_fanout>\n"
             "  <cache_md5_info>" + (options.cache_md5_info ? "1" : "0") + "</cache_md5_info>\n"
             "  <dont_generate_upload_certificates>1</dont_generate_upload_certificates>\n"
             "  <ignore_upload_certificates>1</ignore_upload_certificates>\n"
             "</config>\n<daemons>\n</daemons>\n</boinc>\n");
  config_ = boinc::read_project_config(dir_);
  auto conn = db.connect(db_name_);
  conn.execute("INSERT INTO platform (create_time, name, user_friendly_name, deprecated) "
               "VALUES (UNIX_TIMESTAMP(), 'x86_64-pc-linux-gnu', 'Linux on x86_64', 0)");
  conn.execute("INSERT INTO app (create_time, name, user_friendly_name, min_version, deprecated, "
               "beta) VALUES (UNIX_TIMESTAMP(), " + conn.quote(options.app_name) + ", 'mwkit', 0, 0, 0)");
  app_id_ = static_cast<std::int64_t>(mysql_insert_id(conn.get()));
  // The templates mw-project-setup installs, exactly.
  for (const char* name : {"mw_out.xml", "mw_in.xml", "mw_in_program.xml", "mw_in_inline.xml",
                           "mw_in_inline_program.xml"})
    add_template(name, mw::detail::read_file(std::string(MW_TEMPLATES_DIR) + "/" + name));
}

BoincTestProject::~BoincTestProject() { mw::detail::remove_tree(dir_); }

std::unique_ptr<boinc::Database> BoincTestProject::database() const {
  return std::make_unique<boinc::Database>(boinc::db_params_from(config_));
}

std::string BoincTestProject::add_template(const std::string& name, const std::string& text) const {
  mw::detail::write_file_atomic(dir_ + "/templates/" + name, text);
  return "templates/" + name;
}

std::vector<SqlRow> BoincTestProject::rows(const std::string& sql) const {
  return PrivateMariaDb::shared().connect(db_name_).rows(sql);
}

}  // namespace mw::test
