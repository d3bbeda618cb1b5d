#include "kernels/cpu/conv.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/cpu/linear.hpp"
#include "kernels/cpu/scratch.hpp"

namespace mmrt::cpu {

void patch_embed(const float* pixels, int64_t channels, int64_t height, int64_t width, int64_t patch,
                 const float* weight, const float* bias, int64_t out_ch, float* out) {
  const int64_t grid_h = height / patch;
  const int64_t grid_w = width / patch;
  const int64_t n_patches = grid_h * grid_w;
  const int64_t patch_dim = channels * patch * patch;  // (c, y, x) order, matching the weight's flattening
  float* cols = thread_scratch(ScratchSlot::im2col, static_cast<size_t>(n_patches * patch_dim));
  const auto patch_row_bytes = static_cast<size_t>(patch) * sizeof(float);
  for (int64_t py = 0; py < grid_h; ++py) {
    for (int64_t px = 0; px < grid_w; ++px) {
      float* col = cols + (py * grid_w + px) * patch_dim;  // -> [channels, patch, patch]
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t y = 0; y < patch; ++y) {
          const float* src = pixels + (c * height + py * patch + y) * width + px * patch;
          std::memcpy(col + (c * patch + y) * patch, src, patch_row_bytes);
        }
      }
    }
  }
  linear(cols, weight, bias, out, n_patches, out_ch, patch_dim);
}

int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

void conv2d(const float* input, int64_t channels, int64_t height, int64_t width, const float* weight,
            const float* bias, int64_t out_ch, const Conv2dGeometry& geometry, float* out) {
  const Conv2dGeometry& g = geometry;
  if (g.stride_h <= 0 || g.stride_w <= 0 || g.kernel_h > height + 2 * g.pad_h ||
      g.kernel_w > width + 2 * g.pad_w) {
    throw std::invalid_argument("conv2d: kernel " + std::to_string(g.kernel_h) + "x" +
                                std::to_string(g.kernel_w) + " stride " + std::to_string(g.stride_h) + "x" +
                                std::to_string(g.stride_w) + " does not fit input " + std::to_string(height) +
                                "x" + std::to_string(width) + " padded by " + std::to_string(g.pad_h) + "x" +
                                std::to_string(g.pad_w));
  }
  const int64_t out_h = conv2d_output_size(height, g.kernel_h, g.stride_h, g.pad_h);
  const int64_t out_w = conv2d_output_size(width, g.kernel_w, g.stride_w, g.pad_w);
  const int64_t n_out = out_h * out_w;
  const int64_t patch_dim = channels * g.kernel_h * g.kernel_w;
  // cols [patch_dim, n_out]: row (c, ky, kx) holds that input tap for every output position.
  float* cols = thread_scratch(ScratchSlot::im2col, static_cast<size_t>(patch_dim * n_out));
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
      for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
        float* row = cols + ((c * g.kernel_h + ky) * g.kernel_w + kx) * n_out;
        for (int64_t oy = 0; oy < out_h; ++oy) {
          const int64_t iy = oy * g.stride_h - g.pad_h + ky;
          for (int64_t ox = 0; ox < out_w; ++ox) {
            const int64_t ix = ox * g.stride_w - g.pad_w + kx;
            const bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
            row[oy * out_w + ox] = inside ? input[(c * height + iy) * width + ix] : 0.0f;
          }
        }
      }
    }
  }
  if (bias != nullptr) {
    for (int64_t o = 0; o < out_ch; ++o) {
      for (int64_t p = 0; p < n_out; ++p) out[o * n_out + p] = bias[o];
    }
  }
  gemm(Transpose::no, Transpose::no, out_ch, n_out, patch_dim, 1.0f, weight, patch_dim, cols, n_out,
       bias != nullptr ? 1.0f : 0.0f, out, n_out);
}

}  // namespace mmrt::cpu
