#include "mw/values.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace mw::detail {

void write_values_header(std::ostream& out, std::uint32_t count) {
  char header[5] = {static_cast<char>(kValueEncodingVersion), static_cast<char>(count & 0xff),
                    static_cast<char>((count >> 8) & 0xff), static_cast<char>((count >> 16) & 0xff),
                    static_cast<char>((count >> 24) & 0xff)};
  out.write(header, sizeof header);
}

std::uint32_t read_values_header(std::istream& in, const std::string& what) {
  unsigned char header[5];
  if (!in.read(reinterpret_cast<char*>(header), sizeof header))
    throw Error(Errc::format, what + ": too short to hold encoded values");
  if (header[0] != kValueEncodingVersion)
    throw Error(Errc::format, what + ": value encoding version " + std::to_string(header[0]) +
                                  " is not supported (this program knows " +
                                  std::to_string(kValueEncodingVersion) + ")");
  return static_cast<std::uint32_t>(header[1]) | (static_cast<std::uint32_t>(header[2]) << 8) |
         (static_cast<std::uint32_t>(header[3]) << 16) | (static_cast<std::uint32_t>(header[4]) << 24);
}

std::string type_name(const std::type_info& type) {
  // The fixed-width names people write, not what they alias on this platform
  // ("unsigned long" says nothing about the 8 bytes the encoding holds).
  struct Known {
    const std::type_info& type;
    const char* name;
  };
  static const Known known[] = {
      {typeid(bool), "bool"},
      {typeid(char), "char"},
      {typeid(std::int8_t), "std::int8_t"},
      {typeid(std::uint8_t), "std::uint8_t"},
      {typeid(std::int16_t), "std::int16_t"},
      {typeid(std::uint16_t), "std::uint16_t"},
      {typeid(std::int32_t), "std::int32_t (int)"},
      {typeid(std::uint32_t), "std::uint32_t"},
      {typeid(std::int64_t), "std::int64_t"},
      {typeid(std::uint64_t), "std::uint64_t"},
      {typeid(float), "float"},
      {typeid(double), "double"},
      {typeid(std::string), "std::string"},
  };
  for (const auto& k : known)
    if (k.type == type) return k.name;
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? demangled.get() : type.name();
}

}  // namespace mw::detail
