#include "core/image/qwen2_vl_image_processor.hpp"

#include <cmath>

#include "core/image/processor_config.hpp"
#include "core/image/size_dict.hpp"

namespace mmrt::image {

Qwen2VLImageProcessorConfig parse_qwen2_vl_image_processor_config(const util::JsonObjectView& config) {
  Qwen2VLImageProcessorConfig out;
  out.do_convert_rgb = config.get_bool("do_convert_rgb", out.do_convert_rgb);
  out.do_resize = config.get_bool("do_resize", out.do_resize);
  // Older files carry size {"min_pixels", "max_pixels"} next to top-level min_pixels / max_pixels; newer ones
  // size {"shortest_edge", "longest_edge"}. The top-level keys win, as in Qwen2VLImageProcessor.__init__.
  const util::JsonObjectView size = config.get_object("size");
  out.min_pixels = size.get_int("shortest_edge", size.get_int("min_pixels", out.min_pixels));
  out.max_pixels = size.get_int("longest_edge", size.get_int("max_pixels", out.max_pixels));
  out.min_pixels = config.get_int("min_pixels", out.min_pixels);
  out.max_pixels = config.get_int("max_pixels", out.max_pixels);
  out.resample = parse_resample(config, out.resample);
  out.normalize = parse_normalize_spec(config, kOpenaiClipMean, kOpenaiClipStd);
  out.patch_size = config.get_int("patch_size", out.patch_size);
  out.temporal_patch_size = config.get_int("temporal_patch_size", out.temporal_patch_size);
  out.merge_size = config.get_int("merge_size", out.merge_size);
  if (out.patch_size <= 0) config.fail("patch_size", "must be positive");
  if (out.merge_size <= 0) config.fail("merge_size", "must be positive");
  if (out.temporal_patch_size <= 0) config.fail("temporal_patch_size", "must be positive");
  if (out.min_pixels <= 0 || out.max_pixels < out.min_pixels) {
    config.fail("max_pixels", "need 0 < min_pixels <= max_pixels");
  }
  return out;
}

std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels) {
  const double h = static_cast<double>(height), w = static_cast<double>(width),
               f = static_cast<double>(factor);
  if (std::max(h, w) / std::min(h, w) > 200) {
    throw ImageError("Qwen2VLImageProcessor: absolute aspect ratio must be smaller than 200, got " +
                     std::to_string(height) + "x" + std::to_string(width));
  }
  // Python round() rounds half to even, which nearbyint does in the default rounding mode.
  int64_t h_bar = static_cast<int64_t>(std::nearbyint(h / f)) * factor;
  int64_t w_bar = static_cast<int64_t>(std::nearbyint(w / f)) * factor;
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt((h * w) / static_cast<double>(max_pixels));
    h_bar = std::max(factor, static_cast<int64_t>(std::floor(h / beta / f)) * factor);
    w_bar = std::max(factor, static_cast<int64_t>(std::floor(w / beta / f)) * factor);
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (h * w));
    h_bar = static_cast<int64_t>(std::ceil(h * beta / f)) * factor;
    w_bar = static_cast<int64_t>(std::ceil(w * beta / f)) * factor;
  }
  return {h_bar, w_bar};
}

Qwen2VLImageProcessor::Qwen2VLImageProcessor(Qwen2VLImageProcessorConfig config) : config_(config) {}

ProcessedImage Qwen2VLImageProcessor::process(const Image& image) const {
  const Qwen2VLImageProcessorConfig& c = config_;
  Image current = c.do_convert_rgb ? composite_over_white(image) : image;
  if (c.do_resize) {
    const auto [height, width] =
        smart_resize(current.height, current.width, c.patch_size * c.merge_size, c.min_pixels, c.max_pixels);
    current = resize(current, static_cast<int32_t>(width), static_cast<int32_t>(height), c.resample);
  }
  const int64_t unit = c.patch_size * c.merge_size;
  if (current.height % unit != 0 || current.width % unit != 0) {
    throw ImageError("Qwen2VLImageProcessor: image of " + std::to_string(current.height) + "x" +
                     std::to_string(current.width) +
                     " is not a multiple of patch_size * merge_size = " + std::to_string(unit));
  }
  const std::vector<float> chw = to_normalized_chw(current, c.normalize);  // [3, H, W]
  const int64_t height = current.height, width = current.width, p = c.patch_size, m = c.merge_size;
  const int64_t grid_h = height / p, grid_w = width / p, t_size = c.temporal_patch_size;
  const int64_t patch_dim = 3 * t_size * p * p;

  ProcessedImage out;
  out.pixel_values.resize(grid_h * grid_w * patch_dim);
  // [3, gh/m, m, p, gw/m, m, p] -> [gh/m, gw/m, m, m, 3, t, p, p], t a broadcast copy of the frame.
  float* dst = out.pixel_values.data();
  for (int64_t wy = 0; wy < grid_h / m; ++wy) {
    for (int64_t wx = 0; wx < grid_w / m; ++wx) {
      for (int64_t my = 0; my < m; ++my) {
        for (int64_t mx = 0; mx < m; ++mx) {
          const int64_t y0 = (wy * m + my) * p, x0 = (wx * m + mx) * p;
          for (int64_t ch = 0; ch < 3; ++ch) {
            for (int64_t t = 0; t < t_size; ++t) {
              for (int64_t py = 0; py < p; ++py) {
                const float* src = chw.data() + (ch * height + y0 + py) * width + x0;
                dst = std::copy(src, src + p, dst);
              }
            }
          }
        }
      }
    }
  }
  out.shape = {grid_h * grid_w, patch_dim};
  out.grid_thw = {1, grid_h, grid_w};
  return out;
}

std::string Qwen2VLImageProcessor::fingerprint() const {
  const Qwen2VLImageProcessorConfig& c = config_;
  return "Qwen2VLImageProcessor(pil;convert_rgb=" + std::to_string(c.do_convert_rgb) +
         ";resize=" + std::to_string(c.do_resize) + ";min_pixels=" + std::to_string(c.min_pixels) +
         ";max_pixels=" + std::to_string(c.max_pixels) + ";resample=" + resample_filter_name(c.resample) +
         ";" + to_string(c.normalize) + ";patch_size=" + std::to_string(c.patch_size) +
         ";temporal_patch_size=" + std::to_string(c.temporal_patch_size) +
         ";merge_size=" + std::to_string(c.merge_size) + ")";
}

}  // namespace mmrt::image
