// The plain PilBackend pipeline that CLIPImageProcessor and BlipImageProcessor share:
// convert_to_rgb -> resize -> center_crop -> rescale -> normalize -> (pad) -> [3, H, W] float32.
// They differ only in class defaults: CLIP resizes the shortest edge to 224 (bicubic) and crops 224x224;
// BLIP squashes to 384x384 (bicubic) with no crop. Both use the OpenAI CLIP mean/std.
//
// Example: llava-1.5's CLIPImageProcessor on a 640x480 image resizes to 448x336 (shortest edge 336,
// bicubic), crops the centre 336x336, rescales by 1/255 and normalizes into shape [3, 336, 336].
//
// Immutable after construction; process() is thread-safe.
#ifndef MMRT_SDK_IMAGE_RESIZE_CROP_NORMALIZE_HPP_
#define MMRT_SDK_IMAGE_RESIZE_CROP_NORMALIZE_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mmrt/image/primitives.hpp"
#include "mmrt/image/processor_config.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::sdk::image {

struct ResizeCropNormalizeConfig {
  std::string processor_type;  // "CLIPImageProcessor" or "BlipImageProcessor"
  bool do_convert_rgb = true;
  bool do_resize = true;
  SizeDict size;
  int32_t resample = MMRT_RESAMPLE_BICUBIC;
  bool do_center_crop = false;
  std::optional<SizeDict> crop_size;  // height + width when do_center_crop
  NormalizeSpec normalize;
  bool do_pad = false;
  std::optional<SizeDict>
      pad_size;  // height + width when do_pad: zeros appended bottom/right after normalizing

  // Reads a CLIPImageProcessor or BlipImageProcessor preprocessor_config.json over that class's defaults.
  static ResizeCropNormalizeConfig parse(const json::Reader& config) {
    ResizeCropNormalizeConfig out;
    out.processor_type = sdk::image::processor_type(config);
    bool default_to_square = false;
    if (out.processor_type == "CLIPImageProcessor") {
      out.size.shortest_edge = 224;
      out.do_center_crop = true;
      out.crop_size = SizeDict{};
      out.crop_size->height = out.crop_size->width = 224;
    } else if (out.processor_type == "BlipImageProcessor") {
      out.size.height = out.size.width = 384;
      default_to_square = true;
    } else {
      throw Error(
          MMRT_STATUS_INVALID_ARGUMENT,
          str("preprocessor_config: image_processor_type \"", out.processor_type,
              "\" is not a resize/crop/normalize processor (CLIPImageProcessor, BlipImageProcessor)"));
    }
    default_to_square = config.get_bool("default_to_square", default_to_square);
    out.do_convert_rgb = config.get_bool("do_convert_rgb", out.do_convert_rgb);
    out.do_resize = config.get_bool("do_resize", out.do_resize);
    if (auto size = parse_size_dict(config, "size", default_to_square)) out.size = *size;
    out.resample = parse_resample(config, out.resample);
    out.do_center_crop = config.get_bool("do_center_crop", out.do_center_crop);
    if (auto crop = parse_size_dict(config, "crop_size", true)) out.crop_size = crop;
    out.normalize = parse_normalize_spec(config, kOpenaiClipMean, kOpenaiClipStd);
    out.do_pad = config.get_bool("do_pad", out.do_pad);
    out.pad_size = parse_size_dict(config, "pad_size", true);
    require(!out.do_center_crop || (out.crop_size && out.crop_size->height && out.crop_size->width),
            MMRT_STATUS_INVALID_ARGUMENT,
            "preprocessor_config.crop_size: do_center_crop needs height and width");
    require(!out.do_pad || (out.pad_size && out.pad_size->height && out.pad_size->width),
            MMRT_STATUS_INVALID_ARGUMENT, "preprocessor_config.pad_size: do_pad needs height and width");
    return out;
  }
};

struct ProcessedPixels {
  std::vector<float> values;   // [3, height, width]
  std::vector<int64_t> shape;  // {3, height, width}
};

class ResizeCropNormalize {
 public:
  ResizeCropNormalize(Primitives primitives, ResizeCropNormalizeConfig config)
      : px_(primitives), config_(std::move(config)) {}

