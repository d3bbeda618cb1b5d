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

namespace mmrt::cpu {
namespace {

struct GemvArgs {
  const float* x;      // [m, k]
  const std::byte* w;  // [n, k] of the kernel's WeightType
  const float* bias;   // [n] or null
  float* y;            // [m, n]
  int64_t m, n, k;
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
        const float* xr = a.x + r * a.k + l0;
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

// Weight rows [j, j + G) against the R rows of x: R·G accumulators, so the FMAs of one step are
// independent and the loop waits on memory, not on FMA latency. The k % 8 tail goes through zero-padded
// copies, so it runs the same vector code.
template <WeightType T, int R, int G>
MMRT_TARGET_AVX2 void avx2_block(const GemvArgs& a, int64_t j) {
  constexpr size_t kEs = element_size(T);
  const std::byte* rows[G];
  for (int g = 0; g < G; ++g) rows[g] = a.w + size_t(j + g) * a.row_bytes;
  __m256 acc[R][G];
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) acc[r][g] = _mm256_setzero_ps();
  }
  const int64_t k8 = a.k & ~int64_t{7};
  for (int64_t l = 0; l < k8; l += 8) {
    __m256 wv[G];
    for (int g = 0; g < G; ++g) wv[g] = load8<T>(rows[g] + size_t(l) * kEs);
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_loadu_ps(a.x + r * a.k + l);
      for (int g = 0; g < G; ++g) acc[r][g] = _mm256_fmadd_ps(xv, wv[g], acc[r][g]);
    }
  }
  if (const int64_t tail = a.k - k8; tail > 0) {
    alignas(32) std::byte w_tail[G][8 * kEs] = {};
    alignas(32) float x_tail[8] = {};
    __m256 wv[G];
    for (int g = 0; g < G; ++g) {
      std::memcpy(w_tail[g], rows[g] + size_t(k8) * kEs, size_t(tail) * kEs);
      wv[g] = load8<T>(w_tail[g]);
    }
    for (int r = 0; r < R; ++r) {
      std::memcpy(x_tail, a.x + r * a.k + k8, size_t(tail) * sizeof(float));
      const __m256 xv = _mm256_load_ps(x_tail);
      for (int g = 0; g < G; ++g) acc[r][g] = _mm256_fmadd_ps(xv, wv[g], acc[r][g]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) {
      const float dot = horizontal_sum(acc[r][g]);
      a.y[r * a.n + j + g] = a.bias ? dot + a.bias[j + g] : dot;
    }
  }
}

template <WeightType T, int R>
MMRT_TARGET_AVX2 void avx2_rows(const GemvArgs& a, int64_t j0, int64_t j1) {
  // Up to 8 accumulators plus G weight vectors and one x vector fit the 16 ymm registers.
  constexpr int G = R <= 2 ? 4 : R <= 4 ? 2 : 1;
  int64_t j = j0;
  for (; j + G <= j1; j += G) avx2_block<T, R, G>(a, j);
  for (; j < j1; ++j) avx2_block<T, R, 1>(a, j);
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
  const GemvArgs args{x, static_cast<const std::byte*>(w), bias, y, m, n,
                      k, size_t(k) * element_size(w_type)};
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
