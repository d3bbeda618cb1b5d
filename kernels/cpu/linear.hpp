#pragma once
// Matrix products through OpenBLAS sgemm (fp32 in, fp32 accumulate, fp32 out).
// Threading: OpenBLAS (pthreads build) parallelises internally. Do not call these from inside an OpenMP
// parallel region; the other CPU ops never do.

#include <cstdint>

namespace mmrt::cpu {

// nn.Linear: y = x · wᵀ + bias. bias may be null. Like torch.addmm, the bias is the initial value of y and
// the product is accumulated onto it. y must not overlap x or w.
void linear(const float* x,     // [m, k]
            const float* w,     // [n, k] (nn.Linear weight layout [out_features, in_features])
            const float* bias,  // [n] or null
            float* y,           // [m, n]
            int64_t m, int64_t n, int64_t k);

enum class Transpose { no, yes };

// General row-major GEMM with leading dimensions: c = alpha · op(a) · op(b) + beta · c, where op(a) is
// [m, k] and op(b) is [k, n]. a is stored [m, lda] (no) or [k, lda] (yes), likewise b; c is [m, ldc].
// With beta == 0, c is overwritten (it may hold NaN beforehand).
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace mmrt::cpu
