#pragma once
// Matrix products: nn.Linear with fp32, bf16 or fp16 weights and fp32 activations, and a general fp32 GEMM.
// 16-bit weights are widened to fp32 exactly inside the kernel and every product is accumulated in fp32,
// so a bf16 weight gives the same values as its fp32 copy would (up to summation order).
//
// Two paths, chosen by the number of rows m:
//   m <= kMaxGemvRows (decode): a matrix-vector kernel (gemv.hpp) that reads each weight row once for all m
//     rows, split across the OpenMP threads; this is memory-bound, so it runs at the speed weights stream.
//   larger m (prefill, vision towers): OpenBLAS sgemm, which is compute-bound there; 16-bit weights are
//     widened one panel of rows at a time into per-thread scratch first.
// Threading: the gemv path and the widening use OpenMP, sgemm OpenBLAS's own threads; the two never run at
// once. Do not call these from inside an OpenMP parallel region; the other CPU ops never do.

#include <cstdint>

#include "kernels/cpu/convert.hpp"

namespace mmrt::cpu {

// Up to this many rows, linear streams the weights once per call instead of calling sgemm.
constexpr int64_t kMaxGemvRows = 8;

// nn.Linear: y = x · wᵀ + bias. bias may be null. Like torch.addmm, the bias is the initial value of y and
// the product is accumulated onto it. y must not overlap x or w; w is aligned to its element size.
void linear(const float* x,     // [m, k]
            const void* w,      // [n, k] of w_type (nn.Linear weight layout [out_features, in_features])
            WeightType w_type,  //
            const float* bias,  // [n] or null
            float* y,           // [m, n]
            int64_t m, int64_t n, int64_t k);

inline void linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n,
                   int64_t k) {
  linear(x, w, WeightType::f32, bias, y, m, n, k);
}

enum class Transpose { no, yes };

// General row-major GEMM with leading dimensions: c = alpha · op(a) · op(b) + beta · c, where op(a) is
// [m, k] and op(b) is [k, n]. a is stored [m, lda] (no) or [k, lda] (yes), likewise b; c is [m, ldc].
// With beta == 0, c is overwritten (it may hold NaN beforehand).
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace mmrt::cpu
