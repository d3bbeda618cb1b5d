// SHA-256 against the FIPS 180-4 example vectors, and against CMake's file(SHA256) on real files.
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "core/plugin/sha256.hpp"
#include "scenario.hpp"

namespace {

std::string hash_of(std::string_view text) {
  return mmrt::plugin::sha256_hex(std::as_bytes(std::span(text)));
}

}  // namespace

TEST_CASE("sha256 matches the FIPS 180-4 example vectors") {
  CHECK(hash_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hash_of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the length no longer fits in the first padding block.
  CHECK(hash_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hash_of(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 gives the same digest however the input is split") {
  std::string text;
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>('a' + i % 26));
  for (size_t length : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 119u, 128u, 300u}) {
    const std::string_view prefix(text.data(), length);
    for (size_t split : {size_t{0}, length / 3, length / 2, length}) {
      mmrt::plugin::Sha256 hasher;
      hasher.update(std::as_bytes(std::span(prefix.substr(0, split))));
      hasher.update(std::as_bytes(std::span(prefix.substr(split))));
      mmrt::plugin::Sha256 one_shot;
      one_shot.update(std::as_bytes(std::span(prefix)));
      CHECK(hasher.digest() == one_shot.digest());
    }
  }
}

TEST_CASE("sha256 of a file equals the digest CMake wrote into its manifest") {
  for (const auto& [scenario, stem] : {std::pair{"good", "abi_test_good"}, std::pair{"text_so", "foo"}}) {
    const mmrt::plugin::PluginManifest manifest = abi_test::manifest_of(scenario, stem);
    CHECK(mmrt::plugin::sha256_hex_of_file(manifest.library_path) == manifest.sha256);
  }
  CHECK_THROWS_WITH_AS(mmrt::plugin::sha256_hex_of_file("/nonexistent/libx.so"),
                       doctest::Contains("/nonexistent/libx.so"), std::runtime_error);
}
