// mw-sign — make task-signing keys, sign bundles, verify them.
//
//   mw-sign keygen --out DIR            DIR/task_sign_private.pem (0600) + task_sign_public.pem
//   mw-sign sign BUNDLE --key KEY       adds or replaces task.sig
//   mw-sign verify BUNDLE --pub PUB...  exit 0 when a trusted key signed it and every file
//                                       matches its hash; exit 1 with the reason otherwise
//   mw-sign boinc-keygen --out DIR      DIR/code_sign_private (0600) + code_sign_public in
//                                       BOINC's key format, for new or test BOINC projects
#include <CLI/CLI.hpp>

#include <iostream>

#include "mw/boinc/code_signing.h"
#include "mw/bundle.h"
#include "mw/error.h"
#include "mw/signing.h"
#include "tool_common.h"

namespace {

using namespace mw::tools;

// The key writers refuse (Errc::usage) to replace a key that exists: a
// lost private key cannot be had back. That refusal is about --out, so it
// is a usage error here, worded by the library that knows why.
template <typename Write>
void write_keys(Write&& write) {
  try {
    write();
  } catch (const mw::Error& e) {
    if (e.code() == mw::Errc::usage) throw UsageError(std::string("--out: ") + e.what());
    throw;
  }
}

int cmd_keygen(const std::string& out) {
  auto key = mw::PrivateKey::generate();
  write_keys([&] { mw::write_key_pair(key, out); });
  std::cout << "wrote " << out << "/task_sign_private.pem (keep it secret) and " << out
            << "/task_sign_public.pem; key id " << key.public_key().key_id() << "\n";
  return kExitOk;
}

int cmd_boinc_keygen(const std::string& out) {
  write_keys([&] { mw::boinc::write_code_sign_keys(mw::boinc::CodeSignPrivateKey::generate(), out); });
  std::cout << "wrote " << out << "/code_sign_private (keep it offline) and " << out
            << "/code_sign_public (BOINC format, RSA 1024)\n";
  return kExitOk;
}

int cmd_sign(const std::string& bundle_path, const std::string& key_path) {
  auto key = load_private_key(key_path, "--key");
  mw::sign_bundle(bundle_path, key);
  std::cout << "signed " << bundle_path << " with key " << key.public_key().key_id() << "\n";
  return kExitOk;
}

int cmd_verify(const std::string& bundle_path, const std::vector<std::string>& pubs) {
  const std::vector<mw::PublicKey> trusted = load_public_keys(pubs, "--pub");
  try {
    auto bundle = mw::TaskBundle::open(bundle_path);
    bundle.verify_signature(trusted);
    bundle.verify_files();
    std::cout << bundle_path << ": OK, task '" << bundle.manifest().name << "' signed by key "
              << bundle.signature().key_id << ", " << bundle.manifest().files.size()
              << " file(s) match their hashes\n";
    return kExitOk;
  } catch (const mw::Error& e) {
    if (e.code() == mw::Errc::io) throw;
    std::cerr << "mw-sign: verification failed: " << e.what() << "\n";
    return kExitFailed;
  }
}

int mw_sign(int argc, char** argv) {
  CLI::App app{"Task-signing keys and signatures for mwkit task bundles", "mw-sign"};
  mw::cli::set_up(app);
  app.require_subcommand(1);

  std::string keygen_out;
  auto* keygen = app.add_subcommand("keygen", "Make a new Ed25519 task-signing key pair");
  keygen->add_option("--out", keygen_out, "Directory for the key files")->required();

  std::string sign_bundle_path, sign_key;
  auto* sign = app.add_subcommand("sign", "Sign a zip bundle's task.xml");
  sign->add_option("bundle", sign_bundle_path, "Task bundle (.zip)")->required();
  sign->add_option("--key", sign_key, "Private key (PEM)")->required()->check(CLI::ExistingFile);

  std::string verify_bundle_path;
  std::vector<std::string> verify_pubs;
  auto* verify = app.add_subcommand("verify", "Check a bundle's signature and file hashes");
  verify->add_option("bundle", verify_bundle_path, "Task bundle (.zip or directory)")->required();
  verify->add_option("--pub", verify_pubs, "Trusted public key (PEM); repeat for several")
      ->required()
      ->check(CLI::ExistingFile);

  std::string boinc_keygen_out;
  auto* boinc_keygen = app.add_subcommand(
      "boinc-keygen", "Make a BOINC code-signing key pair (never run this on a live project's keys/)");
  boinc_keygen->add_option("--out", boinc_keygen_out, "Directory for code_sign_private and code_sign_public")
      ->required();

  if (int code = mw::cli::parse(app, argc, argv); code >= 0) return code;
  if (*keygen) return cmd_keygen(keygen_out);
  if (*boinc_keygen) return cmd_boinc_keygen(boinc_keygen_out);
  if (*sign) return cmd_sign(sign_bundle_path, sign_key);
  return cmd_verify(verify_bundle_path, verify_pubs);
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("mw-sign", [&] { return mw_sign(argc, argv); });
}
