// processor role: Transformers' NougatImageProcessor (PIL backend) composed from the host's Pillow-exact
// image primitives (MMRT_IMAGE_EXTENSION, ABI 1.1), in its order:
//
//   crop_margin       bounding box of the pixels whose grey level (PIL "L"), stretched to [0, 255], is
//                     below 200 (skipped when the image is one grey level)
//   align_long_axis   a quarter turn clockwise when the image's orientation differs from size's
//   resize            shortest edge to min(size) (long edge truncated), `resample` (bilinear)
//   thumbnail         fit into size keeping the aspect ratio, bicubic with reducing_gap 2
//   pad               centred in size with black (top/left get the smaller half)
//   rescale, normalize (ImageNet mean/std) -> pixel_values [3, height, width] f32 (HF's, per image)
//
// n_tokens is the Swin encoder's output rows for that size (its memory length), e.g. 896×672 -> 588.
// There is no RGB conversion unless do_convert_rgb is set: alpha is dropped, as Transformers would fail on
// four channels.
//
// Worked example (size 896×672): a 1000×500 (h×w) white page with text inside a 50-pixel margin crops to
// 900×400, resizes to 1512×672, thumbnails to 896×398 and pads 137 columns left, 137 right.
#ifndef MMRT_PLUGINS_NOUGAT_PROCESSOR_HPP_
#define MMRT_PLUGINS_NOUGAT_PROCESSOR_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "config.hpp"
#include "mmrt/plugin.hpp"

namespace mmrt::nougat {

// NougatImageProcessor settings from preprocessor_config.json; defaults are that class's.
struct NougatProcessorConfig {
  bool do_convert_rgb = false;
  bool do_crop_margin = true;
  bool do_align_long_axis = false;
  bool do_resize = true;
  int64_t height = 896, width = 672;  // "size"
  int32_t resample = MMRT_RESAMPLE_BILINEAR;
  bool do_thumbnail = true;
  bool do_pad = true;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  float image_mean[3] = {0.485f, 0.456f, 0.406f};  // IMAGENET_DEFAULT_MEAN
  float image_std[3] = {0.229f, 0.224f, 0.225f};   // IMAGENET_DEFAULT_STD
};

NougatProcessorConfig parse_nougat_processor_config(std::string_view preprocessor_config_json);

// [thread-safe]: immutable after construction.
class NougatProcessor : public sdk::Processor {
 public:
  NougatProcessor(const NougatProcessorConfig& config, const SwinConfig& encoder);

  void process(const MmrtImage& image, MmrtProcessorOutput& out) override;
  const char* fingerprint() override { return fingerprint_.c_str(); }

  // Encoder rows of the largest image process() emits (size itself).
  int64_t max_tokens() const;

 private:
  NougatProcessorConfig config_;
  SwinConfig encoder_;
  const MmrtImageApi* image_api_;
  std::string fingerprint_;
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_PROCESSOR_HPP_
