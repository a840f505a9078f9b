// Fuzzes the bundle readers: the input is written as a zip file, opened as a
// task bundle (verified and extracted into a scratch directory) and as a result
// bundle. Every failure must be an mw::Error; nothing may appear outside the
// scratch directory.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "mw/bundle.h"
#include "mw/error.h"
#include "util/fs.h"

namespace {

std::string make_root() {
  char tmpl[] = "/tmp/mw-fuzz-bundle.XXXXXX";
  return mkdtemp(tmpl);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string root = make_root();
  const std::string zip_path = root + "/input.zip";
  const std::string out = root + "/out";
  {
    std::ofstream f(zip_path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  mw::UnpackLimits limits;
  limits.max_total_bytes = 64 << 20;
  try {
    auto bundle = mw::TaskBundle::open(zip_path, limits);
    (void)bundle.manifest_sha256();
    mkdir(out.c_str(), 0700);
    bundle.extract_to(out);
  } catch (const mw::Error&) {
  }
  try {
    auto result = mw::ResultBundle::open(zip_path, limits);
    for (const auto& o : result.manifest().outputs) (void)result.read_output(o.name);
  } catch (const mw::Error&) {
  }
  mw::detail::remove_tree(out);
  // Anything beside input.zip and out/ would be a write that escaped.
  if (DIR* d = opendir(root.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != ".." && name != "input.zip") std::abort();
    }
    closedir(d);
  }
  return 0;
}
