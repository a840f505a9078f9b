#include "boinc_session.h"

#include <sys/stat.h>

#include <cstdlib>

#include <boinc_api.h>
#include <app_ipc.h>

#include "mw/error.h"

namespace mw::wrapper {

BoincSession BoincSession::start() {
  BOINC_OPTIONS options;
  boinc_options_defaults(options);
  options.main_program = 1;
  options.check_heartbeat = 1;
  options.handle_process_control = 1;
  options.send_status_msgs = 0;        // the wrapper reports the task's CPU time, not its own
  options.direct_process_action = 0;   // the wrapper suspends/kills the task's process group
  options.multi_process = 1;
  if (int rc = boinc_init_options(&options); rc != 0)
    throw Error(Errc::system, "boinc_init_options failed with status " + std::to_string(rc));
  BoincSession session;
  session.standalone_ = boinc_is_standalone() != 0;
  APP_INIT_DATA init;
  if (boinc_get_init_data(init) == 0) session.host_flops_ = init.host_info.p_fpops;
  return session;
}

std::string BoincSession::physical_name(const std::string& logical) const {
  std::string physical;
  if (boinc_resolve_filename_s(logical.c_str(), physical) != 0 || physical.empty()) return logical;
  return physical;
}

std::optional<std::string> BoincSession::existing_file(const std::string& logical) const {
  const std::string physical = physical_name(logical);
  struct stat st;
  if (stat(physical.c_str(), &st) != 0) return std::nullopt;
  return physical;
}

ClientRequests BoincSession::requests() const {
  BOINC_STATUS status;
  boinc_get_status(&status);
  ClientRequests r;
  r.suspended = status.suspended != 0;
  r.quit = status.quit_request != 0 || status.no_heartbeat != 0;
  r.abort = status.abort_request != 0;
  return r;
}

void BoincSession::report(double cpu_seconds, double checkpoint_cpu_seconds,
                          double fraction_done) const {
  boinc_report_app_status(cpu_seconds, checkpoint_cpu_seconds, fraction_done);
}

void BoincSession::checkpoint_completed() const { boinc_checkpoint_completed(); }

void BoincSession::finish(int status) const {
  boinc_finish(status);
  std::exit(status);  // boinc_finish does not return; this keeps [[noreturn]] honest
}

}  // namespace mw::wrapper
