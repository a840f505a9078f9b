// mw/boinc/md5_info.h — MD5 and size of a staged BOINC file, and the PATH.md5 cache.
//
// BOINC identifies input files to clients by MD5 and byte count (<md5_cksum>,
// <nbytes> in workunit.xml_doc). Hashing every staged file for every workunit
// is slow, so with <cache_md5_info> a project keeps a side file PATH.md5 next
// to each staged file and trusts it while it is not older than the file. The
// rules here are BOINC's, so a cache written by either side is read the same
// way by the other.
#pragma once

#include <optional>
#include <string>

namespace mw::boinc {

struct FileDigest {
  std::string md5;    // as BOINC stores it: 32 lowercase hex digits when computed
  double nbytes = 0;  // a double, like BOINC's, so cached values print identically
};

// Hashes the file. Throws Error(Errc::io) naming the path.
FileDigest md5_file(const std::string& path);

// The side-file name BOINC uses: path + ".md5".
std::string md5_info_path(const std::string& path);

// The exact side-file text BOINC writes: "<md5> <nbytes as %.15e>\n".
std::string format_md5_info(const FileDigest& digest);

// Reads PATH.md5 the way BOINC does and returns its digest, or nothing when
// the cache cannot be used: the data file or the side file is missing, the side
// file is not "<word> <number>\n" with nothing after it, or it is older (whole
// seconds) than the data file. A side file that is older is deleted, as BOINC
// deletes it, so the next writer can replace it.
std::optional<FileDigest> read_md5_info(const std::string& path);

// Writes PATH.md5 unless one already exists (BOINC never replaces an existing
// side file, even one it could not read). Atomic: readers see no partial file.
// Failures are ignored, as in BOINC: the cache is an optimisation.
void write_md5_info(const std::string& path, const FileDigest& digest);

// MD5 and size of a staged file: from a valid PATH.md5 when `use_cache`, else
// computed (and then cached when `use_cache`). Throws Error(Errc::io).
FileDigest staged_file_digest(const std::string& path, bool use_cache);

}  // namespace mw::boinc
