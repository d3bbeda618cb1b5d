#include "kernels/cpu/gemv.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/linear.hpp"
#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/scratch.hpp"

namespace mmrt::cpu {
namespace {

struct GemvArgs {
  const float* x;      // [m, ldx]: rows of k values
  const std::byte* w;  // [n, k] of the kernel's WeightType
  const float* bias;   // [n] or null
  float* y;            // [m, n]
  int64_t m, n, k, ldx;
  size_t row_bytes;  // of one row of w
};

// Computes rows [j0, j1) of every output row.
using RowsKernel = void (*)(const GemvArgs&, int64_t j0, int64_t j1);

constexpr size_t element_size(WeightType t) {
  return t == WeightType::f32 ? 4 : 2;
}

// Plain loops: widen a chunk of the weight row into a buffer, then dot it with every row of x.
template <WeightType T>
void scalar_rows(const GemvArgs& a, int64_t j0, int64_t j1) {
  constexpr int64_t kChunk = 256;
  float widened[kChunk];
  for (int64_t j = j0; j < j1; ++j) {
    const std::byte* row = a.w + size_t(j) * a.row_bytes;
    float acc[kMaxGemvRows] = {};
    for (int64_t l0 = 0; l0 < a.k; l0 += kChunk) {
      const int64_t len = std::min(kChunk, a.k - l0);
      widen_to_f32(row + size_t(l0) * element_size(T), T, widened, len);
      for (int64_t r = 0; r < a.m; ++r) {
        const float* xr = a.x + r * a.ldx + l0;
        for (int64_t l = 0; l < len; ++l) acc[r] += xr[l] * widened[l];
      }
    }
    for (int64_t r = 0; r < a.m; ++r) a.y[r * a.n + j] = a.bias ? acc[r] + a.bias[j] : acc[r];
  }
}

#if defined(__x86_64__)
// Eight weights from `p` widened to fp32 (exact).
template <WeightType T>
MMRT_TARGET_AVX2 inline __m256 load8(const std::byte* p) {
  if constexpr (T == WeightType::f32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (T == WeightType::bf16) {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
    } else {
      return _mm256_cvtph_ps(half);
    }
  }
}

MMRT_TARGET_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// A pass streams kTileRows weight rows over one chunk of columns while that chunk of x (R rows of
// chunk_columns<R>() floats, 16 KiB) stays in L1. Without the chunking x (32 KiB at m = 4, k = 2048) falls
// out of L1 behind the streaming weights and is re-read from L2 for every weight row, which made the kernel,
// not memory, the limit at m >= 4. The rows of a tile stay in L2 between passes.
constexpr int64_t kTileRows = 48;  // a multiple of every block height G

template <int R>
constexpr int64_t chunk_columns() {
  return (4096 / R) & ~int64_t{7};
}

// Columns [l0, l1) (multiples of 8) of weight rows [j, j + G) against the R rows of x, accumulated onto
// partial[r][t .. t + G): R·G independent accumulators, so the loop waits on memory, not on FMA latency.
template <WeightType T, int R, int G>
MMRT_TARGET_AVX2 void avx2_block(const GemvArgs& a, int64_t j, int64_t l0, int64_t l1,
                                 __m256 (*partial)[kTileRows], int64_t t) {
  constexpr size_t kEs = element_size(T);
  const std::byte* rows[G];
  for (int g = 0; g < G; ++g) rows[g] = a.w + size_t(j + g) * a.row_bytes;
  __m256 acc[R][G];
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) acc[r][g] = partial[r][t + g];
  }
  for (int64_t l = l0; l < l1; l += 8) {
    __m256 wv[G];
    for (int g = 0; g < G; ++g) wv[g] = load8<T>(rows[g] + size_t(l) * kEs);
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_loadu_ps(a.x + r * a.ldx + l);
      for (int g = 0; g < G; ++g) acc[r][g] = _mm256_fmadd_ps(xv, wv[g], acc[r][g]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) partial[r][t + g] = acc[r][g];
  }
}

// The k % 8 last columns of row j, through zero-padded copies so they run the same vector code.
template <WeightType T, int R>
MMRT_TARGET_AVX2 void avx2_tail(const GemvArgs& a, int64_t j, int64_t k8, __m256 (*partial)[kTileRows],
                                int64_t t) {
  constexpr size_t kEs = element_size(T);
  const size_t tail = size_t(a.k - k8);
  alignas(32) std::byte w_tail[8 * kEs] = {};
  std::memcpy(w_tail, a.w + size_t(j) * a.row_bytes + size_t(k8) * kEs, tail * kEs);
  const __m256 wv = load8<T>(w_tail);
  for (int r = 0; r < R; ++r) {
    alignas(32) float x_tail[8] = {};
    std::memcpy(x_tail, a.x + r * a.ldx + k8, tail * sizeof(float));
    partial[r][t] = _mm256_fmadd_ps(_mm256_load_ps(x_tail), wv, partial[r][t]);
  }
}

