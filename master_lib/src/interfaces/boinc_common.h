// interfaces/boinc_common.h — what mw::boinc::Local and mw::boinc::Remote
// share: both lay tasks onto BOINC workunits the same way, so a master moved
// from the server to a laptop names, sizes and reports its jobs alike.
#pragma once

#include <string>

#include "mw/boinc/work_creator.h"
#include "mw/result.h"
#include "mw/task.h"

namespace mw::boinc::detail {

// The batch's settings with the task's own estimates (fpops, memory) taking
// precedence, keeping the ratio between rsc_fpops_bound and rsc_fpops_est.
WorkunitSettings settings_for_task(const WorkunitSettings& batch, const TaskSpec& task);

// BOINC hosts are not known in advance: Errc::usage saying so.
[[noreturn]] void throw_no_each_worker(const Function& function);

// "mw_<host>_<pid>_<time>" when `name` is empty, else `name`.
std::string batch_name_or_default(const std::string& name);

// The first 60 characters of a batch name with anything outside
// [A-Za-z0-9-] made '_': the stem of workunit names.
std::string workunit_stem(const std::string& batch_name);

// A task BOINC could not run (or mwkit could not submit): status rejected.
Outcome rejected_outcome(std::string reason, std::string worker);

}  // namespace mw::boinc::detail
