// md5.h — MD5 for the BOINC layer: BOINC names fan-out directories and
// identifies input files by MD5, so we need it even though mwkit itself pins
// files with SHA-256.
#pragma once

#include <string>
#include <string_view>

namespace mw::boinc::detail {

// 32 lowercase hex digits.
std::string md5_hex(std::string_view bytes);

}  // namespace mw::boinc::detail
