// processor role: one image -> pixel_values [gh·gw, C·t·p·p] f32, image_grid_thw [3] and its token count,
// as Transformers' Qwen2VLImageProcessor (PIL backend) computes them, composed from the host's image
// primitives:
//
//   to_rgb (alpha over white) -> smart_resize to multiples of patch_size·merge_size (PIL resample)
//   -> rescale, normalize (CHW) -> patchify
//
// Patchify for a still image (the frame is repeated temporal_patch_size times): grid (1, gh, gw) with
// gh = H / patch_size; rows are patches ordered by merge window (windows row-major), then row-major inside
// the window; each row is (channel, t, py, px), the Conv3d weight's order.
//
// Worked example: a 56x84 (w x h) image, patch 14, merge 2, min_pixels 3136: smart_resize keeps 84x56
// (h x w); grid (1, 6, 4), pixel_values [24, 1176]; row 1 is the patch at (py 0, px 1), row 2 the one at
// (py 1, px 0); n_tokens = 24 / 4 = 6.
#ifndef MMRT_PLUGINS_QWEN2_VL_PROCESSOR_HPP_
#define MMRT_PLUGINS_QWEN2_VL_PROCESSOR_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <string>
#include <utility>

#include "config.hpp"
#include "mmrt/image/primitives.hpp"
#include "mmrt/plugin.hpp"
#include "vision.hpp"

namespace mmrt::qwen2_vl {

// Transformers' smart_resize: (height, width) rounded half to even to multiples of `factor`, then scaled
// into [min_pixels, max_pixels] keeping the aspect ratio. INVALID_ARGUMENT when the aspect ratio exceeds
// 200.
std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels);

// [thread-safe]: immutable after construction.
class Qwen2VLProcessor : public sdk::Processor {
 public:
  explicit Qwen2VLProcessor(const ImageProcessorConfig& config);

  void process(const MmrtImage& image, MmrtProcessorOutput& out) override;
  const char* fingerprint() override { return fingerprint_.c_str(); }

 private:
  sdk::image::Primitives primitives_;
  ImageProcessorConfig config_;
  std::string fingerprint_;
};

}  // namespace mmrt::qwen2_vl

#endif  // MMRT_PLUGINS_QWEN2_VL_PROCESSOR_HPP_
