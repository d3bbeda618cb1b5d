// layer_norm and rms_norm against double-precision formulas (nn.LayerNorm with biased variance, eps inside
// the sqrt; Llama RMSNorm). Tolerance: max |y - ref| <= 2e-6 · max |ref|.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/norm.hpp"

using mmrt::cpu::test::random_normal;
using mmrt::cpu::test::relative_max_error;

namespace {

constexpr double kTolerance = 2e-6;

std::vector<double> reference_layer_norm(const std::vector<float>& x, const float* w, const float* b,
                                         int64_t rows, int64_t dim, double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= static_cast<double>(dim);
    for (int64_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    var /= static_cast<double>(dim);  // biased, as torch
    for (int64_t i = 0; i < dim; ++i) {
      double v = (x[r * dim + i] - mean) / std::sqrt(var + eps);
      if (w != nullptr) v *= w[i];
      if (b != nullptr) v += b[i];
      y[r * dim + i] = v;
    }
  }
  return y;
}

std::vector<double> reference_rms_norm(const std::vector<float>& x, const float* w, int64_t rows, int64_t dim,
                                       double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ms = 0.0;
    for (int64_t i = 0; i < dim; ++i) ms += static_cast<double>(x[r * dim + i]) * x[r * dim + i];
    ms /= static_cast<double>(dim);
    for (int64_t i = 0; i < dim; ++i)
      y[r * dim + i] = (w != nullptr ? w[i] : 1.0) * x[r * dim + i] / std::sqrt(ms + eps);
  }
  return y;
}

}  // namespace

TEST_CASE("layer_norm matches the biased-variance formula, affine or not") {
  for (int64_t rows : {1, 3, 33}) {
    for (int64_t dim : {1, 7, 65, 4096}) {
      for (float offset : {0.0f, 1000.0f}) {  // a large row mean must not cost precision
        const auto seed = static_cast<uint32_t>(rows * 7 + dim);
        const std::vector<float> x = random_normal(rows * dim, seed, 2.0f, offset);
        const std::vector<float> w = random_normal(dim, seed + 1);
        const std::vector<float> b = random_normal(dim, seed + 2);
        for (bool affine : {false, true}) {
          const float* wp = affine ? w.data() : nullptr;
          const float* bp = affine ? b.data() : nullptr;
          std::vector<float> y(x.size());
          mmrt::cpu::layer_norm(x.data(), wp, bp, y.data(), rows, dim, 1e-5f);
          INFO("rows=" << rows << " dim=" << dim << " offset=" << offset << " affine=" << affine);
          CHECK(relative_max_error(y, reference_layer_norm(x, wp, bp, rows, dim, 1e-5)) <= kTolerance);
        }
      }
    }
  }
}

TEST_CASE("layer_norm works in place and respects eps on constant rows") {
  std::vector<float> x = {3.0f, 3.0f, 3.0f, 3.0f, 1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<double> expected = reference_layer_norm(x, nullptr, nullptr, 2, 4, 1e-6);
  mmrt::cpu::layer_norm(x.data(), nullptr, nullptr, x.data(), 2, 4, 1e-6f);
  CHECK(relative_max_error(x, expected) <= kTolerance);
  CHECK(x[0] == 0.0f);  // zero variance: (x - mean) = 0, no division by zero thanks to eps
}

TEST_CASE("rms_norm matches w · x / sqrt(mean(x²) + eps), in place too") {
  for (int64_t rows : {1, 3, 33}) {
    for (int64_t dim : {1, 7, 65, 4096}) {
      const auto seed = static_cast<uint32_t>(rows * 13 + dim);
      const std::vector<float> x = random_normal(rows * dim, seed, 3.0f);
      const std::vector<float> w = random_normal(dim, seed + 1);
      for (bool weighted : {false, true}) {
        const float* wp = weighted ? w.data() : nullptr;
        std::vector<float> y = x;
        mmrt::cpu::rms_norm(y.data(), wp, y.data(), rows, dim, 1e-6f);
        INFO("rows=" << rows << " dim=" << dim << " weighted=" << weighted);
        CHECK(relative_max_error(y, reference_rms_norm(x, wp, rows, dim, 1e-6)) <= kTolerance);
      }
    }
  }
}
