// Shared by the examples: the one line that picks a back end, from --interface.
#pragma once

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "mw/boinc/local.h"
#include "mw/condor.h"
#include "mw/interface.h"
#include "mw/mpi.h"
#include "mw/multicore.h"
#include "mw/simulator.h"

namespace examples {

// "multicore" (default), "mpi" (N worker ranks under mpirun, oversubscribed so
// the examples run on small machines), "simulator" (N identical workers, the
// task's CPU estimate as its cost) or "boinc" (mw::boinc::Local: the BOINC
// project found as BOINC finds it — $BOINC_PROJECT_DIR, or the current
// directory — with mwkit installed by mw-project-setup) or "condor" (mw::Condor:
// each task a job of this host's HTCondor pool; $MW_CONDOR_SUBMIT, $MW_CONDOR_RM
// and $MW_CONDOR_RELEASE name other condor_submit/condor_rm/condor_release
// programs — the tests point them at the test double).
inline std::unique_ptr<mw::Interface> choose_interface(const std::string& name, unsigned workers) {
  if (name == "multicore") return mw::Multicore{workers}.make_interface();
  if (name == "mpi") {
    mw::Mpi mpi{workers ? workers : 2};
    mpi.oversubscribe = true;
#ifdef MW_MPI_WORKER_PATH
    if (mpi.mpi_worker.empty() && !std::getenv("MW_MPI_WORKER")) mpi.mpi_worker = MW_MPI_WORKER_PATH;
#endif
    return mpi.make_interface();
  }
  if (name == "simulator") {
    mw::Simulator sim;
    for (unsigned i = 0; i < (workers ? workers : 4); ++i)
      sim.workers.push_back({"sim-" + std::to_string(i + 1), 1.0, {}, 0.0});
    return sim.make_interface();
  }
  if (name == "boinc") return mw::boinc::Local{}.make_interface();
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
  throw std::invalid_argument("unknown interface '" + name + "' (multicore, mpi, simulator, boinc, condor)");
}

}  // namespace examples
