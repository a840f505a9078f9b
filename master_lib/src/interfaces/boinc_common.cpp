// See interfaces/boinc_common.h.
#include "interfaces/boinc_common.h"

#include <unistd.h>

#include <cctype>
#include <ctime>

#include "mw/error.h"

namespace mw::boinc::detail {

WorkunitSettings settings_for_task(const WorkunitSettings& batch, const TaskSpec& task) {
  WorkunitSettings s = batch;
  if (task.estimates.fpops && *task.estimates.fpops > 0) {
    s.rsc_fpops_bound = *task.estimates.fpops * (s.rsc_fpops_bound / s.rsc_fpops_est);
    s.rsc_fpops_est = *task.estimates.fpops;
  }
  if (task.estimates.memory_bytes) s.rsc_memory_bound = static_cast<double>(*task.estimates.memory_bytes);
  return s;
}

void throw_no_each_worker(const Function& function) {
  throw Error(Errc::usage, "each_worker(" + function.name + ") is not available on BOINC: "
                           "volunteer hosts are not known in advance; pass what every task needs "
                           "as its arguments instead");
}

std::string batch_name_or_default(const std::string& name) {
  if (!name.empty()) return name;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return "mw_" + std::string(host) + "_" + std::to_string(::getpid()) + "_" + std::to_string(std::time(nullptr));
}

std::string workunit_stem(const std::string& batch_name) {
  std::string stem;
  for (char c : batch_name.substr(0, 60))
    stem += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return stem;
}

Outcome rejected_outcome(std::string reason, std::string worker) {
  Outcome o;
  o.status = ResultStatus::rejected;
  o.reason = std::move(reason);
  o.worker = std::move(worker);
  return o;
}

}  // namespace mw::boinc::detail
