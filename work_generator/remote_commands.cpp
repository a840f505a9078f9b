// See work_generator/remote_commands.h.
#include "remote_commands.h"

#include <sys/stat.h>

#include <iostream>

#include "boinc/remote_rpc.h"
#include "interfaces/boinc_common.h"
#include "mw/boinc/remote.h"
#include "mw/error.h"
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

std::int64_t batch_id(const RemoteCommon& c) {
  if (c.batch.empty() || c.batch.find_first_not_of("0123456789") != std::string::npos)
    throw Error(Errc::usage, "--batch must be the batch id (a number) with --remote, not '" + c.batch + "'");
  return std::stoll(c.batch);
}

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
  const std::int64_t id = rpc.create_batch(c.app, c.batch);
  const std::string stem = boinc::detail::workunit_stem(c.batch) + "_" + std::to_string(id) + "_";
  std::vector<boinc::detail::RemoteJob> jobs;
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    boinc::detail::RemoteJob job;
    job.name = stem + std::to_string(i);
    job.files.push_back({"local_staged", "mwt_" + sha256_file_hex(bundles[i])});
    jobs.push_back(std::move(job));
  }
  const std::size_t uploaded = boinc::detail::stage_files(
      rpc, names, [&](const std::string& n) { return mw::detail::read_file(path_of.at(n)); }, id);
  bool workaround = false;
  boinc::detail::submit_batch_tolerant(rpc, id, c.app, settings, jobs, workaround,
                                       [](const std::string& line) { std::cerr << "mw-work-generator: " << line << "\n"; });
  std::cerr << "mw-work-generator: " << jobs.size() << " job(s) submitted in batch " << id << " ('" << c.batch
            << "'), " << uploaded << " file(s) uploaded\n";
  std::cout << id << "\n";
  return tools::kExitOk;
}

int remote_status(const RemoteCommon& c) {
  RpcClient rpc = connect(c);
  const auto st = rpc.query_batch(batch_id(c));
  std::map<std::string, int> by_status;
  for (const auto& j : st.jobs) ++by_status[j.status];
  std::cout << "batch " << st.id << ": state " << st.state << ", fraction done " << st.fraction_done << "\n"
            << "jobs: " << st.njobs << " (errors " << st.nerror_jobs << ")";
  for (const auto& [status, n] : by_status) std::cout << ", " << status << " " << n;
  std::cout << "\n";
  return tools::kExitOk;
}

int remote_cancel(const RemoteCommon& c) {
  RpcClient rpc = connect(c);
  rpc.abort_batch(batch_id(c));
  std::cout << "aborted batch " << c.batch << "\n";
  return tools::kExitOk;
}

int remote_fetch(const RemoteCommon& c, const std::string& out_dir) {
  RpcClient rpc = connect(c);
  if (::mkdir(out_dir.c_str(), 0775) != 0 && errno != EEXIST)
    throw Error(Errc::io, "cannot create '" + out_dir + "': " + mw::detail::errno_text(errno));
  const auto st = rpc.query_batch(batch_id(c));
  std::size_t fetched = 0, errors = 0;
  for (const auto& j : st.jobs) {
    const std::string result = out_dir + "/" + j.name + ".result";
    const std::string error = out_dir + "/" + j.name + ".error";
    if (mw::detail::path_exists(result) || mw::detail::path_exists(error)) continue;  // fetched before
    if (j.status == "done") {
      mw::detail::write_file_atomic(result, rpc.workunit_file(j.name, 0));
      ++fetched;
    } else if (j.status == "error") {
      mw::detail::write_file_atomic(error, "BOINC gave up on job " + j.name + "\n");
      ++errors;
    }
  }
  std::cout << "fetched " << fetched << " result(s), " << errors << " error(s) into " << out_dir << "\n";
  return tools::kExitOk;
}

}  // namespace mw::work_generator
