// See work_generator/remote_commands.h.
#include "remote_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "boinc/remote_rpc.h"
#include "interfaces/boinc_common.h"
#include "mw/boinc/remote.h"
#include "mw/error.h"
#include "mw/log.h"
#include "mw/hash.h"
#include "tool_common.h"
#include "util/fs.h"

namespace mw::work_generator {
namespace {

using boinc::detail::RpcClient;

RpcClient connect(const RemoteCommon& c) {
  boinc::detail::HttpOptions http;
  http.ca_file = c.ca_file;
  return RpcClient(c.url, boinc::read_authenticator(c.auth_file, "MW_BOINC_AUTHENTICATOR"), http);
}

boinc::detail::BatchRef batch_ref(const RemoteCommon& c) { return boinc::detail::BatchRef::parse(c.batch); }

void warn(const std::string& line) { mw::log(mw::LogLevel::warning, "mw-work-generator: " + line); }

// The first line of a .error written for a fetch that failed: such a job is
// tried again by the next fetch (the output may still be there).
constexpr const char* kFetchFailed = "fetch failed: ";

}  // namespace

int remote_submit(const RemoteCommon& c, const boinc::WorkunitSettings& settings,
                  const std::vector<std::string>& bundles) {
  boinc::check_workunit_settings(settings, "(command line)");
  std::vector<std::string> names;
  std::map<std::string, std::string> path_of;
  for (const auto& b : bundles) {
    if (b.size() < 4 || b.compare(b.size() - 4, 4, ".zip") != 0)
      throw Error(Errc::usage, "'" + b + "': with --remote, tasks are signed task bundles (.zip)");
    const std::string name = "mwt_" + sha256_file_hex(b);
    if (path_of.emplace(name, b).second) names.push_back(name);
  }
  RpcClient rpc = connect(c);
  // BOINC finds a batch by name as the first row with that name: a second
  // batch of the same name could be neither followed by name nor told apart
  // from the first after a failed submission.
  if (const auto taken = boinc::detail::find_batch(rpc, c.batch))
    throw Error(Errc::usage, "the server has a batch named '" + c.batch + "' already (batch " +
                                 std::to_string(taken->id) + ", " + boinc::detail::batch_state_name(taken->state) +
                                 "); choose another --batch");
  auto bytes_of = [&](const std::string& n) { return mw::detail::read_file(path_of.at(n)); };
  // Staged before the batch exists, with a lease (remote_rpc.h): a server or
  // user that cannot stage fails here, leaving nothing behind.
  std::size_t uploaded = boinc::detail::stage_files(rpc, names, bytes_of, 0, boinc::detail::staging_lease_end());
  const std::string stem = boinc::detail::job_name_stem(c.batch) + "_";
  std::vector<boinc::detail::RemoteJob> jobs;
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    boinc::detail::RemoteJob job;
    job.name = stem + std::to_string(i);
    job.files.push_back({"local_staged", "mwt_" + sha256_file_hex(bundles[i])});
    jobs.push_back(std::move(job));
  }
  std::int64_t id = 0;
  try {
    bool workaround = false;
    id = boinc::detail::submit_new_batch(rpc, c.batch, c.app, settings, jobs, workaround, warn);
  } catch (const boinc::detail::RpcError&) {
    throw;  // refused: submit_new_batch retired the batch if the server had made it
  } catch (const Error&) {
    // No answer: this command reports a failure, so a batch the server made
    // anyway must not stay (its jobs are cancelled with it).
    boinc::detail::discard_batch_named(rpc, c.batch, warn);
    throw;
  }
  // Ties the files to the batch; its jobs exist already, so a failure is told, not fatal.
  try {
    uploaded += boinc::detail::stage_files(rpc, names, bytes_of, id);
  } catch (const Error& e) {
    warn("warning: the files of batch " + std::to_string(id) +
         " could not be tied to it (they are kept until their staging lease ends): " + e.what());
  }
  std::cerr << "mw-work-generator: " << jobs.size() << " job(s) submitted in batch " << id << " ('" << c.batch
            << "'), " << uploaded << " file(s) uploaded\n";
  std::cout << id << "\n";
  return tools::kExitOk;
}

