#include "task_monitor.h"

#include <algorithm>
#include <cmath>
#include <locale>
#include <sstream>

#include "mw/error.h"
#include "util/fs.h"

namespace mw::wrapper {
namespace {

// Never report "done" while the task still runs: the client treats 1 as finished.
constexpr double kMaxRunningFraction = 0.99;

bool stat_file(const std::string& path, struct stat& st) {
  return lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

TaskMonitor::TaskMonitor(const BoincSession& session, const SlotState& slot,
                         const TaskManifest& task, PriorRuns prior,
                         std::function<SignalRequests()> signals)
    : session_(session), slot_(slot), prior_(prior), signals_(std::move(signals)) {
  // The estimate: the task's own CPU estimate, else its FLOPs at this host's
  // speed, else its wall-time limit — the first one known.
  if (task.estimates.cpu_seconds && *task.estimates.cpu_seconds > 0) {
    estimate_seconds_ = *task.estimates.cpu_seconds;
    estimate_is_cpu_ = true;
  } else if (task.estimates.fpops && *task.estimates.fpops > 0 && session.host_flops() > 0) {
    estimate_seconds_ = *task.estimates.fpops / session.host_flops();
    estimate_is_cpu_ = true;
  } else if (task.limits.wall_seconds) {
    estimate_seconds_ = *task.limits.wall_seconds;
  }
  // A checkpoint left by an earlier run is not a new one.
  struct stat st;
  if (stat_file(detail::join_path(slot_.work_dir(), kCheckpointFile), st)) {
    checkpoint_mtime_ = st.st_mtim;
    checkpoint_size_ = st.st_size;
  }
  checkpoint_cpu_ = prior_.cpu_seconds;
}

RunControl TaskMonitor::control() {
  RunControl c;
  c.poll_seconds = 1;
  c.poll = [this](const RunProgress& p) { return poll(p); };
  c.extra_env = {std::string("MW_PROGRESS_FILE=") + kProgressFile,
                 std::string("MW_CHECKPOINT_FILE=") + kCheckpointFile};
  c.die_with_caller = true;
  return c;
}

bool TaskMonitor::checkpoint_changed() {
  struct stat st;
  if (!stat_file(detail::join_path(slot_.work_dir(), kCheckpointFile), st)) return false;
  if (st.st_size == checkpoint_size_ && st.st_mtim.tv_sec == checkpoint_mtime_.tv_sec &&
      st.st_mtim.tv_nsec == checkpoint_mtime_.tv_nsec)
    return false;
  checkpoint_mtime_ = st.st_mtim;
  checkpoint_size_ = st.st_size;
  return true;
}

double TaskMonitor::fraction_done(double elapsed_total, double cpu_total) const {
  try {
    std::istringstream in(
        detail::read_file(detail::join_path(slot_.work_dir(), kProgressFile), 256));
    in.imbue(std::locale::classic());
    double reported = 0;
    if (in >> reported && std::isfinite(reported))
      return std::clamp(reported, 0.0, kMaxRunningFraction);
  } catch (const Error&) {
    // No progress file (or not readable yet): fall back to the estimate.
  }
  if (estimate_seconds_ <= 0) return 0;
  const double spent = estimate_is_cpu_ ? cpu_total : elapsed_total;
  return std::clamp(spent / estimate_seconds_, 0.0, kMaxRunningFraction);
}

RunAction TaskMonitor::poll(const RunProgress& progress) {
  const ClientRequests client = session_.requests();
  const SignalRequests own = signals_ ? signals_() : SignalRequests{};
  if (client.abort || own.abort) {
    stop_ = StopReason::abort;
    return RunAction::stop;
  }
  if (client.quit || own.quit) {
    stop_ = StopReason::quit;
    return RunAction::stop;
  }
  const double elapsed = prior_.elapsed_seconds + progress.elapsed_seconds;
  const double cpu = prior_.cpu_seconds + progress.cpu_seconds;
  if (checkpoint_changed()) {
    try {
      slot_.record_checkpoint({elapsed, cpu});
    } catch (const Error&) {
      // Not fatal: a restart would count the time since the previous checkpoint twice.
    }
    checkpoint_cpu_ = cpu;
    session_.checkpoint_completed();
  }
  session_.report(cpu, checkpoint_cpu_, fraction_done(elapsed, cpu));
  const bool want_suspend = client.suspended || own.suspended;
  if (want_suspend && !progress.suspended) return RunAction::suspend;
  if (!want_suspend && progress.suspended) return RunAction::resume;
  return RunAction::keep_going;
}

}  // namespace mw::wrapper
