#include "mw/signing.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cerrno>

#include "mw/error.h"
#include "mw/hash.h"
#include "util/fs.h"
#include "util/openssl_pkey.h"
#include "util/pem_label.h"

namespace mw {
namespace {

constexpr std::string_view kSignatureTag = "mw-ed25519";
constexpr std::size_t kKeyIdHexDigits = 16;
constexpr std::uint64_t kMaxKeyFileBytes = 64 * 1024;

using detail::openssl_reason;
EVP_PKEY* raw(const std::shared_ptr<void>& p) { return detail::raw_pkey(p); }
std::shared_ptr<void> own(EVP_PKEY* key) { return detail::own_pkey(key); }

void require_ed25519(EVP_PKEY* key, const std::string& source) {
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    throw Error(Errc::signature, source + ": not an Ed25519 key (mwkit task keys are Ed25519)");
  }
}

std::string key_id_of(EVP_PKEY* key) {
  std::uint8_t pub[32];
  std::size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != sizeof pub)
    throw Error(Errc::signature, "cannot read the raw Ed25519 public key: " + openssl_reason());
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(pub), len))
      .substr(0, kKeyIdHexDigits);
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (hex_value(c) < 0) return false;
  return true;
}

}  // namespace

std::string Signature::to_text() const {
  return std::string(kSignatureTag) + " " + key_id + " " + to_hex(bytes.data(), bytes.size()) +
         "\n";
}

Signature Signature::parse(std::string_view text, const std::string& source) {
  auto fail = [&](const std::string& why) -> Signature {
    throw Error(Errc::signature, source + ": " + why);
  };
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos)
    return fail("expected one line '" + std::string(kSignatureTag) + " KEYID SIGNATURE'");
  auto sp1 = text.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : text.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || text.find(' ', sp2 + 1) != std::string_view::npos)
    return fail("expected three space-separated fields '" + std::string(kSignatureTag) +
                " KEYID SIGNATURE'");
  std::string_view tag = text.substr(0, sp1);
  std::string_view id = text.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view hex = text.substr(sp2 + 1);
  if (tag != kSignatureTag)
    return fail("unknown signature algorithm '" + std::string(tag) + "' (expected " +
                std::string(kSignatureTag) + ")");
  if (id.size() != kKeyIdHexDigits || !is_lower_hex(id))
    return fail("key id must be 16 lowercase hex digits, got '" + std::string(id) + "'");
  Signature sig;
  if (hex.size() != sig.bytes.size() * 2 || !is_lower_hex(hex))
    return fail("signature must be 128 lowercase hex digits");
  sig.key_id = std::string(id);
  for (std::size_t i = 0; i < sig.bytes.size(); ++i)
    sig.bytes[i] = static_cast<std::uint8_t>(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]));
  return sig;
}

PublicKey PublicKey::from_pem(std::string_view pem, const std::string& source) {
  if (detail::is_private_key_label(detail::pem_label(pem)))
    throw Error(Errc::signature, source + ": this is a private key; a public key is needed here");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) throw Error(Errc::signature, source + ": not a PEM public key: " + openssl_reason());
  require_ed25519(key, source);
  PublicKey pk;
  pk.key_id_ = key_id_of(key);
  pk.pkey_ = own(key);
  return pk;
}

PublicKey PublicKey::load_pem(const std::string& path) {
  return from_pem(detail::read_file(path, kMaxKeyFileBytes), path);
}

std::string PublicKey::to_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, raw(pkey_));
  std::string out = bio_to_string(bio);
  BIO_free(bio);
  return out;
}

bool PublicKey::verify(std::string_view message, const Signature& sig) const {
  if (sig.key_id != key_id_) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, raw(pkey_)) == 1 &&
            EVP_DigestVerify(ctx, sig.bytes.data(), sig.bytes.size(),
                             reinterpret_cast<const unsigned char*>(message.data()),
                             message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

PrivateKey PrivateKey::generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!key) throw Error(Errc::system, "cannot generate an Ed25519 key: " + openssl_reason());
  PrivateKey pk;
  pk.pkey_ = own(key);
  pk.key_id_ = key_id_of(key);
  return pk;
}

PrivateKey PrivateKey::from_pem(std::string_view pem, const std::string& source) {
  if (detail::is_public_key_label(detail::pem_label(pem)))
    throw Error(Errc::signature, source + ": this is a public key; the private key is needed here");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) throw Error(Errc::signature, source + ": not a PEM private key: " + openssl_reason());
  require_ed25519(key, source);
  PrivateKey pk;
  pk.pkey_ = own(key);
  pk.key_id_ = key_id_of(key);
  return pk;
}

PrivateKey PrivateKey::load_pem(const std::string& path) {
  return from_pem(detail::read_file(path, kMaxKeyFileBytes), path);
}

std::string PrivateKey::to_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, raw(pkey_), nullptr, nullptr, 0, nullptr, nullptr);
  std::string out = bio_to_string(bio);
  BIO_free(bio);
  return out;
}

PublicKey PrivateKey::public_key() const {
  std::uint8_t pub[32];
  std::size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(raw(pkey_), pub, &len) != 1)
    throw Error(Errc::signature, "cannot derive the public key: " + openssl_reason());
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub, len);
  if (!key) throw Error(Errc::signature, "cannot derive the public key: " + openssl_reason());
  PublicKey pk;
  pk.key_id_ = key_id_of(key);
  pk.pkey_ = own(key);
  return pk;
}

Signature PrivateKey::sign(std::string_view message) const {
  Signature sig;
  std::size_t len = sig.bytes.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, raw(pkey_)) == 1 &&
            EVP_DigestSign(ctx, sig.bytes.data(), &len,
                           reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len != sig.bytes.size())
    throw Error(Errc::signature, "Ed25519 signing failed: " + openssl_reason());
  sig.key_id = key_id_;
  return sig;
}

void write_key_pair(const PrivateKey& key, const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw Error(Errc::io, "cannot create key directory '" + dir + "': " +
                              detail::errno_text(errno));
  const std::string priv = detail::join_path(dir, "task_sign_private.pem");
  const std::string pub = detail::join_path(dir, "task_sign_public.pem");
  for (const auto& path : {priv, pub})
    if (detail::path_exists(path))
      throw Error(Errc::usage, "refusing to overwrite existing key file '" + path +
                                   "' (move it away first; replacing a task key invalidates "
                                   "every worker that trusts it)");
  detail::write_file_atomic(priv, key.to_pem(), 0600);
  detail::write_file_atomic(pub, key.public_key().to_pem(), 0644);
}

void verify_with_any(const std::vector<PublicKey>& trusted, std::string_view message,
                     const Signature& sig, const std::string& source) {
  for (const auto& key : trusted) {
    if (key.key_id() != sig.key_id) continue;
    if (key.verify(message, sig)) return;
    throw Error(Errc::signature, source + ": signature by key " + sig.key_id +
                                     " does not match the content (tampered or re-signed)");
  }
  throw Error(Errc::signature, source + ": signed by key " + sig.key_id +
                                   ", which is not among the " + std::to_string(trusted.size()) +
                                   " trusted key(s)");
}

}  // namespace mw
