// Geometric and colour primitives, against plain reference formulas.
#include <doctest/doctest.h>

#include "core/image/transforms.hpp"

namespace mmrt::image {
namespace {

Image numbered(int32_t width, int32_t height) {
  Image image = make_image(width, height);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(1 + i % 250);
  return image;
}

uint8_t at(const Image& image, int32_t x, int32_t y, int c) {
  return image.rgb[(y * image.width + x) * 3 + c];
}

TEST_CASE("center_crop takes the floor-centred window") {
  const Image image = numbered(7, 6);
  const Image out = center_crop(image, 3, 4);  // top = (6 - 3) // 2 = 1, left = (7 - 4) // 2 = 1
  REQUIRE(out.width == 4);
  REQUIRE(out.height == 3);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) CHECK(at(out, x, y, 1) == at(image, x + 1, y + 1, 1));
  }
}

TEST_CASE("center_crop pads a smaller image with ceil((new - old) / 2) before it") {
  const Image image = numbered(5, 2);
  const Image out = center_crop(image, 5, 8);  // pads 2 rows above, 2 columns left
  REQUIRE(out.width == 8);
  REQUIRE(out.height == 5);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 8; ++x) {
      const bool inside = y >= 2 && y < 4 && x >= 2 && x < 7;
      CHECK(at(out, x, y, 0) == (inside ? at(image, x - 2, y - 2, 0) : 0));
    }
  }
}

TEST_CASE("composite_over_white follows Pillow's alpha_composite") {
  Image image = make_image(3, 1);
  image.rgb = {200, 0, 10, 50, 60, 70, 1, 2, 3};
  image.alpha = {128, 255, 0};
  const Image out = composite_over_white(image);
  CHECK_FALSE(out.has_alpha());
  // alpha 128: v * 128/255 + 255 * 127/255, to within rounding of Pillow's 7-bit fixed point.
  for (int c = 0; c < 3; ++c) {
    const double expected = image.rgb[c] * 128.0 / 255 + 255 * 127.0 / 255;
    CHECK(std::abs(out.rgb[c] - expected) <= 1.0);
  }
  CHECK(out.rgb[3] == 50);
  CHECK(out.rgb[6] == 255);
}

TEST_CASE("to_grey uses ITU-R 601 weights in 16-bit fixed point") {
  Image image = make_image(1, 1);
  image.rgb = {255, 128, 7};
  CHECK(to_grey(image)[0] == (255 * 19595 + 128 * 38470 + 7 * 7471 + 0x8000) >> 16);
}

TEST_CASE("rotate_clockwise turns a quarter clockwise") {
  const Image image = numbered(3, 2);
  const Image out = rotate_clockwise(image);
  REQUIRE(out.width == 2);
  REQUIRE(out.height == 3);
  // The bottom-left source pixel becomes the top-left one.
  CHECK(at(out, 0, 0, 0) == at(image, 0, 1, 0));
  CHECK(at(out, 1, 0, 0) == at(image, 0, 0, 0));
}

TEST_CASE("to_normalized_chw rescales in double then normalises in float") {
  Image image = make_image(2, 1);
  image.rgb = {0, 128, 255, 7, 8, 9};
  NormalizeSpec spec;
  spec.mean = {0.5f, 0.25f, 0.125f};
  spec.std = {0.5f, 0.2f, 0.1f};
  const std::vector<float> out = to_normalized_chw(image, spec);
  REQUIRE(out.size() == 6);
  CHECK(out[0] == (static_cast<float>(0 / 255.0) - 0.5f) / 0.5f);
  CHECK(out[1] == (static_cast<float>(7 / 255.0) - 0.5f) / 0.5f);
  CHECK(out[2] == (static_cast<float>(128 / 255.0) - 0.25f) / 0.2f);
  CHECK(out[5] == (static_cast<float>(9 / 255.0) - 0.125f) / 0.1f);
}

}  // namespace
}  // namespace mmrt::image
