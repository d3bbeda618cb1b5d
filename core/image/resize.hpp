// Pillow-exact resampling of RGB8 images (Pillow 13 `Image.resize` / `Image.reduce`, libImaging Resample.c,
// Reduce.c and Geometry.c), the step every Hugging Face "slow" image processor runs through PIL.
//
// Convolution filters are separable: a horizontal pass into a uint8 temporary, then a vertical pass, each
// only when that axis changes. Coefficients are the filter sampled at source pixel centres, scaled by
// max(1, in/out) when shrinking, normalised, then rounded to 22-bit fixed point; each output is
// clamp_to_u8((2^21 + sum(pixel * coeff)) >> 22). Example: bilinear 4 -> 2 pixels centres output 0 on
// source 1.0 with support 2, so taps 0, 1, 2 get weights 0.75, 0.75, 0.25, normalised by their sum 1.75. All
// functions are pure and thread-safe; alpha is not resampled (results carry no alpha).
#pragma once

#include <cstdint>
#include <optional>

#include "core/image/image.hpp"

namespace mmrt::image {

// PIL's Image.Resampling members.
enum class ResampleFilter { nearest, box, bilinear, hamming, bicubic, lanczos };

// Maps PIL's integer codes (the "resample" value of preprocessor_config.json): 0 NEAREST, 1 LANCZOS,
// 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING. Throws ImageError for anything else.
ResampleFilter resample_filter_from_pil(int64_t code);
const char* resample_filter_name(ResampleFilter filter);

// Source region in pixel coordinates (PIL's `box`, stored as float32 like Pillow's C binding).
struct ResizeBox {
  float x0, y0, x1, y1;
};

// `Image.resize((width, height), filter, box)`. Throws ImageError for a non-positive output size, a box
// outside the image, or an output above 2^28 pixels.
Image resize(const Image& image, int32_t width, int32_t height, ResampleFilter filter);
Image resize(const Image& image, int32_t width, int32_t height, ResampleFilter filter, const ResizeBox& box);

// `Image.resize(size, filter, reducing_gap=gap)`: when the image is at least 2 * gap times larger than the
// output along an axis, first box-reduces it by an integer factor (reduce()), then resamples the fractional
// remainder.
Image resize_with_reducing_gap(const Image& image, int32_t width, int32_t height, ResampleFilter filter,
                               double reducing_gap);

// `Image.reduce((factor_x, factor_y))` over the whole image: each output pixel is the rounded mean of a
// factor_x x factor_y cell (smaller at the right and bottom edges).
Image reduce(const Image& image, int32_t factor_x, int32_t factor_y);

}  // namespace mmrt::image
