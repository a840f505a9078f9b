#include "mw/boinc/inline_task.h"

#include <openssl/evp.h>

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

std::string encode_inline_task(std::string_view bundle) {
  std::string text(4 * ((bundle.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                reinterpret_cast<const unsigned char*>(bundle.data()),
                                static_cast<int>(bundle.size()));
  text.resize(static_cast<std::size_t>(n));
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
