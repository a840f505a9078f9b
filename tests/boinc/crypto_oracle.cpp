#include "boinc/crypto_oracle.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crypt.h"

namespace crypto_oracle {
namespace {

// Captures what a BOINC print function writes to a FILE*.
template <typename F>
std::string print_to_string(F&& print) {
  char* buf = nullptr;
  std::size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == nullptr) return "<open_memstream failed>";
  print(f);
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

}  // namespace

Text read_private_key(const std::string& path) {
  static R_RSA_PRIVATE_KEY key;
  std::memset(&key, 0, sizeof key);
  Text t;
  t.rc = read_key_file(path.c_str(), key);
  if (t.rc != 0) return t;
  t.text = print_to_string(
      [&](FILE* f) { print_key_hex(f, reinterpret_cast<KEY*>(&key), sizeof key); });
  return t;
}

Text read_public_key(const std::string& path) {
  R_RSA_PUBLIC_KEY key;
  std::memset(&key, 0, sizeof key);
  Text t;
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    t.rc = -1;
    return t;
  }
  t.rc = scan_key_hex(f, reinterpret_cast<KEY*>(&key), sizeof key);
  std::fclose(f);
  if (t.rc != 0) return t;
  t.text = print_to_string(
      [&](FILE* out) { print_key_hex(out, reinterpret_cast<KEY*>(&key), sizeof key); });
  return t;
}

Text sign_file(const std::string& file, const std::string& private_key_path) {
  static R_RSA_PRIVATE_KEY key;
  std::memset(&key, 0, sizeof key);
  Text t;
  t.rc = read_key_file(private_key_path.c_str(), key);
  if (t.rc != 0) return t;
  unsigned char buf[SIGNATURE_SIZE_BINARY];
  DATA_BLOCK sig{buf, sizeof buf};
  t.rc = ::sign_file(file.c_str(), key, sig);
  if (t.rc != 0) return t;
  t.text = print_to_string([&](FILE* f) { print_hex_data(f, sig); });
  return t;
}

Check check_file_signature(const std::string& md5_hex, const std::string& public_key_path,
                           const std::string& signature_text) {
  Check c;
  R_RSA_PUBLIC_KEY key;
  std::memset(&key, 0, sizeof key);
  FILE* kf = std::fopen(public_key_path.c_str(), "r");
  if (kf == nullptr) {
    c.rc = -1;
    return c;
  }
  c.rc = scan_key_hex(kf, reinterpret_cast<KEY*>(&key), sizeof key);
  std::fclose(kf);
  if (c.rc != 0) return c;
  std::vector<char> text(signature_text.begin(), signature_text.end());
  FILE* sf = fmemopen(text.data(), text.size(), "r");
  if (sf == nullptr) {
    c.rc = -1;
    return c;
  }
  unsigned char buf[SIGNATURE_SIZE_BINARY];
  DATA_BLOCK sig{buf, sizeof buf};
  c.rc = scan_hex_data(sf, sig);
  std::fclose(sf);
  if (c.rc != 0) return c;
  c.rc = ::check_file_signature(md5_hex.c_str(), key, sig, c.ok);
  return c;
}

Check check_file_signature2(const std::string& md5_hex, const std::string& signature_text,
                            const std::string& public_key_text) {
  Check c;
  c.rc = ::check_file_signature2(md5_hex.c_str(), signature_text.c_str(),
                                 public_key_text.c_str(), c.ok);
  return c;
}

}  // namespace crypto_oracle
