#include "core/image/nougat_image_processor.hpp"

#include <algorithm>

#include "core/image/processor_config.hpp"
#include "core/image/size_dict.hpp"

namespace mmrt::image {

NougatImageProcessorConfig parse_nougat_image_processor_config(const util::JsonObjectView& config) {
  NougatImageProcessorConfig out;
  out.do_convert_rgb = config.get_bool("do_convert_rgb", out.do_convert_rgb);
  out.do_crop_margin = config.get_bool("do_crop_margin", out.do_crop_margin);
  out.do_align_long_axis = config.get_bool("do_align_long_axis", out.do_align_long_axis);
  out.do_resize = config.get_bool("do_resize", out.do_resize);
  if (auto size = parse_size_dict(config, "size", true)) {
    if (!size->height || !size->width) config.fail("size", "expected height and width");
    out.height = *size->height;
    out.width = *size->width;
  }
  if (out.height <= 0 || out.width <= 0) config.fail("size", "must be positive");
  out.resample = parse_resample(config, out.resample);
  out.do_thumbnail = config.get_bool("do_thumbnail", out.do_thumbnail);
  out.do_pad = config.get_bool("do_pad", out.do_pad);
  out.normalize = parse_normalize_spec(config, kImagenetDefaultMean, kImagenetDefaultStd);
  return out;
}

Image crop_margin(const Image& image) {
  const std::vector<uint8_t> grey = to_grey(image);
  const auto [min_it, max_it] = std::minmax_element(grey.begin(), grey.end());
  const int min_value = *min_it, max_value = *max_it;
  if (max_value == min_value) return image;
  int32_t x_min = image.width, y_min = image.height, x_max = -1, y_max = -1;
  for (int32_t y = 0; y < image.height; ++y) {
    for (int32_t x = 0; x < image.width; ++x) {
      const double stretched =
          static_cast<double>(grey[static_cast<size_t>(y) * image.width + x] - min_value) /
          (max_value - min_value) * 255;
      if (stretched < 200) {
        x_min = std::min(x_min, x);
        x_max = std::max(x_max, x);
        y_min = std::min(y_min, y);
        y_max = std::max(y_max, y);
      }
    }
  }
  // The darkest pixel always stretches to 0, so the box is never empty.
  return crop(image, x_min, y_min, x_max - x_min + 1, y_max - y_min + 1);
}

NougatImageProcessor::NougatImageProcessor(NougatImageProcessorConfig config) : config_(config) {}

ProcessedImage NougatImageProcessor::process(const Image& image) const {
  const NougatImageProcessorConfig& c = config_;
  Image current = c.do_convert_rgb ? composite_over_white(image) : image;
  current.alpha.clear();
  if (c.do_crop_margin) current = crop_margin(current);
  if (c.do_align_long_axis && ((c.width < c.height && current.width > current.height) ||
                               (c.width > c.height && current.width < current.height))) {
    current = rotate_clockwise(current);
  }
  if (c.do_resize) {
    SizeDict shortest;
    shortest.shortest_edge = std::min(c.height, c.width);
    const auto [height, width] = resize_output_size(shortest, current.height, current.width);
    current = resize(current, static_cast<int32_t>(width), static_cast<int32_t>(height), c.resample);
  }
  if (c.do_thumbnail) {
    int64_t height = std::min<int64_t>(current.height, c.height),
            width = std::min<int64_t>(current.width, c.width);
    if (height != current.height || width != current.width) {
      if (current.height > current.width) {
        width = static_cast<int64_t>(static_cast<double>(current.width) * height / current.height);
      } else if (current.width > current.height) {
        height = static_cast<int64_t>(static_cast<double>(current.height) * width / current.width);
      }
      current = resize_with_reducing_gap(current, static_cast<int32_t>(width), static_cast<int32_t>(height),
                                         ResampleFilter::bicubic, 2.0);
    }
  }
  if (c.do_pad) {
    const int64_t delta_height = c.height - current.height, delta_width = c.width - current.width;
    if (delta_height < 0 || delta_width < 0) {
      throw ImageError("NougatImageProcessor: a " + std::to_string(current.height) + "x" +
                       std::to_string(current.width) + " image cannot be padded to " +
                       std::to_string(c.height) + "x" + std::to_string(c.width) + " (enable do_thumbnail)");
    }
    current = pad(current, static_cast<int32_t>(delta_height / 2),
                  static_cast<int32_t>(delta_height - delta_height / 2),
                  static_cast<int32_t>(delta_width / 2), static_cast<int32_t>(delta_width - delta_width / 2));
  }
  ProcessedImage out;
  out.pixel_values = to_normalized_chw(current, c.normalize);
  out.shape = {3, current.height, current.width};
  return out;
}

std::string NougatImageProcessor::fingerprint() const {
  const NougatImageProcessorConfig& c = config_;
  return "NougatImageProcessor(pil;convert_rgb=" + std::to_string(c.do_convert_rgb) +
         ";crop_margin=" + std::to_string(c.do_crop_margin) +
         ";align_long_axis=" + std::to_string(c.do_align_long_axis) +
         ";resize=" + std::to_string(c.do_resize) + ";size=height=" + std::to_string(c.height) +
         ",width=" + std::to_string(c.width) + ";resample=" + resample_filter_name(c.resample) +
         ";thumbnail=" + std::to_string(c.do_thumbnail) + ";pad=" + std::to_string(c.do_pad) + ";" +
         to_string(c.normalize) + ")";
}

}  // namespace mmrt::image
