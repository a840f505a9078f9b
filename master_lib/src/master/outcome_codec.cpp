// encode_outcome / decode_outcome (declared in master/journal.h).
//
// Encoding v1: one version byte (1), then in cereal's portable binary archive:
//   status (string, as to_string(ResultStatus)), reason, value,
//   outputs (size tag, then name/content pairs), stdout_text, stderr_tail,
//   exit_code and signal (u8 present flag, then i32 when present),
//   cpu_seconds, wall_seconds (double), worker.
// Strings use cereal's layout (u64 size tag, then the bytes).
//
// The status travels as its name, not its enum value, so reordering
// ResultStatus never changes what old journals mean.
//
// Decoding treats the bytes as untrusted (a damaged journal, a peer process):
// every length is checked against the bytes that remain before anything is
// allocated, so a corrupt size is an Errc::format error, not a huge allocation.
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>

#include <cstdint>
#include <sstream>
#include <string>

#include "master/journal.h"

namespace mw::detail {
namespace {

constexpr std::uint8_t kOutcomeEncodingVersion = 1;

using Out = cereal::PortableBinaryOutputArchive;
using In = cereal::PortableBinaryInputArchive;

void save_optional_int(Out& ar, const std::optional<int>& v) {
  const std::uint8_t present = v ? 1 : 0;
  ar(present);
  if (v) ar(static_cast<std::int32_t>(*v));
}

// Reads from an archive over a stream of known length, checking sizes first.
class Reader {
 public:
  Reader(std::istream& in, std::size_t total, const std::string& what)
      : in_(in), total_(total), what_(what), ar_(in) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(Errc::format, what_ + ": corrupt encoded outcome: " + why);
  }

  std::size_t remaining() const {
    const auto pos = in_.tellg();
    if (pos < 0) return 0;
    return total_ - static_cast<std::size_t>(pos);
  }

  template <typename T>
  T number() {
    T v{};
    ar_(v);
    return v;
  }

  std::uint64_t size_tag() {
    std::uint64_t size = 0;
    ar_(cereal::make_size_tag(size));
    return size;
  }

  std::string string(const char* field) {
    const std::uint64_t size = size_tag();
    if (size > remaining())
      fail(std::string(field) + " claims " + std::to_string(size) + " bytes but only " +
           std::to_string(remaining()) + " remain");
    std::string s(static_cast<std::size_t>(size), '\0');
    if (size > 0) ar_(cereal::binary_data(s.data(), s.size()));
    return s;
  }

  std::optional<int> optional_int(const char* field) {
    const auto present = number<std::uint8_t>();
    if (present > 1) fail(std::string(field) + " has a bad presence flag");
    if (!present) return std::nullopt;
    return number<std::int32_t>();
  }

 private:
  std::istream& in_;
  std::size_t total_;
  const std::string& what_;
  In ar_;
};

Outcome read_fields(Reader& r) {
  Outcome o;
  const std::string status = r.string("status");
  const auto parsed = parse_result_status(status);
  if (!parsed) r.fail("unknown result status '" + status + "'");
  o.status = *parsed;
  o.reason = r.string("reason");
  o.value = r.string("value");
  // Each entry holds at least two size tags, which bounds a corrupt count.
  const std::uint64_t outputs = r.size_tag();
  if (outputs > r.remaining() / 16) r.fail("output count " + std::to_string(outputs) + " is too large");
  for (std::uint64_t i = 0; i < outputs; ++i) {
    std::string name = r.string("output name");
    std::string content = r.string("output content");
    if (!o.outputs.emplace(std::move(name), std::move(content)).second)
      r.fail("duplicate output name");
  }
  o.stdout_text = r.string("stdout_text");
  o.stderr_tail = r.string("stderr_tail");
  o.exit_code = r.optional_int("exit_code");
  o.signal = r.optional_int("signal");
  o.cpu_seconds = r.number<double>();
  o.wall_seconds = r.number<double>();
  o.worker = r.string("worker");
  return o;
}

}  // namespace

std::string encode_outcome(const Outcome& o) {
  std::ostringstream out(std::ios::binary);
  out.put(static_cast<char>(kOutcomeEncodingVersion));
  {
    Out ar(out);
    ar(std::string(to_string(o.status)), o.reason, o.value);
    ar(cereal::make_size_tag(static_cast<std::uint64_t>(o.outputs.size())));
    for (const auto& [name, content] : o.outputs) ar(name, content);
    ar(o.stdout_text, o.stderr_tail);
    save_optional_int(ar, o.exit_code);
    save_optional_int(ar, o.signal);
    ar(o.cpu_seconds, o.wall_seconds, o.worker);
  }
  return std::move(out).str();
}

Outcome decode_outcome(std::string_view bytes, const std::string& what) {
  if (bytes.empty()) throw Error(Errc::format, what + ": empty encoded outcome");
  const auto version = static_cast<std::uint8_t>(bytes[0]);
  if (version != kOutcomeEncodingVersion)
    throw Error(Errc::format, what + ": outcome encoding version " + std::to_string(version) +
                                  " is not supported (this program knows " +
                                  std::to_string(kOutcomeEncodingVersion) + ")");
  std::istringstream in(std::string(bytes), std::ios::binary);
  in.get();  // the version byte
  Outcome o;
  try {
    Reader reader(in, bytes.size(), what);
    o = read_fields(reader);
  } catch (const cereal::Exception& e) {
    throw Error(Errc::format, what + ": truncated or corrupt encoded outcome (" + e.what() + ")");
  }
  if (in.peek() != std::char_traits<char>::eof())
    throw Error(Errc::format, what + ": bytes left over after the encoded outcome");
  return o;
}

}  // namespace mw::detail
