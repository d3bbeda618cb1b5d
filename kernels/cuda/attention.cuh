#pragma once
// Dense multi-head attention within one sequence, kernels/cpu/attention.hpp semantics: out =
// softmax(q·kᵀ·scale
// + bias + causal mask)·v per head; GQA (query head h reads kv head h / (n_head / n_head_kv)); causal lets
// query i see keys j <= i + n_kv - n_q; a query that sees nothing gets zeros. A FlashAttention-style tiled
// kernel (attention_core.cuh): one block per (8 query rows, head), keys streamed through shared memory,
// online softmax in fp32. head_dim at most 256.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

inline constexpr int64_t kAttentionMaxHeadDim = 256;

cudaError_t attention(DType dtype,
                      const void* q,      // [n_q, n_head, head_dim]
                      const void* k,      // [n_kv, n_head_kv, head_dim]
                      const void* v,      // [n_kv, n_head_kv, head_dim]
                      const float* bias,  // [n_head, n_q, n_kv] f32, or null
                      void* out,          // [n_q, n_head, head_dim]
                      int64_t n_q, int64_t n_kv, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                      float scale, bool causal, cudaStream_t stream);

}  // namespace mmrt::cuda
