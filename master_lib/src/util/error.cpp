#include "mw/error.h"

namespace mw {

const char* to_string(Errc code) noexcept {
  switch (code) {
    case Errc::io: return "io";
    case Errc::format: return "format";
    case Errc::signature: return "signature";
    case Errc::integrity: return "integrity";
    case Errc::unsafe_bundle: return "unsafe_bundle";
    case Errc::usage: return "usage";
    case Errc::system: return "system";
    case Errc::task_failed: return "task_failed";
    case Errc::unknown_task: return "unknown_task";
    case Errc::cancelled: return "cancelled";
    case Errc::journal: return "journal";
    case Errc::database: return "database";
    case Errc::remote: return "remote";
  }
  return "unknown";
}

}  // namespace mw
