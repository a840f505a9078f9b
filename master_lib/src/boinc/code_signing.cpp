#include "mw/boinc/code_signing.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "mw/boinc/md5_info.h"
#include "mw/error.h"
#include "mw/hash.h"
#include "util/fs.h"
#include "util/openssl_pkey.h"

namespace mw::boinc {
namespace {

constexpr std::size_t kModulusBytes = 128;  // BOINC's MAX_RSA_MODULUS_LEN
constexpr std::size_t kPrimeBytes = 64;     // BOINC's MAX_RSA_PRIME_LEN
constexpr std::size_t kPublicBytes = 2 * kModulusBytes;
constexpr std::size_t kPrivateBytes = 3 * kModulusBytes + 5 * kPrimeBytes;
constexpr std::size_t kHexBytesPerLine = 32;
constexpr std::uint64_t kMaxKeyFileBytes = 64 * 1024;

using Bytes = std::vector<unsigned char>;

using detail::openssl_reason;
EVP_PKEY* raw(const std::shared_ptr<void>& p) { return detail::raw_pkey(p); }
std::shared_ptr<void> own(EVP_PKEY* key) { return detail::own_pkey(key); }

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

// BOINC's print_hex_data: 32 bytes per line, a partial last line, then ".".
std::string hex_block(const Bytes& data) {
  std::string out;
  for (std::size_t i = 0; i < data.size(); i += kHexBytesPerLine) {
    std::size_t n = std::min(kHexBytesPerLine, data.size() - i);
    out += to_hex(data.data() + i, n);
    out += '\n';
  }
  out += ".\n";
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads hex lines up to a line "." (blank characters around lines ignored).
// Returns the bytes; `rest` receives what follows the "." line.
Bytes parse_hex_block(std::string_view text, const std::string& source, const char* what,
                      int first_line) {
  Bytes out;
  int line_no = first_line;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line == ".") {
      for (char c : text.substr(end < text.size() ? end + 1 : end))
        if (!std::isspace(static_cast<unsigned char>(c)))
          throw Error(Errc::format, source + ": line " + std::to_string(line_no + 1) +
                                        ": text after the terminating \".\" of the " + what);
      return out;
    }
    if (line.size() % 2 != 0)
      throw Error(Errc::format, source + ": line " + std::to_string(line_no) +
                                    ": odd number of hex digits in the " + what);
    for (std::size_t i = 0; i < line.size(); i += 2) {
      int hi = hex_digit(line[i]), lo = hex_digit(line[i + 1]);
      if (hi < 0 || lo < 0)
        throw Error(Errc::format, source + ": line " + std::to_string(line_no) +
                                      ": not a hex digit in the " + what + ": '" +
                                      std::string(line.substr(i, 2)) + "'");
      out.push_back(static_cast<unsigned char>(hi * 16 + lo));
    }
    pos = end + 1;
    ++line_no;
  }
  throw Error(Errc::format, source + ": the " + what + " does not end with a line \".\"");
}

struct KeyText {
  int bits = 0;
  Bytes body;
};

KeyText parse_key_text(std::string_view text, const std::string& source, std::size_t body_bytes) {
  std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos)
    throw Error(Errc::format, source + ": not a BOINC key file (no line break after the bits line)");
  std::string first(text.substr(0, nl));
  while (!first.empty() && std::isspace(static_cast<unsigned char>(first.back()))) first.pop_back();
  char* end = nullptr;
  errno = 0;
  long bits = std::strtol(first.c_str(), &end, 10);
  if (first.empty() || *end != '\0' || errno != 0 || bits < 512 ||
      bits > static_cast<long>(kModulusBytes * 8))
    throw Error(Errc::format, source + ": line 1: expected the key size in bits (512..1024), got '" +
                                  first + "'");
  KeyText key;
  key.bits = static_cast<int>(bits);
  key.body = parse_hex_block(text.substr(nl + 1), source, "key", 2);
  if (key.body.size() != body_bytes)
    throw Error(Errc::format, source + ": the key holds " + std::to_string(key.body.size()) +
                                  " bytes; a BOINC " +
                                  (body_bytes == kPublicBytes ? "public" : "private") +
                                  " key file holds " + std::to_string(body_bytes));
  return key;
}

