// mw/values.h — how typed arguments and results of function tasks become bytes.
//
// Encoding v1: one version byte (1), a 32-bit little-endian count of values,
// then each value in cereal's portable binary archive (fixed-width, endianness
// recorded and swapped on read), so a master on one machine and a worker on
// another agree. Any type cereal can serialize works: arithmetic types,
// std::string, std::vector, std::map, std::tuple, std::optional, ... and your
// own types with a serialize() member (see cereal's documentation).
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>

#include "mw/error.h"

namespace mw {

inline constexpr std::uint8_t kValueEncodingVersion = 1;

namespace detail {
void write_values_header(std::ostream& out, std::uint32_t count);
// Checks the header and returns the count; throws Error(Errc::format) naming `what`.
std::uint32_t read_values_header(std::istream& in, const std::string& what);
// A type's name for people: "std::uint64_t", "std::string", else the demangled name.
std::string type_name(const std::type_info& type);
}  // namespace detail

template <typename T>
std::string type_name() {
  return detail::type_name(typeid(T));
}

// Encodes a list of values.
template <typename... Ts>
std::string encode_values(const Ts&... values) {
  std::ostringstream out(std::ios::binary);
  detail::write_values_header(out, static_cast<std::uint32_t>(sizeof...(Ts)));
  {
    cereal::PortableBinaryOutputArchive archive(out);
    (archive(values), ...);
  }
  return std::move(out).str();
}

// Decodes exactly the values of `Tuple` (a std::tuple of value types).
// `what` names the data in errors, e.g. "arguments of function monte_pi".
template <typename Tuple>
Tuple decode_values(std::string_view bytes, const std::string& what) {
  std::istringstream in(std::string(bytes), std::ios::binary);
  const std::uint32_t count = detail::read_values_header(in, what);
  constexpr std::size_t expected = std::tuple_size_v<Tuple>;
  if (count != expected)
    throw Error(Errc::format, what + ": expected " + std::to_string(expected) + " value(s), got " +
                                  std::to_string(count));
  Tuple values;
  try {
    cereal::PortableBinaryInputArchive archive(in);
    std::apply([&](auto&... v) { (archive(v), ...); }, values);
  } catch (const cereal::Exception& e) {
    throw Error(Errc::format, what + ": the values do not decode as the expected types (" +
                                  e.what() + ")");
  }
  if (in.peek() != std::char_traits<char>::eof())
    throw Error(Errc::format, what + ": bytes left over after the expected values (a type mismatch)");
  return values;
}

// Decodes the arguments of function `function` (its parameter types, in
// order). Unlike decode_values, errors say which argument failed and what type
// it should have been: the encoding carries no types, so a wrong type shows up
// as too few or too many bytes, at the first parameter whose read goes wrong.
template <typename... Params>
std::tuple<Params...> decode_arguments(std::string_view bytes, const std::string& function) {
  static constexpr std::size_t n = sizeof...(Params);
  const std::string what = "arguments of function " + function;
  std::istringstream in(std::string(bytes), std::ios::binary);
  const std::uint32_t count = detail::read_values_header(in, what);
  const auto signature = [&] {
    std::string s = function + "(";
    std::size_t i = 0;
    ((s += (i++ ? ", " : "") + type_name<Params>()), ...);
    return s + ")";
  };
  if (count != n)
    throw Error(Errc::format, what + ": " + signature() + " takes " + std::to_string(n) +
                                  " argument(s), the task carries " + std::to_string(count));
  std::tuple<Params...> values;
  std::size_t position = 0;  // 1-based position of the argument being read
  std::string expected;
  try {
    cereal::PortableBinaryInputArchive archive(in);
    std::apply([&](auto&... v) {
      ((++position, expected = type_name<std::decay_t<decltype(v)>>(), archive(v)), ...);
    }, values);
  } catch (const cereal::Exception& e) {
    throw Error(Errc::format, what + ": argument " + std::to_string(position) + " of " +
                                  std::to_string(n) + " does not decode as " + expected + " (" +
                                  e.what() + "); " + signature() +
                                  " was sent an argument of another type at or before it");
  }
  if (in.peek() != std::char_traits<char>::eof())
    throw Error(Errc::format, what + ": bytes left over after the last argument: " + signature() +
                                  " was sent an argument of a wider type than its parameter");
  return values;
}

template <typename T>
T decode_value(std::string_view bytes, const std::string& what) {
  return std::get<0>(decode_values<std::tuple<T>>(bytes, what));
}

}  // namespace mw
