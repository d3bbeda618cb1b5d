// Format sniffing and the shared size guard. The signatures are the ones PIL's plugins accept.
#include "core/image/decode.hpp"

#include <cstring>
#include <string>

namespace mmrt::image {
namespace {

bool starts_with(std::span<const uint8_t> bytes, const char* magic, size_t offset = 0) {
  const size_t n = std::strlen(magic);
  return bytes.size() >= offset + n && std::memcmp(bytes.data() + offset, magic, n) == 0;
}

}  // namespace

void check_image_size(const char* format, int64_t width, int64_t height, const DecodeLimits& limits) {
  if (width <= 0 || height <= 0) {
    throw ImageError(std::string(format) + ": invalid image size " + std::to_string(width) + "x" +
                     std::to_string(height));
  }
  // Both factors are below 2^32 for every format, so the product cannot overflow 64 bits.
  const uint64_t n_pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (width > INT32_MAX || height > INT32_MAX || n_pixels > limits.max_pixels) {
    throw ImageError(std::string(format) + ": image of " + std::to_string(width) + "x" +
                     std::to_string(height) + " pixels exceeds the limit of " +
                     std::to_string(limits.max_pixels) + " pixels (possible decompression bomb)");
  }
}

Image decode_image(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return decode_png(bytes, limits);
  if (starts_with(bytes, "\xff\xd8\xff")) return decode_jpeg(bytes, limits);
  if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) return decode_webp(bytes, limits);
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) return decode_gif(bytes, limits);
  if (starts_with(bytes, "BM")) return decode_bmp(bytes, limits);
  if (bytes.empty()) throw ImageError("image: empty input");
  throw ImageError("image: unrecognised format (expected PNG, JPEG, WebP, GIF or BMP; " +
                   std::to_string(bytes.size()) + " bytes)");
}

}  // namespace mmrt::image
