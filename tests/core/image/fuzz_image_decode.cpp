// libFuzzer entry: any bytes through decode_image with a small pixel limit. Only ImageError may escape.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/image/decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const mmrt::image::Image image =
        mmrt::image::decode_image(std::span(data, size), mmrt::image::DecodeLimits{.max_pixels = 1 << 16});
    if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) __builtin_trap();
  } catch (const mmrt::image::ImageError&) {
  }
  return 0;
}
