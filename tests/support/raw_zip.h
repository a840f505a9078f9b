// RawZip: builds arbitrary (possibly hostile) zip archives member by member,
// for tests that need a bundle mwkit's own writer would never produce.
#pragma once

#include <sys/stat.h>
#include <zip.h>

#include <list>
#include <stdexcept>
#include <string>

namespace mw::test {

class RawZip {
 public:
  explicit RawZip(const std::string& path) {
    int err = 0;
    z_ = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z_) throw std::runtime_error("zip_open failed");
  }
  RawZip& add(const std::string& name, const std::string& data, mode_t mode = S_IFREG | 0644,
              bool compress = true) {
    keep_.push_back(data);
    const std::string& stored = keep_.back();
    zip_source_t* s = zip_source_buffer(z_, stored.data(), stored.size(), 0);
    zip_int64_t i = zip_file_add(z_, name.c_str(), s, ZIP_FL_ENC_UTF_8);
    if (i < 0) throw std::runtime_error("zip_file_add failed: " + name);
    zip_set_file_compression(z_, static_cast<zip_uint64_t>(i), compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 9);
    zip_file_set_external_attributes(z_, static_cast<zip_uint64_t>(i), 0, ZIP_OPSYS_UNIX,
                                     static_cast<zip_uint32_t>(mode) << 16);
    return *this;
  }
  void close() {
    if (zip_close(z_) != 0) throw std::runtime_error("zip_close failed");
  }

 private:
  zip* z_;
  std::list<std::string> keep_;
};

}  // namespace mw::test
