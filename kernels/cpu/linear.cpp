#include "kernels/cpu/linear.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstring>

namespace mmrt::cpu {

namespace {

CBLAS_TRANSPOSE to_cblas(Transpose t) {
  return t == Transpose::yes ? CblasTrans : CblasNoTrans;
}

}  // namespace

void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // BLAS rejects k == 0 with leading dimensions of 0; the product is empty, so only the beta term remains.
    for (int64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, to_cblas(trans_a), to_cblas(trans_b), static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n, int64_t k) {
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i) std::memcpy(y + i * n, bias, static_cast<size_t>(n) * sizeof(float));
  }
  gemm(Transpose::no, Transpose::yes, m, n, k, 1.0f, x, std::max<int64_t>(k, 1), w, std::max<int64_t>(k, 1),
       bias != nullptr ? 1.0f : 0.0f, y, n);
}

}  // namespace mmrt::cpu
