// RGB8 images in plugin memory and the host's Pillow-exact primitives over them (MMRT_IMAGE_EXTENSION,
// ABI 1.1), the pieces a processor role composes into its model's preprocessing.
//
//   const sdk::image::Primitives px = sdk::image::Primitives::from_host();
//   sdk::image::RgbImage rgb = px.to_rgb(input);                      // convert_to_rgb
//   rgb = px.resize(rgb.view(), 336, 252, MMRT_RESAMPLE_BICUBIC);      // PIL Image.resize
//   std::vector<float> chw = px.normalize(rgb.view(), spec, MMRT_LAYOUT_CHW);
//
// Ownership: RgbImage owns its pixels; view() borrows them for as long as the image lives and is unchanged.
// Threading: Primitives is an immutable handle; every call is thread-safe (the slots are [thread-safe]).
#ifndef MMRT_SDK_IMAGE_PRIMITIVES_HPP_
#define MMRT_SDK_IMAGE_PRIMITIVES_HPP_

#include <mmrt_abi.h>

#include <array>
#include <cstdint>
#include <vector>

#include "mmrt/host.hpp"
#include "mmrt/status.hpp"

namespace mmrt::sdk::image {

struct RgbImage {
  int32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]

  MmrtImage view() const {
    MmrtImage v{};
    v.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
    v.width = width;
    v.height = height;
    v.rgb = rgb.data();
    return v;
  }
};

// transformers' rescale + normalize settings (do_rescale, rescale_factor, do_normalize, image_mean,
// image_std), applied in its numpy order by Primitives::normalize.
struct NormalizeSpec {
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> mean{}, std{};
};

class Primitives {
 public:
  explicit Primitives(const MmrtImageApi* api) : api_(api) {
    require(api_ != nullptr && MMRT_SDK_HAS_SLOT(api_, MmrtImageApi, normalize), MMRT_STATUS_UNIMPLEMENTED,
            "the host's " MMRT_IMAGE_EXTENSION " lacks the image primitives of ABI 1.1");
  }
  // The host's table; throws UNIMPLEMENTED on a host older than 1.1.
  static Primitives from_host() {
    return Primitives(static_cast<const MmrtImageApi*>(host_extension(MMRT_IMAGE_EXTENSION)));
  }

  RgbImage to_rgb(const MmrtImage& src) const {
    RgbImage out = blank(src.width, src.height);
    check(api_->to_rgb(&src, out.rgb.data()), "image to_rgb");
    return out;
  }
  RgbImage resize(const MmrtImage& src, int32_t width, int32_t height, int32_t filter,
                  double reducing_gap = 0.0) const {
    RgbImage out = blank(width, height);
    check(api_->resize(&src, width, height, filter, reducing_gap, out.rgb.data()),
          str("image resize ", src.width, "x", src.height, " -> ", width, "x", height));
    return out;
  }
  RgbImage crop(const MmrtImage& src, int32_t x0, int32_t y0, int32_t width, int32_t height) const {
    RgbImage out = blank(width, height);
    check(api_->crop(&src, x0, y0, width, height, out.rgb.data()), "image crop");
    return out;
  }
  RgbImage rotate(const MmrtImage& src, int32_t quarter_turns_clockwise) const {
    const bool swap = quarter_turns_clockwise % 2 != 0;
    RgbImage out = blank(swap ? src.height : src.width, swap ? src.width : src.height);
    check(api_->rotate(&src, quarter_turns_clockwise, out.rgb.data()), "image rotate");
    return out;
  }
  std::vector<uint8_t> to_grey(const MmrtImage& src) const {
    std::vector<uint8_t> out(size_t(src.width) * size_t(src.height));
    check(api_->to_grey(&src, out.data()), "image to_grey");
    return out;
  }
  std::vector<float> normalize(const MmrtImage& src, const NormalizeSpec& spec, int32_t layout) const {
    std::vector<float> out(size_t(src.width) * size_t(src.height) * 3);
    check(api_->normalize(&src, spec.do_rescale ? spec.rescale_factor : 0.0,
                          spec.do_normalize ? spec.mean.data() : nullptr,
                          spec.do_normalize ? spec.std.data() : nullptr, layout, out.data()),
          "image normalize");
    return out;
  }

 private:
  static RgbImage blank(int32_t width, int32_t height) {
    require(width > 0 && height > 0 && int64_t(width) * height <= (int64_t(1) << 28),
            MMRT_STATUS_INVALID_ARGUMENT, str("invalid image size ", width, "x", height));
    RgbImage out;
    out.width = width;
    out.height = height;
    out.rgb.assign(size_t(width) * size_t(height) * 3, 0);
    return out;
  }

  const MmrtImageApi* api_;
};

}  // namespace mmrt::sdk::image

#endif  // MMRT_SDK_IMAGE_PRIMITIVES_HPP_
