// submission.h — what mw-work-generator's commands share: task inputs
// (bundles and sweeps) into one transaction, workunit names, trusted keys.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mw/boinc/project_config.h"
#include "mw/boinc/task_submitter.h"
#include "mw/signing.h"

namespace mw::work_generator {

bool ends_with(const std::string& s, const std::string& suffix);
// A JSON-lines sweep (.jsonl / .json); anything else is a task bundle.
bool is_sweep(const std::string& path);
// Workunit names are built from the batch name; this keeps it to BOINC's alphabet.
std::string name_stem(const std::string& batch_name);
// The task keys volunteers trust for `app`: those mw-project-setup recorded,
// else KEY_DIR/mw_task_public.pem, _1.pem, … (docs/boinc-conventions.md).
std::vector<PublicKey> trusted_keys(const boinc::ProjectConfig& config, const std::string& app);
// The signing key when `inputs` hold a sweep (tasks built here): `key`, else
// the recorded one, else KEY_DIR/mw_task_private.pem; null otherwise.
std::shared_ptr<const PrivateKey> load_key_if_needed(const boinc::ProjectConfig& config, const std::string& app,
                                                     const std::string& key,
                                                     const std::vector<std::string>& inputs);
// The batch named `name`, opened when there is none yet (second: whether it was).
std::pair<std::int64_t, bool> open_batch(boinc::WorkCreator& creator, const std::string& name);
// Submits every task of `inputs` (bundles and sweeps, in order) in one
// transaction, naming the workunits `stem` + first, first + 1, …
std::size_t submit_inputs(boinc::TaskSubmitter& submitter, std::int64_t batch, const std::string& stem,
                          std::size_t first, const boinc::WorkunitSettings& settings,
                          const std::vector<std::string>& inputs);

}  // namespace mw::work_generator
