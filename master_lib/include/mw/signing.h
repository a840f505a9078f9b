// mw/signing.h — the master's task-signing key (Ed25519, OpenSSL 3 EVP).
//
// A task's signature covers the exact bytes of its task.xml; the manifest pins
// every other file by SHA-256, so one signature covers the whole task.
// Keys are stored as PEM (PKCS#8 private, SubjectPublicKeyInfo public), which
// `openssl pkey` reads too. A key id (the first 16 hex digits of the SHA-256
// of the raw 32-byte public key) lets a verifier holding several trusted keys
// pick the right one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mw {

// The detached signature as stored in task.sig: one line
//   "mw-ed25519 <key id, 16 hex> <signature, 128 hex>\n"
struct Signature {
  std::string key_id;
  std::array<std::uint8_t, 64> bytes{};

  std::string to_text() const;
  // Strict: throws Error(Errc::signature) naming `source` when malformed.
  static Signature parse(std::string_view text, const std::string& source = "task.sig");
};

class PublicKey {
 public:
  static PublicKey from_pem(std::string_view pem, const std::string& source = "<memory>");
  static PublicKey load_pem(const std::string& path);

  std::string to_pem() const;
  const std::string& key_id() const { return key_id_; }
  // True only when `sig` was made by this key over exactly `message`.
  bool verify(std::string_view message, const Signature& sig) const;

 private:
  PublicKey() = default;
  std::shared_ptr<void> pkey_;  // EVP_PKEY, kept opaque so users need no OpenSSL headers
  std::string key_id_;
  friend class PrivateKey;
};

class PrivateKey {
 public:
  static PrivateKey generate();
  static PrivateKey from_pem(std::string_view pem, const std::string& source = "<memory>");
  static PrivateKey load_pem(const std::string& path);

  std::string to_pem() const;
  PublicKey public_key() const;
  Signature sign(std::string_view message) const;

 private:
  PrivateKey() = default;
  std::shared_ptr<void> pkey_;
  std::string key_id_;  // its public key's id, named in every signature
};

// Writes DIR/task_sign_private.pem (mode 0600) and DIR/task_sign_public.pem.
// Creates DIR if needed; refuses (Errc::usage) to overwrite either file.
void write_key_pair(const PrivateKey& key, const std::string& dir);

// Finds the trusted key named by sig.key_id and checks the signature.
// Throws Error(Errc::signature) saying which: unknown key id, or bad signature.
void verify_with_any(const std::vector<PublicKey>& trusted, std::string_view message,
                     const Signature& sig, const std::string& source = "task.xml");

}  // namespace mw
