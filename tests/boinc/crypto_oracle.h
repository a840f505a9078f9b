// crypto_oracle.h — Debian libboinc_crypt 7.20.5 behind a plain C++ interface.
//
// The code-signing tests check mwkit's keys and signatures with BOINC's own
// crypto code. BOINC's crypt.h pulls in OpenSSL's deprecated RSA API, so it is
// included only in crypto_oracle.cpp.
#pragma once

#include <string>

namespace crypto_oracle {

struct Text {
  int rc = 0;        // BOINC's return code (0 = success)
  std::string text;  // what BOINC printed
};

// read_key_file(path) into an R_RSA_PRIVATE_KEY, printed back with print_key_hex.
Text read_private_key(const std::string& path);
// scan_key_hex of a public key file, printed back with print_key_hex.
Text read_public_key(const std::string& path);
// sign_file(file, read_key_file(private_key_path)), printed with print_hex_data
// (the bytes BOINC's sign_executable writes to a .sig file).
Text sign_file(const std::string& file, const std::string& private_key_path);

struct Check {
  int rc = 0;
  bool ok = false;
};
// check_file_signature(md5, scan_key_hex(public key file), scan_hex_data(signature)).
Check check_file_signature(const std::string& md5_hex, const std::string& public_key_path,
                           const std::string& signature_text);
// check_file_signature2(md5, signature text, key text) — the text form the
// scheduler and client use.
Check check_file_signature2(const std::string& md5_hex, const std::string& signature_text,
                            const std::string& public_key_text);

}  // namespace crypto_oracle
