// Internal: the small OpenSSL glue the key classes share (mw/signing.h,
// mw/boinc/code_signing.h keep their EVP_PKEY behind a shared_ptr<void> so
// their users need no OpenSSL headers).
#pragma once

#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

namespace mw::detail {

// The oldest queued OpenSSL error as text (and the queue cleared).
inline std::string openssl_reason() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

inline EVP_PKEY* raw_pkey(const std::shared_ptr<void>& p) { return static_cast<EVP_PKEY*>(p.get()); }

inline std::shared_ptr<void> own_pkey(EVP_PKEY* key) {
  return std::shared_ptr<void>(key, [](void* k) { EVP_PKEY_free(static_cast<EVP_PKEY*>(k)); });
}

}  // namespace mw::detail
