#include "slot_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdio>
#include <sstream>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::wrapper {
namespace {

constexpr const char* kMarkerPrefix = "mw-wrapper verified ";

}  // namespace

SlotState::SlotState(std::string slot_dir)
    : slot_dir_(std::move(slot_dir)),
      work_dir_(detail::join_path(slot_dir_, "mw_work")),
      marker_path_(detail::join_path(slot_dir_, "mw_work.verified")),
      state_path_(detail::join_path(slot_dir_, "mw_wrapper_state")) {}

bool SlotState::intact_copy_of(const TaskBundle& bundle) const {
  std::string marker;
  try {
    marker = detail::read_file(marker_path_, 4096);
  } catch (const Error&) {
    return false;
  }
  if (marker != kMarkerPrefix + bundle.manifest_sha256() + "\n") return false;
  for (const auto& f : bundle.manifest().files) {
    struct stat st;
    const std::string path = detail::join_path(work_dir_, f.name);
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != f.size)
      return false;
  }
  return true;
}

bool SlotState::prepare(const TaskBundle& bundle) {
  if (intact_copy_of(bundle)) return true;
  clear();
  if (mkdir(work_dir_.c_str(), 0700) != 0)
    throw Error(Errc::io, "cannot create '" + work_dir_ + "': " + detail::errno_text(errno));
  bundle.extract_to(work_dir_);
  detail::write_file_atomic(marker_path_, kMarkerPrefix + bundle.manifest_sha256() + "\n");
  return false;
}

PriorRuns SlotState::prior_runs() const {
  PriorRuns prior;
  try {
    std::istringstream in(detail::read_file(state_path_, 4096));
    in.imbue(std::locale::classic());
    PriorRuns read;
    if (in >> read.elapsed_seconds >> read.cpu_seconds && read.elapsed_seconds >= 0 &&
        read.cpu_seconds >= 0)
      prior = read;
  } catch (const Error&) {
    // No checkpoint yet: nothing ran before, as far as the task is concerned.
  }
  return prior;
}

void SlotState::record_checkpoint(const PriorRuns& totals) const {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << totals.elapsed_seconds << ' ' << totals.cpu_seconds << '\n';
  detail::write_file_atomic(state_path_, out.str());
}

void SlotState::clear() const {
  ::unlink(marker_path_.c_str());
  ::unlink(state_path_.c_str());
  detail::remove_tree(work_dir_);
}

}  // namespace mw::wrapper
