// An 8-bit RGB image in host memory, as produced by the decoders and consumed by the processors.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mmrt::image {

// What PIL's `Image.convert("RGB")` returns for a decoded file, plus the transparency PIL would see.
// Ownership: a plain value type; copies are deep. Not synchronised: share only as const.
struct Image {
  int32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3] uint8, row-major, alpha dropped (no compositing)
  // [height, width] uint8 when the source carries transparency (an alpha channel, a PNG tRNS chunk or a GIF
  // transparent index: PIL's "A" band or info["transparency"]), empty otherwise. Processors that convert to
  // RGB composite over white with it, as transformers' convert_to_rgb does.
  std::vector<uint8_t> alpha;

  bool has_alpha() const { return !alpha.empty(); }
};

// Thrown for any input that cannot be decoded or processed: unknown or truncated file, hostile header,
// image too large, unsupported configuration. The message names the format and the problem.
class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Allocates an image of the given size with zeroed pixels and no alpha; throws ImageError on a negative or
// overflowing size.
Image make_image(int32_t width, int32_t height);

}  // namespace mmrt::image
