// mw/boinc/inline_task.h — a small task bundle carried in its workunit's
// command line instead of as a file to download.
//
// A BOINC workunit's <command_line> reaches the app as arguments. A signed
// task bundle of at most kMaxInlineBundleBytes travels there, base64-encoded
// after kInlineTaskOption, and mw-wrapper takes it from there: no file per
// task in the download hierarchy (and none for the client to fetch), so a
// submission of 10^4 small tasks costs database rows only. The bundle is
// checked exactly as a downloaded one (signature, manifest, hashes).
//
// Size: the BOINC client formats the command line into a fixed 8 KiB buffer
// (client/app_start.cpp), together with the app version's own command line;
// 3 KiB of bundle (4 KiB of base64) keeps well inside it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mw::boinc {

inline constexpr const char* kInlineTaskOption = "--mw-task-base64";
inline constexpr std::size_t kMaxInlineBundleBytes = 3072;

// Standard base64 (RFC 4648 §4, with padding, no line breaks).
std::string encode_inline_task(std::string_view bundle);
// The bundle's bytes. Throws Error(Errc::format) saying what is wrong (a
// character outside the alphabet and where, a length that is not a multiple
// of 4, misplaced padding) — never returns bytes for malformed text.
std::string decode_inline_task(std::string_view text);

}  // namespace mw::boinc