Bn bn_from(const Bytes& body, std::size_t offset, std::size_t len) {
  BIGNUM* b = BN_bin2bn(body.data() + offset, static_cast<int>(len), nullptr);
  if (b == nullptr) throw Error(Errc::system, "OpenSSL BN_bin2bn failed: " + openssl_reason());
  return Bn(b);
}

void put_bn(Bytes& out, EVP_PKEY* key, const char* param, std::size_t len) {
  BIGNUM* b = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &b) != 1)
    throw Error(Errc::signature, std::string("RSA key lacks ") + param + ": " + openssl_reason());
  Bn owned(b);
  std::size_t at = out.size();
  out.resize(at + len);
  if (BN_bn2binpad(b, out.data() + at, static_cast<int>(len)) < 0)
    throw Error(Errc::signature, std::string("RSA ") + param + " does not fit BOINC's " +
                                     std::to_string(len) + "-byte field");
}

std::shared_ptr<void> key_from_params(const std::vector<std::pair<const char*, const BIGNUM*>>& ps,
                                      int selection, const std::string& source) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) throw Error(Errc::system, "OpenSSL: out of memory");
  for (const auto& [name, bn] : ps) OSSL_PARAM_BLD_push_BN(bld, name, bn);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  bool ok = params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, selection, params) == 1;
  OSSL_PARAM_free(params);
  EVP_PKEY_CTX_free(ctx);
  if (!ok) throw Error(Errc::format, source + ": not a usable RSA key: " + openssl_reason());
  return own(pkey);
}

bool is_md5_hex(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

// ---- public key ----

CodeSignPublicKey CodeSignPublicKey::parse(std::string_view text, const std::string& source) {
  KeyText kt = parse_key_text(text, source, kPublicBytes);
  Bn n = bn_from(kt.body, 0, kModulusBytes), e = bn_from(kt.body, kModulusBytes, kModulusBytes);
  if (BN_is_zero(n.get()) || BN_is_zero(e.get()))
    throw Error(Errc::format, source + ": the key's modulus or exponent is zero");
  CodeSignPublicKey key;
  key.pkey_ = key_from_params({{OSSL_PKEY_PARAM_RSA_N, n.get()}, {OSSL_PKEY_PARAM_RSA_E, e.get()}},
                              EVP_PKEY_PUBLIC_KEY, source);
  key.bits_ = kt.bits;
  return key;
}

CodeSignPublicKey CodeSignPublicKey::load(const std::string& path) {
  return parse(detail::read_file(path, kMaxKeyFileBytes), path);
}

std::string CodeSignPublicKey::to_text() const {
  Bytes body;
  put_bn(body, raw(pkey_), OSSL_PKEY_PARAM_RSA_N, kModulusBytes);
  put_bn(body, raw(pkey_), OSSL_PKEY_PARAM_RSA_E, kModulusBytes);
  return std::to_string(bits_) + "\n" + hex_block(body);
}

bool CodeSignPublicKey::verify_md5(const std::string& md5_hex,
                                   std::string_view signature_text) const {
  Bytes sig;
  try {
    sig = parse_hex_block(signature_text, "signature", "signature", 1);
  } catch (const Error&) {
    return false;
  }
  if (sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(raw(pkey_)))) return false;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(raw(pkey_), nullptr);
  unsigned char out[kModulusBytes];
  std::size_t out_len = sizeof out;
  bool ok = ctx != nullptr && EVP_PKEY_verify_recover_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_verify_recover(ctx, out, &out_len, sig.data(), sig.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  return ok && std::string_view(reinterpret_cast<const char*>(out), out_len) == md5_hex;
}

bool CodeSignPublicKey::verify_file(const std::string& path,
                                    std::string_view signature_text) const {
  return verify_md5(file_md5_hex(path), signature_text);
}

// ---- private key ----

CodeSignPrivateKey CodeSignPrivateKey::generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(kCodeSignKeyBits));
  if (pkey == nullptr) throw Error(Errc::system, "OpenSSL could not make an RSA key: " + openssl_reason());
  CodeSignPrivateKey key;
  key.pkey_ = own(pkey);
  key.bits_ = kCodeSignKeyBits;
  return key;
}

