// mw/boinc/code_signing.h — BOINC's code-signing keys and file signatures.
//
// A BOINC client runs an app-version file only when the project signed it
// with keys/code_sign_private and the signature checks out under the
// code_sign_public key the client received when it attached. mwkit writes
// those signatures itself (OpenSSL 3), in BOINC's formats, so that what it
// installs is accepted by real clients; the tests check every signature and
// key file with Debian's libboinc_crypt.
//
// Formats (BOINC lib/crypt.cpp, reference §6.4):
//   key file:  "<bits>\n", then the key as lowercase hex, 64 digits (32 bytes)
//              per line, then ".\n". Public = n ‖ e (128 bytes each, big
//              endian, left zero-padded); private = n ‖ e ‖ d (128 each) ‖ p ‖
//              q ‖ d mod (p−1) ‖ d mod (q−1) ‖ q⁻¹ mod p (64 each).
//   signature: RSA PKCS#1 v1.5 type-1 padding applied directly to the
//              32-character lowercase hex MD5 text of the file (no DigestInfo),
//              private-key operation, the 128 bytes as hex 64 digits/line, then
//              ".\n" — the content of a NAME.sig file and of <file_signature>.
// Only RSA keys of at most 1024 bits fit BOINC's fixed-size structures.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mw::boinc {

inline constexpr int kCodeSignKeyBits = 1024;

class CodeSignPublicKey {
 public:
  // Parses BOINC's public key file text; Error(Errc::format) naming `source`
  // and what is wrong (bits line, hex digit, length, terminating ".").
  static CodeSignPublicKey parse(std::string_view text, const std::string& source);
  static CodeSignPublicKey load(const std::string& path);  // Errc::io if unreadable

  std::string to_text() const;  // BOINC's key file text
  int bits() const { return bits_; }

  // True when `signature_text` (a .sig file's text) is this key's signature of
  // the 32-hex-digit MD5 text `md5_hex`. A malformed signature is false.
  bool verify_md5(const std::string& md5_hex, std::string_view signature_text) const;
  // The same for a file's bytes.
  bool verify_file(const std::string& path, std::string_view signature_text) const;

  bool operator==(const CodeSignPublicKey& other) const { return to_text() == other.to_text(); }

 private:
  CodeSignPublicKey() = default;
  std::shared_ptr<void> pkey_;  // EVP_PKEY
  int bits_ = 0;
  friend class CodeSignPrivateKey;
};

class CodeSignPrivateKey {
 public:
  // A new 1024-bit RSA key with public exponent 65537 (as BOINC's crypt_prog).
  static CodeSignPrivateKey generate();
  static CodeSignPrivateKey parse(std::string_view text, const std::string& source);
  static CodeSignPrivateKey load(const std::string& path);

  std::string to_text() const;
  CodeSignPublicKey public_key() const;

  // The signature text (.sig content) of a 32-hex-digit MD5 text.
  std::string sign_md5(const std::string& md5_hex) const;
  // The signature text of a file's bytes (Errc::io if unreadable).
  std::string sign_file(const std::string& path) const;

 private:
  CodeSignPrivateKey() = default;
  std::shared_ptr<void> pkey_;
  int bits_ = 0;
};

// File names BOINC's make_project gives the code-signing pair in keys/.
inline constexpr const char* kCodeSignPrivateFile = "code_sign_private";
inline constexpr const char* kCodeSignPublicFile = "code_sign_public";

// Writes DIR/code_sign_private (mode 0600) and DIR/code_sign_public, creating
// DIR if needed. Refuses (Errc::usage) when either file exists: replacing a
// live project's key cuts every attached client off (reference §6.4).
void write_code_sign_keys(const CodeSignPrivateKey& key, const std::string& dir);

// The 32-hex-digit MD5 of a file's bytes (what BOINC signs).
std::string file_md5_hex(const std::string& path);

}  // namespace mw::boinc
