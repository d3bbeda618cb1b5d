// patch_embed and conv2d against a direct double-precision convolution loop.
// Tolerance: max |out - ref| <= 1e-5 · max |ref|.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/conv.hpp"

using mmrt::cpu::test::random_normal;
using mmrt::cpu::test::relative_max_error;

namespace {

constexpr double kTolerance = 1e-5;

// out[o, oy, ox] = bias[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · in[c, oy·s - p + ky, ox·s - p + kx] (zero outside).
std::vector<double> reference_conv2d(const std::vector<float>& in, int64_t channels, int64_t height,
                                     int64_t width, const std::vector<float>& w, const float* bias,
                                     int64_t out_ch, const mmrt::cpu::Conv2dGeometry& g, int64_t out_h,
                                     int64_t out_w) {
  std::vector<double> out(static_cast<size_t>(out_ch * out_h * out_w));
  for (int64_t o = 0; o < out_ch; ++o) {
    for (int64_t oy = 0; oy < out_h; ++oy) {
      for (int64_t ox = 0; ox < out_w; ++ox) {
        double acc = bias != nullptr ? bias[o] : 0.0;
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
            for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
              const int64_t iy = oy * g.stride_h - g.pad_h + ky, ix = ox * g.stride_w - g.pad_w + kx;
              if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
              acc += static_cast<double>(w[((o * channels + c) * g.kernel_h + ky) * g.kernel_w + kx]) *
                     in[(c * height + iy) * width + ix];
            }
          }
        }
        out[(o * out_h + oy) * out_w + ox] = acc;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("patch_embed equals a stride-patch convolution flattened to [tokens, out_ch]") {
  struct Case {
    int64_t channels, height, width, patch, out_ch;
    bool with_bias;
  };
  // 30x29 with patch 14 drops the trailing rows/columns like Conv2d.
  for (const Case& c : {Case{3, 28, 42, 14, 5, true}, Case{3, 30, 29, 14, 7, false},
                        Case{1, 4, 4, 1, 3, true}, Case{3, 64, 64, 16, 33, true}}) {
    const std::vector<float> pixels = random_normal(c.channels * c.height * c.width, 71);
    const std::vector<float> w = random_normal(c.out_ch * c.channels * c.patch * c.patch, 72);
    const std::vector<float> b = random_normal(c.out_ch, 73);
    const float* bias = c.with_bias ? b.data() : nullptr;
    const int64_t grid_h = c.height / c.patch, grid_w = c.width / c.patch;
    std::vector<float> out(grid_h * grid_w * c.out_ch, NAN);
    mmrt::cpu::patch_embed(pixels.data(), c.channels, c.height, c.width, c.patch, w.data(), bias, c.out_ch,
                           out.data());
    const mmrt::cpu::Conv2dGeometry g{c.patch, c.patch, c.patch, c.patch, 0, 0};
    const std::vector<double> conv =
        reference_conv2d(pixels, c.channels, c.height, c.width, w, bias, c.out_ch, g, grid_h, grid_w);
    std::vector<double> expected(out.size());  // [out_ch, grid_h·grid_w] -> [grid_h·grid_w, out_ch]
    for (int64_t o = 0; o < c.out_ch; ++o) {
      for (int64_t t = 0; t < grid_h * grid_w; ++t)
        expected[t * c.out_ch + o] = conv[o * grid_h * grid_w + t];
    }
    INFO("C=" << c.channels << " H=" << c.height << " W=" << c.width << " patch=" << c.patch);
    CHECK(relative_max_error(out, expected) <= kTolerance);
  }
}

TEST_CASE("conv2d with stride and padding matches the direct convolution") {
  struct Case {
    int64_t channels, height, width, out_ch;
    mmrt::cpu::Conv2dGeometry g;
  };
  for (const Case& c : {Case{3, 9, 11, 4, {3, 3, 2, 2, 1, 1}}, Case{3, 16, 12, 8, {4, 4, 4, 4, 0, 0}},
                        Case{2, 5, 7, 3, {3, 2, 1, 3, 2, 0}}, Case{1, 1, 1, 1, {1, 1, 1, 1, 0, 0}}}) {
    const std::vector<float> in = random_normal(c.channels * c.height * c.width, 81);
    const std::vector<float> w = random_normal(c.out_ch * c.channels * c.g.kernel_h * c.g.kernel_w, 82);
    const std::vector<float> b = random_normal(c.out_ch, 83);
    const int64_t out_h = mmrt::cpu::conv2d_output_size(c.height, c.g.kernel_h, c.g.stride_h, c.g.pad_h);
    const int64_t out_w = mmrt::cpu::conv2d_output_size(c.width, c.g.kernel_w, c.g.stride_w, c.g.pad_w);
    for (bool with_bias : {false, true}) {
      const float* bias = with_bias ? b.data() : nullptr;
      std::vector<float> out(c.out_ch * out_h * out_w, NAN);
      mmrt::cpu::conv2d(in.data(), c.channels, c.height, c.width, w.data(), bias, c.out_ch, c.g, out.data());
      INFO("C=" << c.channels << " H=" << c.height << " W=" << c.width << " bias=" << with_bias);
      CHECK(relative_max_error(out, reference_conv2d(in, c.channels, c.height, c.width, w, bias, c.out_ch,
                                                     c.g, out_h, out_w)) <= kTolerance);
    }
  }
}

TEST_CASE("conv2d rejects a kernel larger than the padded input") {
  std::vector<float> buffer(64, 0.0f);
  CHECK_THROWS_AS(
      mmrt::cpu::conv2d(buffer.data(), 1, 2, 2, buffer.data(), nullptr, 1, {3, 3, 1, 1, 0, 0}, buffer.data()),
      std::invalid_argument);
}
