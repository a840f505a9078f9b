// mw/boinc/hierarchy.h — where BOINC keeps an input or output file.
//
// A project with <uldl_dir_fanout>N</uldl_dir_fanout> spreads the files of
// download/ and upload/ over N subdirectories so no directory grows huge. The
// subdirectory depends only on the file's name: take the MD5 of the name as 32
// lowercase hex digits, read digits 2..8 (seven of them, skipping the first)
// as a hexadecimal number, reduce it modulo N and print it in lowercase hex
// without padding ("3f5"). N = 0 (the default when config.xml has no fanout)
// means flat: the file sits directly in the root. BOINC's scheduler, upload
// handler, file_deleter and PHP pages all compute the same thing, so these
// functions must agree with them byte for byte (tests check libsched's).
// Application files are not in the hierarchy: they stay flat in download/.
#pragma once

#include <string>
#include <string_view>

namespace mw::boinc {

// The fan-out subdirectory of `name` ("3f5"); fanout must be > 0.
// Throws Error(Errc::usage) for fanout <= 0.
std::string fanout_dir(std::string_view name, int fanout);

// root/DIR/name, or root/name when fanout is 0. No file-system access.
// Throws Error(Errc::usage) for a negative fanout.
std::string dir_hier_path(std::string_view name, const std::string& root, int fanout);

// base_url/DIR/name, or base_url/name when fanout is 0 (the <url> of a staged
// input file is dir_hier_url(name, <download_url>, fanout)).
std::string dir_hier_url(std::string_view name, const std::string& base_url, int fanout);

// Mode BOINC gives the fan-out directories it creates (whatever the umask):
// owner and group may do anything, others may only traverse.
inline constexpr unsigned kFanoutDirMode = 0771;

// Like dir_hier_path, and creates the fan-out directory when it does not exist
// (mode kFanoutDirMode; the root itself must exist). Throws Error(Errc::io)
// naming the directory when it cannot be created or is not a directory.
std::string make_dir_hier_path(std::string_view name, const std::string& root, int fanout);

}  // namespace mw::boinc
