// mw/hash.h — SHA-256, the hash that pins every file of a task and a result.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mw {

// Incremental SHA-256 (OpenSSL EVP underneath). Not copyable; movable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Ends the computation; the object may not be updated afterwards.
  std::array<std::uint8_t, 32> finish();
  std::string finish_hex();  // 64 lowercase hex digits

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
// Hashes a whole file; throws Error(Errc::io) naming the path when it cannot be read.
std::string sha256_file_hex(const std::string& path);

// Lowercase hex of raw bytes.
std::string to_hex(const std::uint8_t* data, std::size_t size);
// True for exactly 64 lowercase hex digits.
bool is_sha256_hex(std::string_view text) noexcept;

}  // namespace mw
