#pragma once
// Row-wise normalisations over the last dimension (kernels/cpu/norm.hpp semantics): one block per row,
// statistics accumulated in double like the CPU reference, per-element arithmetic in fp32. x, w, b and y
// share one dtype; w and b may be null. y may be x.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// nn.LayerNorm with the biased variance: y = (x - mean) / sqrt(var + eps) · w + b.
cudaError_t layer_norm(DType dtype, const void* x, const void* w, const void* b, void* y, int64_t rows,
                       int64_t dim, float eps, cudaStream_t stream);  // [rows, dim] -> [rows, dim]

// Llama RMSNorm: y = w · round(x · rsqrt(mean(x²) + eps)), the normalised row rounded to the dtype before
// the weight as LlamaRMSNorm does (a no-op in f32).
cudaError_t rms_norm(DType dtype, const void* x, const void* w, void* y, int64_t rows, int64_t dim, float eps,
                     cudaStream_t stream);  // [rows, dim] -> [rows, dim]

}  // namespace mmrt::cuda
