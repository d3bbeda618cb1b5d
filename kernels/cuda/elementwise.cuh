#pragma once
// Element-wise ops on device buffers of one dtype (f32, f16 or bf16), fp32 arithmetic, one rounding at the
// store. Semantics are those of kernels/cpu/activation.hpp and elementwise.hpp. Outputs may alias inputs
// element for element (y may be x, a, gate or up). See dtype.hpp for the shared conventions.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// The kernel table's MMRT_ACT_* values, in the same order.
enum class Activation : int32_t { gelu_erf = 0, gelu_tanh = 1, quick_gelu = 2, silu = 3, relu = 4 };

cudaError_t activation(Activation kind, DType dtype, const void* x, void* y, int64_t n,
                       cudaStream_t stream);  // [n] -> [n]

// y = act(gate) · up, act rounded to the dtype first as act_fn(gate) * up does in torch (silu_mul is
// kind silu).
cudaError_t gated_activation(Activation kind, DType dtype, const void* gate, const void* up, void* y,
                             int64_t n, cudaStream_t stream);

// y = a + b, all [n].
cudaError_t add(DType dtype, const void* a, const void* b, void* y, int64_t n, cudaStream_t stream);

// y[r, :] = a[r, :] + b[:] for rows of width dim (b broadcast over rows).
cudaError_t add_rows(DType dtype, const void* a, const void* b, void* y, int64_t rows, int64_t dim,
                     cudaStream_t stream);

// y[r, :] = b[:] for every row (a linear layer's bias as the initial value of its product).
cudaError_t fill_rows(DType dtype, const void* b, void* y, int64_t rows, int64_t dim, cudaStream_t stream);

// x *= s, [n].
cudaError_t scale(DType dtype, void* x, float s, int64_t n, cudaStream_t stream);

}  // namespace mmrt::cuda
