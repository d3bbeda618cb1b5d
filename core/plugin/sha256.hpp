// SHA-256 (FIPS 180-4), used to check that a plugin's .so is the file its manifest was written for.
//
// Small and dependency-free on purpose: the host must not pull in a crypto library just to compare one
// digest. Not constant-time and not meant for secrets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace mmrt::plugin {

// Incremental hasher: update() any number of times, then digest() once. Not thread-safe; one per caller.
class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::byte> bytes);
  // Finishes the hash; the hasher must not be updated afterwards.
  std::array<uint8_t, 32> digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lowercase hex of the SHA-256 of `bytes`.
std::string sha256_hex(std::span<const std::byte> bytes);
// Lowercase hex of the SHA-256 of a file's contents; throws std::runtime_error naming the file when it cannot
// be read.
std::string sha256_hex_of_file(const std::filesystem::path& file);

}  // namespace mmrt::plugin
