// resize / resize_with_reducing_gap / reduce against Pillow 13 outputs, byte for byte.
#include <doctest/doctest.h>

#include <string>

#include "core/image/decode.hpp"
#include "core/image/resize.hpp"
#include "fixtures.hpp"

namespace mmrt::image {
namespace {

ResampleFilter filter_named(const std::string& name) {
  for (int code = 0; code <= 5; ++code) {
    if (name == resample_filter_name(resample_filter_from_pil(code))) return resample_filter_from_pil(code);
  }
  throw std::runtime_error("unknown filter " + name);
}

TEST_CASE("resize, reducing_gap and reduce match Pillow byte for byte") {
  const auto& cases = test::manifest().at("resize").as_array();
  REQUIRE(cases.size() > 40);
  for (const auto& value : cases) {
    const auto& entry = value.as_object();
    const std::string name(entry.at("case").as_string());
    CAPTURE(name);
    const Image source = decode_image(
        test::read_bytes(test::fixture_dir() / "sources" / std::string(entry.at("source").as_string())));
    const auto width = static_cast<int32_t>(entry.at("width").as_int64());
    const auto height = static_cast<int32_t>(entry.at("height").as_int64());
    Image out;
    if (entry.contains("reduce")) {
      const auto& factors = entry.at("reduce").as_array();
      out = reduce(source, static_cast<int32_t>(factors[0].as_int64()),
                   static_cast<int32_t>(factors[1].as_int64()));
    } else if (entry.contains("reducing_gap")) {
      out = resize_with_reducing_gap(source, width, height,
                                     filter_named(std::string(entry.at("filter").as_string())),
                                     entry.at("reducing_gap").as_double());
    } else {
      out = resize(source, width, height, filter_named(std::string(entry.at("filter").as_string())));
    }
    CHECK(out.width == width);
    CHECK(out.height == height);
    CHECK(out.rgb == test::read_bytes(test::fixture_dir() / "resized" / (name + ".rgb")));
  }
}

TEST_CASE("bilinear 4 -> 2 pixels uses three taps per output with support 2") {
  Image row = make_image(4, 1);
  const int values[4] = {0, 80, 160, 240};
  for (int x = 0; x < 4; ++x) row.rgb[3 * x] = row.rgb[3 * x + 1] = row.rgb[3 * x + 2] = values[x];
  const Image out = resize(row, 2, 1, ResampleFilter::bilinear);
  // Reference formula: centre 1.0 (resp. 3.0), support 2; the tap at source pixel k weighs
  // 1 - |k + 0.5 - centre| / 2 over the pixels within the support, normalised by the weights' sum.
  const double left = (0 * 0.75 + 80 * 0.75 + 160 * 0.25) / 1.75;
  const double right = (80 * 0.25 + 160 * 0.75 + 240 * 0.75) / 1.75;
  CHECK(out.rgb[0] == static_cast<int>(left + 0.5));
  CHECK(out.rgb[3] == static_cast<int>(right + 0.5));
}

TEST_CASE("resize rejects bad sizes and boxes") {
  const Image image = make_image(4, 4);
  CHECK_THROWS_AS(resize(image, 0, 4, ResampleFilter::bicubic), ImageError);
  CHECK_THROWS_AS(resize(image, 4, 4, ResampleFilter::bicubic, ResizeBox{0, 0, 5, 4}), ImageError);
  CHECK_THROWS_AS(resize(image, 1 << 20, 1 << 20, ResampleFilter::bilinear), ImageError);
  CHECK_THROWS_AS(resample_filter_from_pil(6), ImageError);
  CHECK_THROWS_AS(reduce(image, 0, 1), ImageError);
}

}  // namespace
}  // namespace mmrt::image
