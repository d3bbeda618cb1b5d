#include "kernels/cpu/softmax.hpp"

#include <cmath>
#include <limits>

#include "kernels/cpu/parallel.hpp"

namespace mmrt::cpu {

namespace {

float row_max(const float* x, int64_t cols) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < cols; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

}  // namespace

void softmax(float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols >= kMinParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    const float m = row_max(xr, cols);
    if (m == -std::numeric_limits<float>::infinity()) {
      for (int64_t i = 0; i < cols; ++i) xr[i] = 0.0f;
      continue;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < cols; ++i) {
      xr[i] = std::exp(xr[i] - m);
      sum += xr[i];
    }
    const auto inv_sum = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < cols; ++i) xr[i] *= inv_sum;
  }
}

void log_softmax(const float* x, float* y, int64_t cols) {
  const float m = row_max(x, cols);
  double sum = 0.0;
  for (int64_t i = 0; i < cols; ++i) sum += std::exp(static_cast<double>(x[i]) - m);
  const double log_sum = std::log(sum);
  for (int64_t i = 0; i < cols; ++i) y[i] = static_cast<float>(static_cast<double>(x[i]) - m - log_sum);
}

}  // namespace mmrt::cpu
