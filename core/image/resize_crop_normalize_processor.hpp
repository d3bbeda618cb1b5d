// The plain PilBackend pipeline shared by CLIPImageProcessor and BlipImageProcessor:
// convert_to_rgb -> resize -> center_crop -> rescale -> normalise -> (pad) -> [3, H, W] float32.
// They differ only in class defaults: CLIP resizes the shortest edge to 224 (bicubic) and crops 224x224;
// BLIP squashes to 384x384 (bicubic) with no crop. Both use the OpenAI CLIP mean/std.
#pragma once

#include <optional>
#include <string>

#include "core/image/image_processor.hpp"
#include "core/image/resize.hpp"
#include "core/image/size_dict.hpp"
#include "core/image/transforms.hpp"
#include "core/util/json.hpp"

namespace mmrt::image {

struct ResizeCropNormalizeConfig {
  std::string image_processor_type;  // "CLIPImageProcessor" or "BlipImageProcessor"
  bool do_convert_rgb = true;
  bool do_resize = true;
  SizeDict size;
  ResampleFilter resample = ResampleFilter::bicubic;
  bool do_center_crop = false;
  std::optional<SizeDict> crop_size;  // height + width when do_center_crop
  NormalizeSpec normalize;
  bool do_pad = false;
  std::optional<SizeDict>
      pad_size;  // height + width when do_pad: zeros appended bottom/right after normalising
};

ResizeCropNormalizeConfig parse_clip_image_processor_config(const util::JsonObjectView& config);
ResizeCropNormalizeConfig parse_blip_image_processor_config(const util::JsonObjectView& config);

class ResizeCropNormalizeProcessor final : public ImageProcessor {
 public:
  explicit ResizeCropNormalizeProcessor(ResizeCropNormalizeConfig config);
  ProcessedImage process(const Image& image) const override;
  std::string fingerprint() const override;

 private:
  ResizeCropNormalizeConfig config_;
};

}  // namespace mmrt::image
