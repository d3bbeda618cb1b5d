#include "processor.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "mmrt/status.hpp"

namespace mmrt::qwen2_vl {

using sdk::require;
using sdk::str;

std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels) {
  require(height > 0 && width > 0, MMRT_STATUS_INVALID_ARGUMENT, str("image of ", width, "x", height));
  const double h = static_cast<double>(height), w = static_cast<double>(width),
               f = static_cast<double>(factor);
  require(std::max(h, w) / std::min(h, w) <= 200, MMRT_STATUS_INVALID_ARGUMENT,
          str("absolute aspect ratio must be smaller than 200, got ", width, "x", height));
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

Qwen2VLProcessor::Qwen2VLProcessor(const ImageProcessorConfig& config)
    : primitives_(sdk::image::Primitives::from_host()), config_(config), fingerprint_(config.fingerprint()) {}

void Qwen2VLProcessor::process(const MmrtImage& image, MmrtProcessorOutput& out) {
  const ImageProcessorConfig& c = config_;
  require(out.struct_size >= MMRT_SIZEOF(MmrtProcessorOutput, n_tokens), MMRT_STATUS_INVALID_ARGUMENT,
          "MmrtProcessorOutput has no n_tokens field");
  require(image.width > 0 && image.height > 0 && image.rgb != nullptr, MMRT_STATUS_INVALID_ARGUMENT,
          str("image of ", image.width, "x", image.height, " without pixels"));

  sdk::image::RgbImage converted, resized;
  MmrtImage current = image;
  if (c.do_convert_rgb && image.alpha != nullptr) {
    converted = primitives_.to_rgb(image);
    current = converted.view();
  }
  if (c.do_resize) {
    const auto [height, width] =
        smart_resize(current.height, current.width, c.patch_size * c.merge_size, c.min_pixels, c.max_pixels);
    require(
        height <= INT32_MAX && width <= INT32_MAX, MMRT_STATUS_INVALID_ARGUMENT,
        str("a ", image.width, "x", image.height, " image resizes to ", width, "x", height, ", too large"));
    resized =
        primitives_.resize(current, static_cast<int32_t>(width), static_cast<int32_t>(height), c.resample);
    current = resized.view();
  }
  const int64_t p = c.patch_size, m = c.merge_size, unit = p * m;
  const int64_t height = current.height, width = current.width;
  require(height % unit == 0 && width % unit == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str("image of ", width, "x", height, " is not a multiple of patch_size * merge_size = ", unit,
              " (do_resize is off)"));
  const std::vector<float> chw = primitives_.normalize(current, c.normalize, MMRT_LAYOUT_CHW);  // [3, H, W]

  const int64_t grid_h = height / p, grid_w = width / p, t_size = c.temporal_patch_size;
  const int64_t patch_dim = 3 * t_size * p * p;
  const int64_t shape[2] = {grid_h * grid_w, patch_dim};
  void* data = nullptr;
  sdk::check(out.alloc_tensor(out.host_ctx, "pixel_values", sdk::kF32, 2, shape, &data), "pixel_values");
  // [3, gh/m, m, p, gw/m, m, p] -> [gh/m, gw/m, m, m, 3, t, p, p], t a repeat of the one frame.
  float* dst = static_cast<float*>(data);
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
  const int64_t grid_shape[1] = {3};
  sdk::check(out.alloc_tensor(out.host_ctx, "image_grid_thw", sdk::kI64, 1, grid_shape, &data),
             "image_grid_thw");
  const int64_t grid[3] = {1, grid_h, grid_w};
  std::copy(grid, grid + 3, static_cast<int64_t*>(data));
  out.n_tokens = grid_h * grid_w / (m * m);
}

}  // namespace mmrt::qwen2_vl
