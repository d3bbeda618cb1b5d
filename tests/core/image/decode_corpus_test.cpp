// decode_image on the real-world files of tests/fixtures/corpus/images (Pillow's and libpng's test
// suites) against tests/fixtures/corpus/image_goldens.json, written by tools/fixtures/make_corpus_goldens.py
// from PIL's Image.open(f).convert("RGB"): each file decodes to the same pixels (sha256 of the RGB bytes and
// of the alpha PIL reports), or is refused with an ImageError (the server's 400 invalid_image) where Pillow
// refuses it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

#include <boost/json.hpp>

#include "core/image/decode.hpp"
#include "core/plugin/sha256.hpp"
#include "core/util/json.hpp"
#include "fixtures.hpp"

namespace mmrt::image {
namespace {

const std::filesystem::path kCorpus = std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/corpus";

constexpr const char* kFormats[] = {"PNG: ", "JPEG: ", "WebP: ", "GIF: ", "BMP: "};

std::string sha256_of(const std::vector<uint8_t>& bytes) {
  return plugin::sha256_hex(std::as_bytes(std::span(bytes)));
}

TEST_CASE("every corpus image decodes as PIL convert(RGB) does, or is refused where Pillow refuses it") {
  const boost::json::object goldens = util::read_json_object(kCorpus / "image_goldens.json");
  const boost::json::array& files = goldens.at("files").as_array();
  CHECK(files.size() == 60);
  int n_decoded = 0, n_refused = 0;
  for (const auto& value : files) {
    const boost::json::object& golden = value.as_object();
    const std::string file(golden.at("file").as_string());
    CAPTURE(file);
    const std::vector<uint8_t> bytes = test::read_bytes(kCorpus / "images" / file);
    if (const auto* pillow_error = golden.if_contains("error")) {
      CAPTURE(pillow_error->as_string());
      std::string message;
      try {
        decode_image(bytes);
      } catch (const ImageError& e) {
        message = e.what();
      }
      REQUIRE_MESSAGE(!message.empty(), "mmrt decodes a file Pillow refuses");
      // A clear error names the format it failed in.
      const bool names_format = std::any_of(std::begin(kFormats), std::end(kFormats),
                                            [&](const char* format) { return message.starts_with(format); });
      CHECK_MESSAGE(names_format, message);
      ++n_refused;
      continue;
    }
    Image image;
    try {
      image = decode_image(bytes);
    } catch (const ImageError& e) {
      FAIL_CHECK("mmrt refuses a file Pillow decodes: " << std::string(e.what()));
      continue;
    }
    CHECK(image.width == golden.at("width").as_int64());
    CHECK(image.height == golden.at("height").as_int64());
    CHECK(sha256_of(image.rgb) == golden.at("rgb_sha256").as_string());
    const auto* alpha_sha256 = golden.if_contains("alpha_sha256");
    CHECK(image.has_alpha() == (alpha_sha256 != nullptr));
    if (alpha_sha256 && image.has_alpha()) CHECK(sha256_of(image.alpha) == alpha_sha256->as_string());
    ++n_decoded;
  }
  CHECK(n_decoded > 40);
  CHECK(n_refused > 5);
}

}  // namespace
}  // namespace mmrt::image
