#include "boinc/md5.h"

#include <openssl/evp.h>

#include "mw/error.h"
#include "mw/hash.h"

namespace mw::boinc::detail {

std::string md5_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_md5(), nullptr) != 1)
    throw Error(Errc::system, "OpenSSL could not compute an MD5 digest");
  return to_hex(digest, len);
}

}  // namespace mw::boinc::detail
