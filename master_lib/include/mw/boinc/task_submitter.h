// mw/boinc/task_submitter.h — mwkit tasks as BOINC workunits, in bulk.
//
// Lays tasks onto workunits the way docs/boinc-conventions.md fixes it: the
// signed task bundle in the workunit's command line when it is small
// (mw/boinc/inline_task.h) and the project has templates/mw_in_inline*.xml,
// else staged as `<wu_name>.task.zip` (one per workunit); its program (if it
// ships one) staged once as the sticky, no-delete file `mwp_<sha256>`; the
// project's templates/mw_in*.xml as input template, templates/mw_out.xml (or
// a copy with another output limit) as result template. Used by
// mw-work-generator and mw::boinc::Local.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mw/boinc/database.h"
#include "mw/boinc/project_config.h"
#include "mw/boinc/work_creator.h"
#include "mw/bundle.h"
#include "mw/signing.h"

namespace mw::boinc {

// The default output limit of templates/mw_out.xml.
inline constexpr std::uint64_t kDefaultMaxOutputBytes = 64ull << 20;

// One task to submit: a task built in memory (signed here) or a bundle file
// that is already signed (shipped as it is).
struct PendingTask {
  std::string wu_name;
  // Shared, not borrowed: the submitter reads the source ahead and builds
  // several tasks at once on other threads (it only reads the builder).
  std::shared_ptr<const TaskBuilder> builder;
  std::string bundle_path;
  std::optional<WorkunitSettings> settings;  // else the submit's
};

class TaskSubmitter {
 public:
  // Reads PROJECT/templates/mw_in.xml and mw_in_program.xml (Errc::io naming
  // them and suggesting mw-project-setup when missing) and checks the app.
  // With `max_output_bytes` other than the default, writes (once) the result
  // template templates/mw_out_<N>.xml from mw_out.xml. `signing_key` signs the
  // tasks given as builders.
  // Bundle files are checked (container, manifest, signature by one of
  // `trusted`, file hashes) before anything is staged, unless `trusted` is
  // empty; the error names the bundle.
  TaskSubmitter(const ProjectConfig& config, Database& db, const std::string& app_name,
                std::shared_ptr<const PrivateKey> signing_key,
                std::uint64_t max_output_bytes = kDefaultMaxOutputBytes,
                std::vector<PublicKey> trusted = {});
  ~TaskSubmitter();

  WorkCreator& creator() { return *creator_; }

  using TaskSource = std::function<bool(PendingTask& task)>;
  // All tasks `next` produces, in one transaction (see WorkCreator::submit).
  // `next` is called on this thread, in order, up to a few hundred tasks
  // before those tasks reach the database.
  std::size_t submit(std::int64_t batch_id, const WorkunitSettings& settings, const TaskSource& next);

 private:
  ProjectConfig config_;
  std::shared_ptr<const PrivateKey> key_;
  std::vector<PublicKey> trusted_;
  std::unique_ptr<WorkCreator> creator_;
  std::unique_ptr<InputTemplate> with_program_;
  // Both set when the project has the inline templates, else both null.
  std::unique_ptr<InputTemplate> inline_, inline_program_;
};

// The result template for an output limit: "templates/mw_out.xml" for the
// default, else "templates/mw_out_<N>.xml", written from mw_out.xml (with its
// <max_nbytes> replaced) if it does not exist yet — never rewritten, because
// the transitioner rereads it for every result of every workunit using it.
std::string result_template_for(const ProjectConfig& config, std::uint64_t max_output_bytes);

}  // namespace mw::boinc