int remote_status(const RemoteCommon& c) {
  RpcClient rpc = connect(c);
  const auto st = rpc.query_batch(batch_ref(c));
  std::cout << "batch " << st.id << " '" << st.name << "': " << boinc::detail::batch_state_name(st.state) << "\n"
            << "jobs: " << st.njobs << " (unsent " << st.count("queued") << ", in progress "
            << st.count("in_progress") << ", done " << st.count("done") << ", errors " << st.count("error")
            << "), fraction done " << st.fraction_done << "\n";
  return tools::kExitOk;
}

int remote_cancel(const RemoteCommon& c) {
  RpcClient rpc = connect(c);
  rpc.abort_batch(batch_ref(c));
  std::cout << "aborted " << batch_ref(c).describe() << "\n";
  return tools::kExitOk;
}

int remote_retire(const RemoteCommon& c) {
  RpcClient rpc = connect(c);
  rpc.retire_batch(batch_ref(c));
  std::cout << "retired " << batch_ref(c).describe() << "\n";
  return tools::kExitOk;
}

int remote_fetch(const RemoteCommon& c, const std::string& out_dir, bool keep) {
  RpcClient rpc = connect(c);
  if (::mkdir(out_dir.c_str(), 0775) != 0 && errno != EEXIST)
    throw Error(Errc::io, "cannot create '" + out_dir + "': " + mw::detail::errno_text(errno));
  const auto st = rpc.query_batch(batch_ref(c));
  std::size_t fetched = 0, gave_up = 0, failed = 0, waiting = 0, errors_in_dir = 0, settled = 0;
  for (const auto& j : st.jobs) {
    const std::string result = out_dir + "/" + j.name + ".result";
    const std::string error = out_dir + "/" + j.name + ".error";
    if (mw::detail::path_exists(result)) {
      ++settled;
      continue;  // fetched before
    }
    if (mw::detail::path_exists(error) &&
        mw::detail::read_file(error, 4096).compare(0, std::strlen(kFetchFailed), kFetchFailed) != 0) {
      ++settled;
      ++errors_in_dir;
      continue;  // BOINC gave up on it before
    }
    if (j.status == "done") {
      try {
        mw::detail::write_file_atomic(result, rpc.job_output(j));
        ::unlink(error.c_str());  // a fetch that failed before
        ++fetched;
        ++settled;
      } catch (const Error& e) {
        // One output that cannot be had does not keep the others back.
        mw::detail::write_file_atomic(error, std::string(kFetchFailed) + e.what() + "\n");
        warn("job " + j.name + ": " + e.what());
        ++failed;
        ++errors_in_dir;
      }
    } else if (j.status == "error") {
      // The server's account of why, when it gives one.
      std::string why;
      try {
        why = rpc.query_completed_job(j.name).describe();
      } catch (const Error& e) {
        why = std::string("no valid result; query_completed_job: ") + e.what();
      }
      mw::detail::write_file_atomic(error, "BOINC gave up on job " + j.name + ": " + why + "\n");
      ++gave_up;
      ++settled;
      ++errors_in_dir;
    } else {
      ++waiting;
    }
  }
  // Every job has its file: the server's copies are no longer needed.
  bool retired = false;
  if (!keep && waiting == 0 && failed == 0 && settled == st.jobs.size() && !st.jobs.empty()) {
    try {
      rpc.retire_batch(st.id);
      retired = true;
    } catch (const Error& e) {
      warn("could not retire batch " + std::to_string(st.id) + ": " + e.what());
    }
  }
  std::cout << "fetched " << fetched << " result(s), " << gave_up << " error(s), " << failed
            << " failed to fetch, " << waiting << " not finished, into " << out_dir
            << (retired ? "; batch " + std::to_string(st.id) + " retired" : std::string()) << "\n";
  return errors_in_dir > 0 ? tools::kExitFailed : tools::kExitOk;
}

}  // namespace mw::work_generator
