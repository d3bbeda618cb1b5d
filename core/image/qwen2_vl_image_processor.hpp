// Qwen2VLImageProcessor (PIL backend): convert_to_rgb -> smart_resize to multiples of
// patch_size * merge_size (bicubic) -> rescale -> normalise -> patchify.
//
// Patchify for a still image (the frame is repeated temporal_patch_size times): grid (1, gh, gw) with
// gh = H / patch_size; rows are patches ordered by 2x2 merge window (windows row-major), then row-major
// inside the window; each row is (channel, t, py, px). Example: a 56x56 image -> grid (1, 4, 4), pixel_values
// [16, 3 * 2 * 14 * 14 = 1176]; row 1 is the patch at (py 0, px 1), row 2 the one at (py 1, px 0).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/image/image_processor.hpp"
#include "core/image/resize.hpp"
#include "core/image/transforms.hpp"
#include "core/util/json.hpp"

namespace mmrt::image {

struct Qwen2VLImageProcessorConfig {
  bool do_convert_rgb = true;
  bool do_resize = true;
  int64_t min_pixels = 56 * 56;         // size.shortest_edge (min_pixels overrides)
  int64_t max_pixels = 28 * 28 * 1280;  // size.longest_edge (max_pixels overrides)
  ResampleFilter resample = ResampleFilter::bicubic;
  NormalizeSpec normalize;
  int64_t patch_size = 14;
  int64_t temporal_patch_size = 2;
  int64_t merge_size = 2;
};

Qwen2VLImageProcessorConfig parse_qwen2_vl_image_processor_config(const util::JsonObjectView& config);

// transformers' smart_resize: (height, width) rounded (half to even) to multiples of `factor`, then scaled
// into [min_pixels, max_pixels] keeping the aspect ratio. Throws ImageError when the aspect ratio exceeds
// 200.
std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels);

class Qwen2VLImageProcessor final : public ImageProcessor {
 public:
  explicit Qwen2VLImageProcessor(Qwen2VLImageProcessorConfig config);
  ProcessedImage process(const Image& image) const override;
  std::string fingerprint() const override;

 private:
  Qwen2VLImageProcessorConfig config_;
};

}  // namespace mmrt::image
