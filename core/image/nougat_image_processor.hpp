// NougatImageProcessor (PIL backend), in transformers' order:
//   crop_margin -> align_long_axis -> resize (shortest edge to min(size), bilinear) -> thumbnail (bicubic,
//   reducing_gap 2) -> pad to size (centred, black) -> rescale -> normalise (ImageNet) -> [3, height, width].
// crop_margin keeps the bounding box of pixels whose grey level, stretched to [0, 255], is below 200.
// Example with size 896x672: a 1000x500 (h x w) page resizes to 1344x672, thumbnails to 896x448 and is padded
// with 112 black columns on each side.
// The class has no RGB conversion: alpha is ignored (transformers would fail on a 4-channel image).
#pragma once

#include <cstdint>
#include <string>

#include "core/image/image_processor.hpp"
#include "core/image/resize.hpp"
#include "core/image/transforms.hpp"
#include "core/util/json.hpp"

namespace mmrt::image {

struct NougatImageProcessorConfig {
  bool do_convert_rgb = false;
  bool do_crop_margin = true;
  bool do_align_long_axis = false;
  bool do_resize = true;
  int64_t height = 896, width = 672;  // "size"
  ResampleFilter resample = ResampleFilter::bilinear;
  bool do_thumbnail = true;
  bool do_pad = true;
  NormalizeSpec normalize;
};

NougatImageProcessorConfig parse_nougat_image_processor_config(const util::JsonObjectView& config);

// transformers' NougatImageProcessor.crop_margin with the default gray_threshold of 200.
Image crop_margin(const Image& image);

class NougatImageProcessor final : public ImageProcessor {
 public:
  explicit NougatImageProcessor(NougatImageProcessorConfig config);
  ProcessedImage process(const Image& image) const override;
  std::string fingerprint() const override;

 private:
  NougatImageProcessorConfig config_;
};

}  // namespace mmrt::image
