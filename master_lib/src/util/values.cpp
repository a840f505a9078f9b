#include "mw/values.h"

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

}  // namespace mw::detail
