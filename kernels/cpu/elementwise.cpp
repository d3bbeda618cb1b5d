#include "kernels/cpu/elementwise.hpp"

#include "kernels/cpu/parallel.hpp"

namespace mmrt::cpu {

void add(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void mul(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void scale(float* x, float s, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void add_bias_rows(float* x, const float* bias, int64_t rows, int64_t dim) {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * dim;
    for (int64_t i = 0; i < dim; ++i) xr[i] += bias[i];
  }
}

}  // namespace mmrt::cpu
