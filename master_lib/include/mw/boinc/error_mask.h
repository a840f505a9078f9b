// mw/boinc/error_mask.h — what a BOINC workunit's error_mask says, in words.
// Used by the assimilator and by the remote client, so it lives apart from the
// database code.
#pragma once

#include <cstdint>
#include <string>

namespace mw::boinc {

// "too many errors, cancelled" for a workunit error_mask (BOINC's bits 1..32;
// unknown bits are named by value); "none" for 0.
std::string describe_error_mask(std::int64_t error_mask);

}  // namespace mw::boinc
