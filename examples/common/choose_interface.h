// Shared by the examples: the one line that picks a back end, from --interface.
#pragma once

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "mw/interface.h"
#include "mw/multicore.h"
#include "mw/simulator.h"
// The optional parts this build has (MWKIT_WITH_* come with their libraries).
#ifdef MWKIT_WITH_BOINC
#include "mw/boinc/local.h"
#endif
#ifdef MWKIT_WITH_CONDOR
#include "mw/condor.h"
#endif
#ifdef MWKIT_WITH_MPI
#include "mw/mpi.h"
#endif

namespace examples {

// "multicore" (default), "mpi" (N worker ranks under mpirun, oversubscribed so
// the examples run on small machines), "simulator" (N identical workers, the
// task's CPU estimate as its cost) or "boinc" (mw::boinc::Local: the BOINC
// project found as BOINC finds it — $BOINC_PROJECT_DIR, or the current
// directory — with mwkit installed by mw-project-setup) or "condor" (mw::Condor:
// each task a job of this host's HTCondor pool; $MW_CONDOR_SUBMIT, $MW_CONDOR_RM
// and $MW_CONDOR_RELEASE name other condor_submit/condor_rm/condor_release
// programs — the tests point them at the test double).
// The interfaces this build has, for help texts and errors.
inline std::string available_interfaces() {
  std::string names = "multicore, simulator";
#ifdef MWKIT_WITH_MPI
  names += ", mpi";
#endif
#ifdef MWKIT_WITH_CONDOR
  names += ", condor";
#endif
#ifdef MWKIT_WITH_BOINC
  names += ", boinc";
#endif
  return names;
}

inline std::unique_ptr<mw::Interface> choose_interface(const std::string& name, unsigned workers) {
  if (name == "multicore") return mw::Multicore{workers}.make_interface();
#ifdef MWKIT_WITH_MPI
  if (name == "mpi") {
    mw::Mpi mpi{workers ? workers : 2};
    mpi.oversubscribe = true;
#ifdef MW_MPI_WORKER_PATH
    if (mpi.mpi_worker.empty() && !std::getenv("MW_MPI_WORKER")) mpi.mpi_worker = MW_MPI_WORKER_PATH;
#endif
    return mpi.make_interface();
  }
#endif
  if (name == "simulator") {
    mw::Simulator sim;
    for (unsigned i = 0; i < (workers ? workers : 4); ++i)
      sim.workers.push_back({"sim-" + std::to_string(i + 1), 1.0, {}, 0.0});
    return sim.make_interface();
  }
#ifdef MWKIT_WITH_BOINC
  if (name == "boinc") return mw::boinc::Local{}.make_interface();
#endif
#ifdef MWKIT_WITH_CONDOR
  if (name == "condor") {
    mw::Condor condor;
    if (const char* p = std::getenv("MW_CONDOR_SUBMIT")) condor.condor_submit = p;
    if (const char* p = std::getenv("MW_CONDOR_RM")) condor.condor_rm = p;
    if (const char* p = std::getenv("MW_CONDOR_RELEASE")) condor.condor_release = p;
#ifdef MW_RUN_TASK_PATH
    if (!std::getenv("MW_RUN_TASK")) condor.run_task_program = MW_RUN_TASK_PATH;
#endif
    return condor.make_interface();
  }
#endif
  throw std::invalid_argument("unknown interface '" + name + "' (this build has: " + available_interfaces() + ")");
}

}  // namespace examples