template <WeightType T, int R>
MMRT_TARGET_AVX2 void avx2_rows(const GemvArgs& a, int64_t j0, int64_t j1) {
  // Weight rows per block: R·G accumulators plus G weight vectors fit the 16 ymm registers, and as many
  // independent FMA chains as fit (FMA latency 4 × 2 pipes wants 8 or more) keep the FMA pipes busy.
  constexpr int G = R <= 2 ? 4 : R <= 4 ? 3 : R <= 6 ? 2 : 1;
  constexpr int64_t kChunk = chunk_columns<R>();
  const int64_t k8 = a.k & ~int64_t{7};
  for (int64_t jt = j0; jt < j1; jt += kTileRows) {
    const int64_t rows = std::min(kTileRows, j1 - jt);
    __m256 partial[R][kTileRows];
    for (int r = 0; r < R; ++r) {
      for (int64_t t = 0; t < kTileRows; ++t) partial[r][t] = _mm256_setzero_ps();
    }
    for (int64_t l0 = 0; l0 < k8; l0 += kChunk) {
      const int64_t l1 = std::min(l0 + kChunk, k8);
      int64_t t = 0;
      for (; t + G <= rows; t += G) avx2_block<T, R, G>(a, jt + t, l0, l1, partial, t);
      for (; t < rows; ++t) avx2_block<T, R, 1>(a, jt + t, l0, l1, partial, t);
    }
    if (k8 < a.k) {
      for (int64_t t = 0; t < rows; ++t) avx2_tail<T, R>(a, jt + t, k8, partial, t);
    }
    for (int r = 0; r < R; ++r) {
      for (int64_t t = 0; t < rows; ++t) {
        const float dot = horizontal_sum(partial[r][t]);
        a.y[r * a.n + jt + t] = a.bias ? dot + a.bias[jt + t] : dot;
      }
    }
  }
}

template <WeightType T, size_t... I>
constexpr std::array<RowsKernel, kMaxGemvRows> avx2_kernels(std::index_sequence<I...>) {
  return {&avx2_rows<T, int(I) + 1>...};
}

template <WeightType T>
constexpr std::array<RowsKernel, kMaxGemvRows> kAvx2Kernels =
    avx2_kernels<T>(std::make_index_sequence<kMaxGemvRows>{});
#endif

RowsKernel pick_kernel(Isa isa, WeightType type, int64_t m) {
#if defined(__x86_64__)
  if (isa == Isa::avx2) {
    switch (type) {
      case WeightType::f32:
        return kAvx2Kernels<WeightType::f32>[size_t(m - 1)];
      case WeightType::bf16:
        return kAvx2Kernels<WeightType::bf16>[size_t(m - 1)];
      case WeightType::f16:
        return kAvx2Kernels<WeightType::f16>[size_t(m - 1)];
    }
  }
#endif
  switch (type) {
    case WeightType::f32:
      return &scalar_rows<WeightType::f32>;
    case WeightType::bf16:
      return &scalar_rows<WeightType::bf16>;
    case WeightType::f16:
      return &scalar_rows<WeightType::f16>;
  }
  return nullptr;
}

}  // namespace

void gemv_rows(Isa isa, const float* x, const void* w, WeightType w_type, const float* bias, float* y,
               int64_t m, int64_t n, int64_t k) {
  if (m < 1 || m > kMaxGemvRows) {
    throw std::invalid_argument("gemv_rows: m = " + std::to_string(m) + " is outside [1, " +
                                std::to_string(kMaxGemvRows) + "]");
  }
  if (isa == Isa::avx2 && !cpu_has_avx2())
    throw std::invalid_argument("gemv_rows: this CPU lacks AVX2/FMA/F16C");
  // With k a multiple of 1024 the rows of x lie a multiple of 4 KiB apart, so the same column of every row
  // falls in one L1 set: eight rows fill its eight ways and the weight stream evicts them. A copy whose
  // stride is off by a cache line spreads them over the sets.
  int64_t ldx = k;
  if (m > 1) {
    ldx = (k + 15) / 16 * 16 + 16;
    float* padded = thread_scratch(ScratchSlot::gemv_x, size_t(m * ldx));
    for (int64_t r = 0; r < m; ++r) std::memcpy(padded + r * ldx, x + r * k, size_t(k) * sizeof(float));
    x = padded;
  }
  const GemvArgs args{x,   static_cast<const std::byte*>(w), bias, y, m, n, k,
                      ldx, size_t(k) * element_size(w_type)};
  const RowsKernel kernel = pick_kernel(isa, w_type, m);
  // Ranges are whole groups of 4 rows, so the blocked kernels rarely fall back to single rows.
  constexpr int64_t kGroup = 4;
  const int64_t groups = (n + kGroup - 1) / kGroup;
#pragma omp parallel if (n * std::max <int64_t>(k, 1) >= kMinParallelElements)
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t j0 = std::min(n, groups * t / threads * kGroup);
    const int64_t j1 = std::min(n, groups * (t + 1) / threads * kGroup);
    kernel(args, j0, j1);
  }
}

}  // namespace mmrt::cpu
