// Internal: an Interface that runs every task twice and compares the two runs
// (MasterOptions::double_run). The first run's outcome is delivered; a
// disagreement is reported to `on_mismatch` and counted in status().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mw/interface.h"
#include "mw/result_compare.h"

namespace mw::detail {

using MismatchCallback = std::function<void(std::uint64_t task_id, const std::string& why)>;

std::unique_ptr<Interface> make_double_run_interface(std::unique_ptr<Interface> inner,
                                                     CompareOptions compare, MismatchCallback on_mismatch);

}  // namespace mw::detail
