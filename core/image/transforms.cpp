#include "core/image/transforms.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace mmrt::image {

Image crop(const Image& image, int32_t x0, int32_t y0, int32_t width, int32_t height) {
  if (width <= 0 || height <= 0) {
    throw ImageError("crop: invalid size " + std::to_string(width) + "x" + std::to_string(height));
  }
  Image out = make_image(width, height);
  if (image.has_alpha()) out.alpha.assign(static_cast<size_t>(width) * height, 0);
  const int32_t x_begin = std::max(0, x0), x_end = std::min(image.width, x0 + width);
  for (int32_t y = std::max(0, y0); y < std::min(image.height, y0 + height); ++y) {
    if (x_end <= x_begin) break;
    const size_t src = static_cast<size_t>(y) * image.width + x_begin;
    const size_t dst = static_cast<size_t>(y - y0) * width + (x_begin - x0);
    std::memcpy(out.rgb.data() + dst * 3, image.rgb.data() + src * 3,
                static_cast<size_t>(x_end - x_begin) * 3);
    if (image.has_alpha()) {
      std::memcpy(out.alpha.data() + dst, image.alpha.data() + src, static_cast<size_t>(x_end - x_begin));
    }
  }
  return out;
}

Image center_crop(const Image& image, int32_t height, int32_t width) {
  const auto floor_half = [](int32_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  if (image.height >= height && image.width >= width) {
    return crop(image, floor_half(image.width - width), floor_half(image.height - height), width, height);
  }
  // Pad to at least the crop size (ceil split before), then take the same window shifted by the padding.
  const int32_t new_height = std::max(height, image.height), new_width = std::max(width, image.width);
  const int32_t top_pad = (new_height - image.height + 1) / 2, left_pad = (new_width - image.width + 1) / 2;
  const int32_t top = floor_half(image.height - height) + top_pad;
  const int32_t left = floor_half(image.width - width) + left_pad;
  const int32_t y_begin = std::max(0, top), y_end = std::min(new_height, top + height);
  const int32_t x_begin = std::max(0, left), x_end = std::min(new_width, left + width);
  // Window [y_begin, y_end) x [x_begin, x_end) of the padded image = source offset by (-top_pad, -left_pad).
  return crop(image, x_begin - left_pad, y_begin - top_pad, x_end - x_begin, y_end - y_begin);
}

Image pad(const Image& image, int32_t top, int32_t bottom, int32_t left, int32_t right) {
  if (top < 0 || bottom < 0 || left < 0 || right < 0) throw ImageError("pad: negative padding");
  return crop(image, -left, -top, image.width + left + right, image.height + top + bottom);
}

Image composite_over_white(const Image& image) {
  Image out = make_image(image.width, image.height);
  if (!image.has_alpha()) {
    out.rgb = image.rgb;
    return out;
  }
  // Pillow's AlphaComposite.c with an opaque white destination, 7 extra bits of precision.
  constexpr int kPrecisionBits = 7;
  for (size_t i = 0; i < image.alpha.size(); ++i) {
    const uint32_t a = image.alpha[i];
    for (int c = 0; c < 3; ++c) {
      if (a == 0) {
        out.rgb[3 * i + c] = 255;
        continue;
      }
      const uint32_t blend = 255 * (255 - a);
      const uint32_t outa255 = a * 255 + blend;
      const uint32_t coef1 = a * 255 * 255 * (1u << kPrecisionBits) / outa255;
      const uint32_t coef2 = 255 * (1u << kPrecisionBits) - coef1;
      const uint32_t tmp = image.rgb[3 * i + c] * coef1 + 255 * coef2 + (0x80u << kPrecisionBits);
      out.rgb[3 * i + c] = static_cast<uint8_t>((((tmp >> 8) + tmp) >> 8) >> kPrecisionBits);
    }
  }
  return out;
}

std::vector<uint8_t> to_grey(const Image& image) {
  std::vector<uint8_t> grey(static_cast<size_t>(image.width) * image.height);
  for (size_t i = 0; i < grey.size(); ++i) {
    const uint32_t r = image.rgb[3 * i], g = image.rgb[3 * i + 1], b = image.rgb[3 * i + 2];
    grey[i] = static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
  }
  return grey;
}

Image rotate_clockwise(const Image& image) {
  Image out = make_image(image.height, image.width);
  for (int32_t y = 0; y < out.height; ++y) {
    for (int32_t x = 0; x < out.width; ++x) {
      // out[y][x] = in[H - 1 - x][y]
      const size_t src = (static_cast<size_t>(image.height - 1 - x) * image.width + y) * 3;
      std::memcpy(out.rgb.data() + (static_cast<size_t>(y) * out.width + x) * 3, image.rgb.data() + src, 3);
    }
  }
  return out;
}

std::vector<float> to_normalized_chw(const Image& image, const NormalizeSpec& spec) {
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  std::vector<float> out(3 * plane);
  for (int c = 0; c < 3; ++c) {
    float table[256];
    for (int v = 0; v < 256; ++v) {
      float x = spec.do_rescale ? static_cast<float>(static_cast<double>(v) * spec.rescale_factor)
                                : static_cast<float>(v);
      if (spec.do_normalize) x = (x - spec.mean[c]) / spec.std[c];
      table[v] = x;
    }
    float* dst = out.data() + c * plane;
    for (size_t i = 0; i < plane; ++i) dst[i] = table[image.rgb[3 * i + c]];
  }
  return out;
}

}  // namespace mmrt::image
