// Fuzzes the task.xml and result.xml parsers. Besides "never crash", it checks
// a property: whatever parses, written back out, parses to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "mw/error.h"
#include "mw/task_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    mw::TaskManifest task = mw::parse_task_xml(input);
    const std::string once = mw::task_to_xml(task);
    if (mw::task_to_xml(mw::parse_task_xml(once)) != once) std::abort();
  } catch (const mw::Error&) {
  }
  try {
    mw::ResultManifest result = mw::parse_result_xml(input);
    const std::string once = mw::result_to_xml(result);
    if (mw::result_to_xml(mw::parse_result_xml(once)) != once) std::abort();
  } catch (const mw::Error&) {
  }
  return 0;
}
