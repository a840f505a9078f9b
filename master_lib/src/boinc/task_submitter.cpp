#include "mw/boinc/task_submitter.h"

#include <sys/stat.h>
#include <unistd.h>

#include <regex>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::boinc {
namespace {

std::string templates_dir(const ProjectConfig& config) { return config.project_dir + "/templates"; }

std::string read_template(const ProjectConfig& config, const std::string& name) {
  const std::string path = templates_dir(config) + "/" + name;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(Errc::io, "template '" + path + "' is missing; install mwkit into the project first "
                          "(mw-project-setup install --project " + config.project_dir + ")");
  return mw::detail::read_file(path, 1 << 20);
}

}  // namespace

std::string result_template_for(const ProjectConfig& config, std::uint64_t max_output_bytes) {
  if (max_output_bytes == kDefaultMaxOutputBytes) {
    read_template(config, "mw_out.xml");  // exists?
    return "templates/mw_out.xml";
  }
  if (max_output_bytes == 0) throw Error(Errc::usage, "the output limit must be positive");
  const std::string name = "mw_out_" + std::to_string(max_output_bytes) + ".xml";
  const std::string path = templates_dir(config) + "/" + name;
  if (!mw::detail::path_exists(path)) {
    const std::string base = read_template(config, "mw_out.xml");
    static const std::regex limit("<max_nbytes>[^<]*</max_nbytes>");
    if (!std::regex_search(base, limit))
      throw Error(Errc::format, "'" + templates_dir(config) + "/mw_out.xml' has no <max_nbytes>; "
                                "cannot derive an output template with another limit");
    const std::string text = std::regex_replace(
        base, limit, "<max_nbytes>" + std::to_string(max_output_bytes) + "</max_nbytes>");
    mw::detail::write_file_atomic(path, text);
  }
  return "templates/" + name;
}

TaskSubmitter::TaskSubmitter(const ProjectConfig& config, Database& db, const std::string& app_name,
                             std::shared_ptr<const PrivateKey> signing_key,
                             std::uint64_t max_output_bytes, std::vector<PublicKey> trusted)
    : config_(config), key_(std::move(signing_key)), trusted_(std::move(trusted)) {
  const std::string in_dir = templates_dir(config_);
  InputTemplate plain = InputTemplate::parse(read_template(config_, "mw_in.xml"), in_dir + "/mw_in.xml");
  with_program_ = std::make_unique<InputTemplate>(InputTemplate::parse(
      read_template(config_, "mw_in_program.xml"), in_dir + "/mw_in_program.xml"));
  if (plain.variable_file_count() != 1 || with_program_->variable_file_count() != 2)
    throw Error(Errc::format, "mwkit's templates in '" + in_dir + "' must take 1 (mw_in.xml) and 2 "
                              "(mw_in_program.xml) files; reinstall them with mw-project-setup");
  creator_ = std::make_unique<WorkCreator>(config_, db, app_name, std::move(plain),
                                           result_template_for(config_, max_output_bytes));
  scratch_dir_ = mw::detail::make_temp_dir(mw::detail::default_temp_root(), "mw-submit-");
}

TaskSubmitter::~TaskSubmitter() { mw::detail::remove_tree(scratch_dir_); }

std::size_t TaskSubmitter::submit(std::int64_t batch_id, const WorkunitSettings& settings,
                                  const TaskSource& next) {
  Stager stager(config_);
  const std::string zip = scratch_dir_ + "/bundle.zip";
  return creator_->submit(batch_id, settings, [&](JobSpec& job) {
    PendingTask task;
    if (!next(task)) return false;
    job.name = task.wu_name;
    job.settings = task.settings;
    const std::string bundle_name = task.wu_name + ".task.zip";
    if (task.builder) {
      if (!key_) throw Error(Errc::usage, "no task-signing key to sign task '" + task.wu_name + "'");
      const auto programs = task.builder->program_files();
      if (programs.size() > 1)
        throw Error(Errc::usage, "task '" + task.wu_name + "' ships " + std::to_string(programs.size()) +
                                     " program files; on BOINC a task ships at most one");
      if (programs.empty()) {
        task.builder->write_bundle(zip, *key_);
      } else {
        task.builder->write_bundle_without_programs(zip, *key_);
      }
      StagedFile bundle = stager.stage_copy(bundle_name, zip);
      ::unlink(zip.c_str());
      job.files = {InputFile::known(bundle.name, bundle.digest)};
      if (!programs.empty()) {
        const auto& p = programs.front();
        StagedFile program = p.path.empty() ? stager.stage_content_addressed_bytes("mwp_", p.bytes)
                                            : stager.stage_content_addressed("mwp_", p.path);
        job.files.push_back(InputFile::known(program.name, program.digest));
        job.input_template = with_program_.get();
      }
    } else {
      if (!trusted_.empty()) {
        try {
          TaskBundle b = TaskBundle::open(task.bundle_path);
          b.verify_signature(trusted_);
          b.verify_files();
        } catch (const Error& e) {
          throw Error(e.code(), "task bundle '" + task.bundle_path + "': " + e.what());
        }
      }
      StagedFile bundle = stager.stage_copy(bundle_name, task.bundle_path);
      job.files = {InputFile::known(bundle.name, bundle.digest)};
    }
    return true;
  }, &stager);
}

}  // namespace mw::boinc
