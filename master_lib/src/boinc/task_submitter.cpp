#include "mw/boinc/task_submitter.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <regex>
#include <thread>

#include "mw/boinc/inline_task.h"
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
  // Inline tasks only where mw-project-setup installed their templates, and
  // with them a wrapper that reads its task from the command line.
  if (mw::detail::path_exists(in_dir + "/mw_in_inline.xml") &&
      mw::detail::path_exists(in_dir + "/mw_in_inline_program.xml")) {
    inline_ = std::make_unique<InputTemplate>(InputTemplate::parse(
        read_template(config_, "mw_in_inline.xml"), in_dir + "/mw_in_inline.xml"));
    inline_program_ = std::make_unique<InputTemplate>(InputTemplate::parse(
        read_template(config_, "mw_in_inline_program.xml"), in_dir + "/mw_in_inline_program.xml"));
    if (inline_->variable_file_count() != 0 || inline_program_->variable_file_count() != 1 ||
        inline_->has_command_line() || inline_program_->has_command_line())
      throw Error(Errc::format, "mwkit's templates in '" + in_dir + "' must take 0 (mw_in_inline.xml) "
                                "and 1 (mw_in_inline_program.xml) files and no <command_line>; "
                                "reinstall them with mw-project-setup");
  }
  creator_ = std::make_unique<WorkCreator>(config_, db, app_name, std::move(plain),
                                           result_template_for(config_, max_output_bytes));
}

TaskSubmitter::~TaskSubmitter() = default;

namespace {

// A task as the source gave it, with its bundle built and signed (or read
// and checked) — or the error that stopped that.
struct PreparedTask {
  PendingTask task;
  std::string bundle;  // the signed bundle, without its program
  std::vector<TaskBuilder::ProgramFile> programs;
  std::exception_ptr error;
};

// Tasks read ahead per preparing thread: enough that starting the threads
// costs little per task, few enough that a huge submission's memory stays flat.
constexpr std::size_t kReadAheadPerThread = 64;

unsigned preparing_threads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return std::max(1u, std::min(cores, 8u));
}

}  // namespace

// Building and signing a task costs ~75 µs, most of it the Ed25519
// signature, and it was the bound of a whole submission (issue 23): the
// bundles of the next tasks are made on every core while the database takes
// the rows of the ones before. The source is read ahead on this thread, in
// order; staging, templates and errors keep that order.
std::size_t TaskSubmitter::submit(std::int64_t batch_id, const WorkunitSettings& settings,
                                  const TaskSource& next) {
  Stager stager(config_);
  const unsigned threads = preparing_threads();
  std::deque<PreparedTask> ready;
  bool source_done = false;

  auto prepare = [&](PreparedTask& p) {
    try {
      const PendingTask& task = p.task;
      if (task.builder) {
        if (!key_) throw Error(Errc::usage, "no task-signing key to sign task '" + task.wu_name + "'");
        p.programs = task.builder->program_files();
        if (p.programs.size() > 1)
          throw Error(Errc::usage, "task '" + task.wu_name + "' ships " + std::to_string(p.programs.size()) +
                                       " program files; on BOINC a task ships at most one");
        p.bundle = task.builder->bundle_bytes_without_programs(*key_);
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
        p.bundle = mw::detail::read_file(task.bundle_path);
      }
    } catch (...) {
      p.error = std::current_exception();
    }
  };

  auto refill = [&] {
    std::vector<PreparedTask> batch;
    while (!source_done && batch.size() < kReadAheadPerThread * threads) {
      PreparedTask p;
      if (!next(p.task)) {
        source_done = true;
        break;
      }
      batch.push_back(std::move(p));
    }
    if (threads == 1 || batch.size() < 2) {
      for (auto& p : batch) prepare(p);
    } else {
      std::atomic<std::size_t> at{0};
      auto work = [&] {
        for (std::size_t i; (i = at.fetch_add(1)) < batch.size();) prepare(batch[i]);
      };
      std::vector<std::thread> helpers;
      const std::size_t extra = std::min<std::size_t>(threads, batch.size()) - 1;
      for (std::size_t t = 0; t < extra; ++t) helpers.emplace_back(work);
      work();
      for (auto& h : helpers) h.join();
    }
    for (auto& p : batch) ready.push_back(std::move(p));
  };

  return creator_->submit(batch_id, settings, [&](JobSpec& job) {
    if (ready.empty()) refill();
    if (ready.empty()) return false;
    PreparedTask p = std::move(ready.front());
    ready.pop_front();
    if (p.error) std::rethrow_exception(p.error);
    const PendingTask& task = p.task;
    job.name = task.wu_name;
    job.settings = task.settings;
    const TaskBuilder::ProgramFile* program = p.programs.empty() ? nullptr : &p.programs.front();
    std::vector<InputFile> program_file;
    if (program) {
      StagedFile staged = program->path.empty() ? stager.stage_content_addressed_bytes("mwp_", program->bytes)
                                                : stager.stage_content_addressed("mwp_", program->path);
      program_file.push_back(InputFile::known(staged.name, staged.digest));
    }
    if (inline_ && !p.bundle.empty() && p.bundle.size() <= kMaxInlineBundleBytes) {
      job.command_line = std::string(kInlineTaskOption) + " " + encode_inline_task(p.bundle);
      job.files = std::move(program_file);
      job.input_template = program ? inline_program_.get() : inline_.get();
    } else {
      StagedFile staged = stager.stage_bytes(task.wu_name + ".task.zip", p.bundle);
      job.files = {InputFile::known(staged.name, staged.digest)};
      for (InputFile& f : program_file) job.files.push_back(std::move(f));
      if (program) job.input_template = with_program_.get();
    }
    return true;
  }, &stager);
}

}  // namespace mw::boinc