CodeSignPrivateKey CodeSignPrivateKey::parse(std::string_view text, const std::string& source) {
  KeyText kt = parse_key_text(text, source, kPrivateBytes);
  std::size_t at = 0;
  auto next = [&](std::size_t len) {
    Bn b = bn_from(kt.body, at, len);
    at += len;
    return b;
  };
  Bn n = next(kModulusBytes), e = next(kModulusBytes), d = next(kModulusBytes);
  Bn p = next(kPrimeBytes), q = next(kPrimeBytes), dp = next(kPrimeBytes), dq = next(kPrimeBytes),
     qinv = next(kPrimeBytes);
  if (BN_is_zero(n.get()) || BN_is_zero(e.get()) || BN_is_zero(d.get()))
    throw Error(Errc::format, source + ": the key's modulus or an exponent is zero");
  CodeSignPrivateKey key;
  key.pkey_ = key_from_params({{OSSL_PKEY_PARAM_RSA_N, n.get()},
                               {OSSL_PKEY_PARAM_RSA_E, e.get()},
                               {OSSL_PKEY_PARAM_RSA_D, d.get()},
                               {OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()},
                               {OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()},
                               {OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()},
                               {OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()},
                               {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get()}},
                              EVP_PKEY_KEYPAIR, source);
  key.bits_ = kt.bits;
  return key;
}

CodeSignPrivateKey CodeSignPrivateKey::load(const std::string& path) {
  return parse(detail::read_file(path, kMaxKeyFileBytes), path);
}

std::string CodeSignPrivateKey::to_text() const {
  Bytes body;
  EVP_PKEY* k = raw(pkey_);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_N, kModulusBytes);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_E, kModulusBytes);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_D, kModulusBytes);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_FACTOR1, kPrimeBytes);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_FACTOR2, kPrimeBytes);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_EXPONENT1, kPrimeBytes);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_EXPONENT2, kPrimeBytes);
  put_bn(body, k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, kPrimeBytes);
  std::string text = std::to_string(bits_) + "\n" + hex_block(body);
  OPENSSL_cleanse(body.data(), body.size());
  return text;
}

CodeSignPublicKey CodeSignPrivateKey::public_key() const {
  Bytes body;
  put_bn(body, raw(pkey_), OSSL_PKEY_PARAM_RSA_N, kModulusBytes);
  put_bn(body, raw(pkey_), OSSL_PKEY_PARAM_RSA_E, kModulusBytes);
  return CodeSignPublicKey::parse(std::to_string(bits_) + "\n" + hex_block(body), "public part");
}

std::string CodeSignPrivateKey::sign_md5(const std::string& md5_hex) const {
  if (!is_md5_hex(md5_hex))
    throw Error(Errc::usage, "code signing: '" + md5_hex + "' is not a 32-digit lowercase MD5");
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(raw(pkey_), nullptr);
  Bytes sig(static_cast<std::size_t>(EVP_PKEY_get_size(raw(pkey_))));
  std::size_t sig_len = sig.size();
  bool ok = ctx != nullptr && EVP_PKEY_sign_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_sign(ctx, sig.data(), &sig_len,
                          reinterpret_cast<const unsigned char*>(md5_hex.data()),
                          md5_hex.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) throw Error(Errc::signature, "RSA signing failed: " + openssl_reason());
  sig.resize(sig_len);
  return hex_block(sig);
}

std::string CodeSignPrivateKey::sign_file(const std::string& path) const {
  return sign_md5(file_md5_hex(path));
}

void write_code_sign_keys(const CodeSignPrivateKey& key, const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw Error(Errc::io, "cannot create key directory " + dir + ": " + detail::errno_text(errno));
  std::string priv = detail::join_path(dir, kCodeSignPrivateFile);
  std::string pub = detail::join_path(dir, kCodeSignPublicFile);
  for (const auto& p : {priv, pub})
    if (detail::path_exists(p))
      throw Error(Errc::usage, p + " exists; refusing to replace a code-signing key (clients "
                                   "attached with the old key would reject every new file)");
  detail::write_file_atomic(priv, key.to_text(), 0600);
  detail::write_file_atomic(pub, key.public_key().to_text(), 0644);
}

std::string file_md5_hex(const std::string& path) {
  return md5_file(path).md5;
}

}  // namespace mw::boinc
