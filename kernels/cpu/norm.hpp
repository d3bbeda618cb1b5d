#pragma once
// Row-wise normalisations over the last dimension. Statistics are accumulated in double (so long rows do not
// drift from torch's pairwise fp32 sums), the per-element arithmetic is fp32 in torch's operation order.
// x and y may be the same buffer. Rows are processed in parallel with OpenMP.

#include <cstdint>

namespace mmrt::cpu {

// nn.LayerNorm: y = (x - mean) / sqrt(var + eps) · w + b with the biased variance. w and b may be null
// (elementwise_affine=False, or bias=False).
void layer_norm(const float* x,  // [rows, dim]
                const float* w,  // [dim] or null
                const float* b,  // [dim] or null
                float* y,        // [rows, dim]
                int64_t rows, int64_t dim, float eps);

// Llama/Qwen2 RMSNorm and T5LayerNorm in fp32: y = w · (x · rsqrt(mean(x²) + eps)). No mean subtraction,
// no bias. w may be null (plain scaling).
void rms_norm(const float* x,  // [rows, dim]
              const float* w,  // [dim] or null
              float* y,        // [rows, dim]
              int64_t rows, int64_t dim, float eps);

}  // namespace mmrt::cpu
