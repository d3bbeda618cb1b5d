// Decoding image files from memory into PIL-identical RGB8 pixels.
//
// decode_image() sniffs the format from the first bytes and returns exactly the pixels of
// `PIL.Image.open(f).convert("RGB")` (Pillow 13), with the transparency PIL reports kept in Image::alpha.
// EXIF orientation is not applied (neither PIL nor transformers apply it). Example: a 16-bit greyscale PNG
// holding 300 decodes to (255, 255, 255), because PIL clips I;16 values to 8 bits when converting to RGB.
// All functions are reentrant; none keep state between calls.
#pragma once

#include <cstdint>
#include <span>

#include "core/image/image.hpp"

namespace mmrt::image {

struct DecodeLimits {
  // Largest width * height accepted; checked from the header before any pixel buffer is allocated.
  uint64_t max_pixels = 64ull << 20;
};

// Throws ImageError naming the format and the problem for unknown, truncated, corrupt or oversized input.
Image decode_image(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

// Per-format entry points (decode_image dispatches to these by signature); same contract.
Image decode_png(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_gif(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_bmp(std::span<const uint8_t> bytes, const DecodeLimits& limits);

// Throws ImageError("<format>: ... exceeds the limit ...") when width * height is over the limit or a
// dimension is not positive.
void check_image_size(const char* format, int64_t width, int64_t height, const DecodeLimits& limits);

}  // namespace mmrt::image
