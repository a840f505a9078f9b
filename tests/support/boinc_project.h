// A BOINC project directory for tests, laid out as BOINC's make_project lays
// one out (config.xml, download/, upload/, templates/, keys/, cgi-bin/, bin/,
// log_HOST/, pid_HOST/, tmp_HOST/), whose config.xml points at a fresh
// database on the private MariaDB with the BOINC schema and one app.
//
//   mw::test::BoincTestProject project("t_submit");   // database name
//   project.config();                                  // parsed config.xml
//   auto db = project.database();                      // mw::boinc::Database
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"
#include "support/private_mariadb.h"

namespace mw::test {

struct BoincTestProjectOptions {
  int fanout = 1024;
  bool cache_md5_info = true;
  std::string app_name = "mw";
  // Where the project lives (a fresh temp dir when empty). The download tree
  // may be put elsewhere, e.g. on a small tmpfs, with download_dir.
  std::string download_dir;
};

class BoincTestProject {
 public:
  explicit BoincTestProject(const std::string& db_name, BoincTestProjectOptions options = {});
  ~BoincTestProject();
  BoincTestProject(const BoincTestProject&) = delete;
  BoincTestProject& operator=(const BoincTestProject&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& db_name() const { return db_name_; }
  const boinc::ProjectConfig& config() const { return config_; }
  std::int64_t app_id() const { return app_id_; }
  PrivateMariaDb& server() const { return PrivateMariaDb::shared(); }
  // A new connection with BOINC's flags, as mwkit's programs make it.
  std::unique_ptr<boinc::Database> database() const;
  // Writes `text` to PROJECT/templates/NAME and returns "templates/NAME".
  std::string add_template(const std::string& name, const std::string& text) const;
  // Rows of `sql` as name -> value maps.
  std::vector<SqlRow> rows(const std::string& sql) const;

 private:
  std::string dir_, db_name_;
  bool own_dir_ = true;
  boinc::ProjectConfig config_;
  std::int64_t app_id_ = 0;
};

// Templates for tests that hand them to WorkCreator directly (the project
// itself gets the real ones from templates/): an output template like
// templates/mw_out.xml.
std::string test_output_template(std::uint64_t max_nbytes = 67108864);
// A one-file input template like templates/mw_in.xml.
std::string test_input_template();

}  // namespace mw::test