  const ResizeCropNormalizeConfig& config() const { return config_; }

  ProcessedPixels process(const MmrtImage& input) const {
    RgbImage current = config_.do_convert_rgb ? px_.to_rgb(input) : copy(input);
    if (config_.do_resize) {
      const auto [height, width] = resize_output_size(config_.size, current.height, current.width);
      current = px_.resize(current.view(), int32_t(width), int32_t(height), config_.resample);
    }
    if (config_.do_center_crop)
      current = center_crop(current, int32_t(*config_.crop_size->height), int32_t(*config_.crop_size->width));
    ProcessedPixels out;
    out.values = px_.normalize(current.view(), config_.normalize, MMRT_LAYOUT_CHW);
    int64_t height = current.height, width = current.width;
    if (config_.do_pad) {
      const int64_t pad_height = *config_.pad_size->height, pad_width = *config_.pad_size->width;
      require(pad_height >= height && pad_width >= width, MMRT_STATUS_INVALID_ARGUMENT,
              str(config_.processor_type, ": pad_size ", config_.pad_size->to_string(),
                  " is smaller than the ", height, "x", width, " image"));
      std::vector<float> padded(size_t(3 * pad_height * pad_width), 0.0f);
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t y = 0; y < height; ++y) {
          std::memcpy(padded.data() + (c * pad_height + y) * pad_width,
                      out.values.data() + (c * height + y) * width, size_t(width) * sizeof(float));
        }
      }
      out.values = std::move(padded);
      height = pad_height;
      width = pad_width;
    }
    out.shape = {3, height, width};
    return out;
  }

  // Every setting that changes process()'s output, canonical.
  std::string fingerprint() const {
    const ResizeCropNormalizeConfig& c = config_;
    return c.processor_type + "(pil;convert_rgb=" + std::to_string(c.do_convert_rgb) +
           ";resize=" + std::to_string(c.do_resize) + ";size=" + c.size.to_string() +
           ";resample=" + resample_name(c.resample) + ";center_crop=" + std::to_string(c.do_center_crop) +
           ";crop_size=" + (c.crop_size ? c.crop_size->to_string() : "none") + ";" + to_string(c.normalize) +
           ";pad=" + std::to_string(c.do_pad) +
           ";pad_size=" + (c.pad_size ? c.pad_size->to_string() : "none") + ")";
  }

  // transformers center_crop(image, (height, width)): top = (H - height) // 2, left = (W - width) // 2 (floor
  // division); a smaller image is first zero-padded to max(H, height) x max(W, width) with
  // ceil((new - old) / 2) rows/columns before it, which is one PIL crop with the shifted window.
  RgbImage center_crop(const RgbImage& image, int32_t height, int32_t width) const {
    const auto floor_half = [](int32_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
    if (image.height >= height && image.width >= width) {
      return px_.crop(image.view(), floor_half(image.width - width), floor_half(image.height - height), width,
                      height);
    }
    const int32_t new_height = std::max(height, image.height), new_width = std::max(width, image.width);
    const int32_t top_pad = (new_height - image.height + 1) / 2, left_pad = (new_width - image.width + 1) / 2;
    const int32_t top = floor_half(image.height - height) + top_pad;
    const int32_t left = floor_half(image.width - width) + left_pad;
    const int32_t y_begin = std::max(0, top), y_end = std::min(new_height, top + height);
    const int32_t x_begin = std::max(0, left), x_end = std::min(new_width, left + width);
    return px_.crop(image.view(), x_begin - left_pad, y_begin - top_pad, x_end - x_begin, y_end - y_begin);
  }

 private:
  static RgbImage copy(const MmrtImage& input) {
    RgbImage out;
    out.width = input.width;
    out.height = input.height;
    out.rgb.assign(input.rgb, input.rgb + size_t(input.width) * size_t(input.height) * 3);
    return out;
  }

  Primitives px_;
  ResizeCropNormalizeConfig config_;
};

}  // namespace mmrt::sdk::image

#endif  // MMRT_SDK_IMAGE_RESIZE_CROP_NORMALIZE_HPP_
