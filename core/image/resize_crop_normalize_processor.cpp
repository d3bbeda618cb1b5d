#include "core/image/resize_crop_normalize_processor.hpp"

#include <cstring>

#include "core/image/processor_config.hpp"

namespace mmrt::image {
namespace {

// Reads the keys every PilBackend processor shares, over the given class defaults.
ResizeCropNormalizeConfig parse_common(const util::JsonObjectView& config, ResizeCropNormalizeConfig defaults,
                                       bool default_to_square) {
  ResizeCropNormalizeConfig out = std::move(defaults);
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
  if (out.do_center_crop && !(out.crop_size && out.crop_size->height && out.crop_size->width)) {
    config.fail("crop_size", "do_center_crop needs crop_size with height and width");
  }
  if (out.do_pad && !(out.pad_size && out.pad_size->height && out.pad_size->width)) {
    config.fail("pad_size", "do_pad needs pad_size with height and width");
  }
  return out;
}

}  // namespace

ResizeCropNormalizeConfig parse_clip_image_processor_config(const util::JsonObjectView& config) {
  ResizeCropNormalizeConfig defaults;
  defaults.image_processor_type = "CLIPImageProcessor";
  defaults.size.shortest_edge = 224;
  defaults.do_center_crop = true;
  defaults.crop_size = SizeDict{};
  defaults.crop_size->height = defaults.crop_size->width = 224;
  return parse_common(config, defaults, /*default_to_square=*/false);
}

ResizeCropNormalizeConfig parse_blip_image_processor_config(const util::JsonObjectView& config) {
  ResizeCropNormalizeConfig defaults;
  defaults.image_processor_type = "BlipImageProcessor";
  defaults.size.height = defaults.size.width = 384;
  return parse_common(config, defaults, /*default_to_square=*/true);
}

ResizeCropNormalizeProcessor::ResizeCropNormalizeProcessor(ResizeCropNormalizeConfig config)
    : config_(std::move(config)) {}

ProcessedImage ResizeCropNormalizeProcessor::process(const Image& image) const {
  Image current = config_.do_convert_rgb ? composite_over_white(image) : image;
  if (config_.do_resize) {
    const auto [height, width] = resize_output_size(config_.size, current.height, current.width);
    current = resize(current, static_cast<int32_t>(width), static_cast<int32_t>(height), config_.resample);
  }
  if (config_.do_center_crop) {
    current = center_crop(current, static_cast<int32_t>(*config_.crop_size->height),
                          static_cast<int32_t>(*config_.crop_size->width));
  }
  ProcessedImage out;
  out.pixel_values = to_normalized_chw(current, config_.normalize);
  int64_t height = current.height, width = current.width;
  if (config_.do_pad) {
    const int64_t pad_height = *config_.pad_size->height, pad_width = *config_.pad_size->width;
    if (pad_height < height || pad_width < width) {
      throw ImageError(config_.image_processor_type + ": pad_size " + config_.pad_size->to_string() +
                       " is smaller than the " + std::to_string(height) + "x" + std::to_string(width) +
                       " image");
    }
    std::vector<float> padded(3 * pad_height * pad_width, 0.0f);
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t y = 0; y < height; ++y) {
        std::memcpy(padded.data() + (c * pad_height + y) * pad_width,
                    out.pixel_values.data() + (c * height + y) * width, width * sizeof(float));
      }
    }
    out.pixel_values = std::move(padded);
    height = pad_height;
    width = pad_width;
  }
  out.shape = {3, height, width};
  return out;
}

std::string ResizeCropNormalizeProcessor::fingerprint() const {
  const ResizeCropNormalizeConfig& c = config_;
  return c.image_processor_type + "(pil;convert_rgb=" + std::to_string(c.do_convert_rgb) +
         ";resize=" + std::to_string(c.do_resize) + ";size=" + c.size.to_string() +
         ";resample=" + resample_filter_name(c.resample) +
         ";center_crop=" + std::to_string(c.do_center_crop) +
         ";crop_size=" + (c.crop_size ? c.crop_size->to_string() : "none") + ";" + to_string(c.normalize) +
         ";pad=" + std::to_string(c.do_pad) + ";pad_size=" + (c.pad_size ? c.pad_size->to_string() : "none") +
         ")";
}

}  // namespace mmrt::image
