#include "mw/boinc/inline_task.h"

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>

#include "mw/error.h"

namespace mw::boinc {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

[[noreturn]] void malformed(const std::string& why) {
  throw Error(Errc::format, std::string("the task in the command line (") + kInlineTaskOption +
                                ") is not valid base64: " + why);
}

}  // namespace

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The two characters of every 12-bit group, so that three bytes take two
// look-ups: OpenSSL's EVP_EncodeBlock spent ~10 instructions a byte, a
// quarter of a 10^4-task inline submission's client instructions.
struct CharPairs {
  char at[4096][2] = {};
  constexpr CharPairs() {
    for (int i = 0; i < 4096; ++i) {
      at[i][0] = kAlphabet[i >> 6];
      at[i][1] = kAlphabet[i & 63];
    }
  }
};
constexpr CharPairs kCharPairs;

}  // namespace

std::string encode_inline_task(std::string_view bundle) {
  std::string text(4 * ((bundle.size() + 2) / 3), '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(bundle.data());
  char* out = text.data();
  std::size_t left = bundle.size();
  // Six bytes (two groups of three) from one 8-byte load while 8 remain.
  for (; left >= 8; left -= 6, in += 6, out += 8) {
    std::uint64_t w;
    std::memcpy(&w, in, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    std::memcpy(out, kCharPairs.at[w >> 52], 2);
    std::memcpy(out + 2, kCharPairs.at[(w >> 40) & 0xfff], 2);
    std::memcpy(out + 4, kCharPairs.at[(w >> 28) & 0xfff], 2);
    std::memcpy(out + 6, kCharPairs.at[(w >> 16) & 0xfff], 2);
  }
  for (; left >= 3; left -= 3, in += 3, out += 4) {
    const unsigned v = unsigned{in[0]} << 16 | unsigned{in[1]} << 8 | in[2];
    std::memcpy(out, kCharPairs.at[v >> 12], 2);
    std::memcpy(out + 2, kCharPairs.at[v & 0xfff], 2);
  }
  if (left > 0) {
    const unsigned v = unsigned{in[0]} << 16 | (left == 2 ? unsigned{in[1]} << 8 : 0u);
    out[0] = kAlphabet[v >> 18];
    out[1] = kAlphabet[(v >> 12) & 63];
    out[2] = left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out[3] = '=';
  }
  return text;
}

std::string decode_inline_task(std::string_view text) {
  if (text.empty()) malformed("it is empty");
  if (text.size() % 4 != 0)
    malformed("its length " + std::to_string(text.size()) + " is not a multiple of 4 (cut short?)");
  // EVP_DecodeBlock skips blanks and does not say how much padding it saw, so
  // the text is checked here first: the alphabet, then at most two '=' at the end.
  std::size_t padding = 0;
  if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < text.size() - padding; ++i)
    if (!in_alphabet(text[i]))
      malformed("character " + std::to_string(i + 1) + " is " +
                (text[i] == '=' ? std::string("'=' before the end") : "not in the base64 alphabet"));
  std::string bytes(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) malformed("OpenSSL could not decode it");
  bytes.resize(static_cast<std::size_t>(n) - padding);
  return bytes;
}

}  // namespace mw::boinc
