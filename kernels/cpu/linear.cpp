#include "kernels/cpu/linear.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemv.hpp"
#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/scratch.hpp"

namespace mmrt::cpu {

namespace {

// fp32 elements of one widened panel of a 16-bit weight (4 MiB): it stays in the last-level cache between
// its widening and sgemm reading it, so the weight crosses the memory bus once, at 2 bytes per element.
constexpr int64_t kPanelFloats = int64_t{1} << 20;

CBLAS_TRANSPOSE to_cblas(Transpose t) {
  return t == Transpose::yes ? CblasTrans : CblasNoTrans;
}

// Rows [row0, row0 + rows) of the [*, k] weight `w`, widened into `panel` [rows, k].
void widen_rows(const void* w, WeightType type, int64_t row0, int64_t rows, int64_t k, float* panel) {
  const size_t row_bytes = size_t(k) * (type == WeightType::f32 ? 4 : 2);
  const auto* base = static_cast<const std::byte*>(w) + size_t(row0) * row_bytes;
#pragma omp parallel for schedule(static) if (rows * k >= kMinParallelElements)
  for (int64_t r = 0; r < rows; ++r) widen_to_f32(base + size_t(r) * row_bytes, type, panel + r * k, k);
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

void linear(const float* x, const void* w, WeightType w_type, const float* bias, float* y, int64_t m,
            int64_t n, int64_t k) {
  if (m == 0 || n == 0) return;
  if (m <= kMaxGemvRows) {
    gemv_rows(best_isa(), x, w, w_type, bias, y, m, n, k);
    return;
  }
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i) std::memcpy(y + i * n, bias, static_cast<size_t>(n) * sizeof(float));
  }
  const int64_t ld = std::max<int64_t>(k, 1);
  const float beta = bias != nullptr ? 1.0f : 0.0f;
  if (w_type == WeightType::f32) {
    gemm(Transpose::no, Transpose::yes, m, n, k, 1.0f, x, ld, static_cast<const float*>(w), ld, beta, y, n);
    return;
  }
  const int64_t panel_rows = std::clamp<int64_t>(kPanelFloats / ld, 1, n);
  float* panel = thread_scratch(ScratchSlot::weight_panel, size_t(panel_rows * k));
  for (int64_t j0 = 0; j0 < n; j0 += panel_rows) {
    const int64_t rows = std::min(panel_rows, n - j0);
    widen_rows(w, w_type, j0, rows, k, panel);
    gemm(Transpose::no, Transpose::yes, m, rows, k, 1.0f, x, ld, panel, ld, beta, y + j0, n);
  }
}

}  // namespace mmrt::cpu
