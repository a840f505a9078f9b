// The BOINC API as the wrapper uses it — the one file that includes BOINC's
// headers, so the rest of the wrapper reads as plain mwkit code.
//
// Initialised for a wrapper (shared/boinc-reference.md §8.1): the API only
// records the client's requests (suspend, resume, quit, abort, lost
// heartbeat) and the wrapper acts on the task's process group itself.
#pragma once

#include <optional>
#include <string>

namespace mw::wrapper {

struct ClientRequests {
  bool suspended = false;
  bool quit = false;       // quit request or lost heartbeat: stop, exit 0, restart later
  bool abort = false;
};

class BoincSession {
 public:
  // Calls boinc_init_options; throws mw::Error(Errc::system) when it fails.
  static BoincSession start();

  bool standalone() const { return standalone_; }
  // The physical path of a logical file name (unchanged in standalone mode).
  std::string physical_name(const std::string& logical) const;
  // The same for an input: nullopt when no such file exists.
  std::optional<std::string> existing_file(const std::string& logical) const;
  // Floating-point speed of one CPU of this host (0 if the client did not say).
  double host_flops() const { return host_flops_; }
  ClientRequests requests() const;
  void report(double cpu_seconds, double checkpoint_cpu_seconds, double fraction_done) const;
  void checkpoint_completed() const;
  // boinc_finish: writes boinc_finish_called and exits with `status`.
  [[noreturn]] void finish(int status) const;

 private:
  bool standalone_ = true;
  double host_flops_ = 0;
};

}  // namespace mw::wrapper
