// Geometric and colour primitives of the Hugging Face image pipeline (transformers image_transforms.py and
// the PIL calls it makes), on RGB8 images. Plugins reach them through the host. Pure, thread-safe functions.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/image/image.hpp"

namespace mmrt::image {

// PIL `Image.crop((x0, y0, x0 + width, y0 + height))`: pixels outside the source are black. Alpha is kept.
Image crop(const Image& image, int32_t x0, int32_t y0, int32_t width, int32_t height);

// transformers `center_crop(image, (height, width))`: top = (H - height) // 2, left = (W - width) // 2 (floor
// division); when the image is smaller it is first zero-padded to max(H, height) x max(W, width) with
// ceil((new - old) / 2) rows/columns before it. Example: W = 5 -> width 8 pads 2 left, 1 right.
Image center_crop(const Image& image, int32_t height, int32_t width);

// Zero (black) padding on each side.
Image pad(const Image& image, int32_t top, int32_t bottom, int32_t left, int32_t right);

// transformers `convert_to_rgb` for an image with transparency: PIL alpha_composite over opaque white, then
// RGB. Returns the image unchanged when it has no alpha. Example: (200, 0, 0) at alpha 128 -> (227, 127,
// 127).
Image composite_over_white(const Image& image);

// PIL `convert("L")`: (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16 per pixel.
std::vector<uint8_t> to_grey(const Image& image);  // [height, width]

// numpy `rot90(chw, k=3, axes=(1, 2))`: a quarter turn clockwise. Alpha is dropped.
Image rotate_clockwise(const Image& image);

// Rescale and normalise into channel-first float32, transformers' numpy order of operations:
// x = float32(float64(u8) * rescale_factor) when rescaling, else float32(u8); then (x - mean) / std in
// float32.
struct NormalizeSpec {
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> mean{}, std{};
};
std::vector<float> to_normalized_chw(const Image& image, const NormalizeSpec& spec);  // [3, height, width]

}  // namespace mmrt::image
