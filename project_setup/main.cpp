// mw-project-setup — install mwkit into an existing BOINC project, check it, remove it.
//
//   mw-project-setup install   --project DIR [--app mw] [--deliver DIR] [--programs-dir DIR]
//                              [--wrapper PATH | --wrapper-dir DIR] [--platform P]...
//                              [--platform-wrapper P=FILE [--platform-root P=DIR]]...
//                              [--signatures DIR] [--task-pub FILE]... [--task-key FILE]
//                              [--replication | --min-quorum N] [--replace-task-keys] [--move-deliver]
//                              [--start-timeout S] [--dry-run]
//   mw-project-setup check     --project DIR [same options]     exit 0 installed and running, 1 not
//   mw-project-setup uninstall --project DIR [--app mw] [--dry-run]
// What install decided is recorded in PROJECT/mw_install.xml; options not given
// later are taken from there.
// See docs/operator-guide.md.
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

#include "mw/error.h"
#include "setup.h"
#include "tool_common.h"

namespace {

using namespace mw::tools;

int project_setup_main(int argc, char** argv) {
  mw::setup::SetupOptions o;
  CLI::App app{"Install mwkit into a BOINC project made with make_project", "mw-project-setup"};
  mw::cli::set_up(app);
  app.require_subcommand(1);
  bool no_boinc_libs = false;
  std::vector<std::string> platform_wrappers, platform_roots;

  auto common = [&](CLI::App* cmd, bool full) {
    cmd->add_option("--project", o.project, "The BOINC project directory (holds config.xml)")->required();
    cmd->add_option("--app", o.app, "App name (default: the only recorded app, else mw)");
    cmd->add_flag("--dry-run", o.dry_run, "Print the exact changes and make none");
    if (!full) return;
    cmd->add_option("--deliver", o.deliver,
                    "mw-assimilator's delivery directory (default: recorded, else PROJECT/mw_deliver)");
    cmd->add_flag("--move-deliver", o.move_deliver, "Allow --deliver to differ from the recorded directory");
    cmd->add_option("--programs-dir", o.programs_dir,
                    "Where mw-validator, mw-assimilator (and mw-work-generator) are, to copy into PROJECT/bin "
                    "(default: beside mw-project-setup, or its build tree)");
    auto* w = cmd->add_option("--wrapper", o.wrapper,
                              "mw-wrapper for this host's platform (default: beside mw-project-setup, or its "
                              "build tree)");
    auto* wd = cmd->add_option("--wrapper-dir", o.wrapper_dir,
                               "DIR/<platform>/mw-wrapper (and lib*.so* beside it) per platform");
    w->excludes(wd);
    cmd->add_option("--platform", o.platforms,
                    "BOINC platform; repeat for several (default: this host's and each --platform-wrapper's)");
    cmd->add_option("--platform-wrapper", platform_wrappers,
                    "PLATFORM=FILE: mw-wrapper built for another platform (the aarch64 cross build's; "
                    "docs/wrapper.md), recorded")
        ->excludes(wd);
    cmd->add_option("--platform-root", platform_roots,
                    "PLATFORM=DIR: root (an arm64 Debian root) whose library directories hold what that "
                    "wrapper needs beyond glibc, recorded");
    cmd->add_option("--signatures", o.signatures,
                    "Directory of NAME.sig files made offline (instead of keys/code_sign_private)");
    cmd->add_option("--task-pub", o.task_pubs,
                    "Task-signing public key (PEM) volunteers will trust; repeat for several")
        ->check(CLI::ExistingFile);
    cmd->add_option("--task-key", o.task_key,
                    "The private key masters sign tasks with, recorded for them (with --task-pub)")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--replace-task-keys", o.replace_task_keys,
                  "Allow --task-pub to drop a recorded trusted key (tasks signed with it stop running)");
    cmd->add_option("--boinc-lib", o.boinc_libs,
                    "Shared library shipped with this host's wrapper (default: every library it needs beyond "
                    "glibc, found in this machine's library directories)");
    cmd->add_flag("--no-boinc-libs", no_boinc_libs,
                  "Ship only the --boinc-lib files (none: a statically linked wrapper); refuse a wrapper "
                  "that needs more");
    cmd->add_option("--api-version", o.api_version, "BOINC API version written into the app version")
        ->capture_default_str();
    cmd->add_flag("--replication", o.replication,
                  "The app will use min_quorum >= 2 (default quorum 2): one host never gets two replicas");
    cmd->add_option("--min-quorum", o.min_quorum,
                    "Default quorum of the app's workunits, recorded for mw-work-generator and masters")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--start-timeout", o.start_timeout,
                    "Seconds each daemon has to be running after bin/start")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  };
  auto* install = app.add_subcommand("install", "Install or update mwkit in the project");
  common(install, true);
  auto* check = app.add_subcommand("check", "Report present / missing / outdated pieces (exit 0/1)");
  common(check, true);
  auto* uninstall = app.add_subcommand(
      "uninstall", "Remove mwkit's daemons and deprecate its app versions (keeps all work and outputs)");
  common(uninstall, false);

  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;
  for (auto* cmd : {install, check, uninstall})
    if (*cmd && cmd->count("--app") > 0) o.app_given = true;
  o.resolve_libs = !no_boinc_libs;
  // PLATFORM=PATH, each platform once.
  auto by_platform = [](const std::vector<std::string>& given, const std::string& option) {
    std::map<std::string, std::string> m;
    for (const auto& g : given) {
      const auto eq = g.find('=');
      if (eq == 0 || eq == std::string::npos || eq + 1 == g.size())
        throw mw::Error(mw::Errc::usage, option + " " + g + ": expected PLATFORM=PATH");
      if (!m.emplace(g.substr(0, eq), g.substr(eq + 1)).second)
        throw mw::Error(mw::Errc::usage, option + " " + g + ": platform " + g.substr(0, eq) + " given twice");
    }
    return m;
  };
  o.platform_wrappers = by_platform(platform_wrappers, "--platform-wrapper");
  o.platform_roots = by_platform(platform_roots, "--platform-root");
  for (const auto& [platform, dir] : o.platform_roots)
    if (!o.platform_wrappers.count(platform))
      throw mw::Error(mw::Errc::usage, "--platform-root " + platform + "=" + dir + ": give --platform-wrapper " +
                                           platform + "=FILE too");
  if (*install) return mw::setup::install(o, std::cout);
  if (*check) return mw::setup::check(o, std::cout);
  return mw::setup::uninstall(o, std::cout);
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("mw-project-setup", [&] { return project_setup_main(argc, argv); });
}
