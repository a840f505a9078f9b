// util/pem_label.h — what a PEM text says it holds, before OpenSSL is asked.
//
// OpenSSL's reason for refusing a private key where a public one is expected
// is "DECODER routines::unsupported", which tells a person nothing; the label
// of the first "-----BEGIN LABEL-----" line tells what they gave instead.
#pragma once

#include <string>
#include <string_view>

namespace mw::detail {

// The label of the first "-----BEGIN LABEL-----" line ("PUBLIC KEY",
// "PRIVATE KEY", "RSA PRIVATE KEY", ...), or "" when there is none.
inline std::string pem_label(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  const auto at = pem.find(kBegin);
  if (at == std::string_view::npos) return "";
  const auto start = at + kBegin.size();
  const auto end = pem.find("-----", start);
  const auto line_end = pem.find('\n', start);
  if (end == std::string_view::npos || (line_end != std::string_view::npos && line_end < end)) return "";
  return std::string(pem.substr(start, end - start));
}

inline bool ends_with_label(const std::string& label, std::string_view what) {
  return label.size() >= what.size() && label.compare(label.size() - what.size(), what.size(), what) == 0;
}

// PEM labels of private keys end in "PRIVATE KEY" (PKCS#8, the "RSA"/"EC"
// forms, "ENCRYPTED PRIVATE KEY"); public keys in "PUBLIC KEY".
inline bool is_private_key_label(const std::string& label) { return ends_with_label(label, "PRIVATE KEY"); }
inline bool is_public_key_label(const std::string& label) { return ends_with_label(label, "PUBLIC KEY"); }

}  // namespace mw::detail
