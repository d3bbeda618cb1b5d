#pragma once
// NeoX (half-rotation) rotary embeddings in place, kernels/cpu/rope.hpp semantics: angle_j = float(pos) ·
// inv_freq[j] in fp32, cos and sin in full-precision fp32 (cosf/sinf, not the fast intrinsics), the rotation
// in fp32 with one rounding to the dtype per element. One thread per rotated pair.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// x [n_tokens, n_heads, head_dim]; the first rot_dim dims rotate (rot_dim even, <= head_dim); positions
// int32 [n_tokens]; inv_freq f32 [rot_dim / 2]; cos and sin are multiplied by attention_scaling.
cudaError_t rope(DType dtype, void* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rot_dim,
                 const int32_t* positions, const float* inv_freq, float attention_scaling,
                 cudaStream_t stream);

// Qwen2-VL multimodal RoPE over the whole head: pair j takes its position from row 0 (t) of positions3
// [3, n_tokens] for j < section[0], row 1 (h) below section[0] + section[1], else row 2 (w). The section
// must sum to head_dim / 2 (the caller checks).
cudaError_t mrope(DType dtype, void* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                  const int32_t* positions3, const float* inv_freq, const int32_t section[3],
                  cudaStream_t stream);

}  // namespace mmrt::cuda
