#include "submission.h"

#include <cctype>

#include "mw/boinc/install_record.h"
#include "mw/error.h"
#include "sweep.h"
#include "util/fs.h"

namespace mw::work_generator {

using namespace mw::boinc;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Workunit names are built from the batch name; keep them to BOINC's alphabet.
std::string name_stem(const std::string& batch_name) {
  std::string stem;
  for (char c : batch_name.substr(0, 60))
    stem += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return stem.empty() ? "batch" : stem;
}

std::vector<PublicKey> trusted_keys(const ProjectConfig& config, const std::string& app) {
  const boinc::AppDefaults defaults = boinc::app_defaults(config, app);
  const std::string source = defaults.recorded ? boinc::install_record_path(config.project_dir)
                                               : config.key_dir + "/mw_task_public*.pem";
  std::vector<PublicKey> keys;
  for (const auto& pem : defaults.trusted_task_keys) keys.push_back(PublicKey::from_pem(pem, source));
  return keys;
}

bool is_sweep(const std::string& path) { return ends_with(path, ".jsonl") || ends_with(path, ".json"); }

std::shared_ptr<const PrivateKey> load_key_if_needed(const ProjectConfig& config, const std::string& app,
                                                     const std::string& key,
                                                     const std::vector<std::string>& inputs) {
  bool any_sweep = false;
  for (const auto& t : inputs) any_sweep = any_sweep || is_sweep(t);
  if (!any_sweep) return nullptr;
  std::string path = key;
  if (path.empty()) path = boinc::app_defaults(config, app).task_signing_key;
  if (path.empty())
    throw Error(Errc::usage, "sweeps are signed here, but app '" + app +
                                 "' was installed with public keys only (--task-pub): give --key PRIVATE_KEY");
  return std::make_shared<const PrivateKey>(PrivateKey::load_pem(path));
}

// The batch named `name`, opened when there is none yet (second: whether it was).
std::pair<std::int64_t, bool> open_batch(WorkCreator& creator, const std::string& name) {
  if (auto existing = creator.find_batch(name)) return {*existing, false};
  return {creator.create_batch(name), true};
}

// Submits every task of `inputs` (bundles and sweeps, in order) in one
// transaction, naming the workunits `stem` + first, first + 1, …
std::size_t submit_inputs(TaskSubmitter& submitter, std::int64_t batch, const std::string& stem,
                          std::size_t first, const WorkunitSettings& settings,
                          const std::vector<std::string>& inputs) {
  std::size_t seq = first, next_arg = 0;
  std::unique_ptr<SweepReader> sweep;
  SweepTask current;
  return submitter.submit(batch, settings, [&](PendingTask& task) {
    for (;;) {
      if (sweep) {
        if (sweep->next(current)) {
          task.builder = std::move(current.builder);
          task.settings = current.settings;
          break;
        }
        sweep.reset();
      }
      if (next_arg == inputs.size()) return false;
      const std::string& arg = inputs[next_arg++];
      if (is_sweep(arg)) {
        sweep = std::make_unique<SweepReader>(arg, settings);
        continue;
      }
      task.bundle_path = arg;
      break;
    }
    task.wu_name = stem + std::to_string(seq++);
    return true;
  });
}

}  // namespace mw::work_generator
