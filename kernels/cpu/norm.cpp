#include "kernels/cpu/norm.hpp"

#include <cmath>

#include "kernels/cpu/parallel.hpp"

namespace mmrt::cpu {

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t dim,
                float eps) {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(dim);
    double sum_sq = 0.0;  // second pass around the mean: no cancellation for rows with a large offset
    for (int64_t i = 0; i < dim; ++i) {
      const double d = xr[i] - mean;
      sum_sq += d * d;
    }
    const double rstd = 1.0 / std::sqrt(sum_sq / static_cast<double>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      // Centred in double: in fp32, rounding the mean of a row with a large offset costs ~|mean|/std ulps.
      auto v = static_cast<float>((xr[i] - mean) * rstd);
      if (w != nullptr) v *= w[i];
      if (b != nullptr) v += b[i];
      yr[i] = v;
    }
  }
}

void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sum_sq = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum_sq += static_cast<double>(xr[i]) * xr[i];
    const auto mean_sq = static_cast<float>(sum_sq / static_cast<double>(dim));
    // torch.rsqrt on CPU is a correctly rounded sqrt followed by a division.
    const float rstd = 1.0f / std::sqrt(mean_sq + eps);
    for (int64_t i = 0; i < dim; ++i) {
      const float normalized = xr[i] * rstd;
      yr[i] = w != nullptr ? w[i] * normalized : normalized;
    }
  }
}

}  // namespace mmrt::cpu
