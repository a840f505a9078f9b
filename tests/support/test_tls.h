// A throwaway certificate authority for tests of TLS clients: a CA key and
// self-signed certificate, and server certificates it issues for given names.
// Keys are P-256 (quick to make); certificates are valid from an hour ago for
// a day. Everything is written as PEM files under a directory the caller
// owns (a ScratchDir), since servers and clients take file names.
#pragma once

#include <string>
#include <vector>

namespace mw::test {

struct TlsFiles {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key (unencrypted)
};

class TestCertificateAuthority {
 public:
  // Creates the CA ("mwkit test CA") and writes DIR/ca.pem and DIR/ca.key.
  explicit TestCertificateAuthority(const std::string& dir);
  ~TestCertificateAuthority();
  TestCertificateAuthority(const TestCertificateAuthority&) = delete;
  TestCertificateAuthority& operator=(const TestCertificateAuthority&) = delete;

  const std::string& ca_file() const { return ca_file_; }
  // A server certificate signed by this CA for `alt_names` — subjectAltName
  // entries such as "IP:127.0.0.1" or "DNS:localhost" — written as
  // DIR/<stem>.pem and DIR/<stem>.key.
  TlsFiles issue(const std::string& stem, const std::vector<std::string>& alt_names);

 private:
  std::string dir_, ca_file_;
  void* key_ = nullptr;   // EVP_PKEY*
  void* cert_ = nullptr;  // X509*
  long serial_ = 1;
};

}  // namespace mw::test
