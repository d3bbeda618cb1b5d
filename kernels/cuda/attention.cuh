#pragma once
// Dense multi-head attention, kernels/cpu/attention.hpp semantics: out = softmax(q·kᵀ·scale + bias + causal
// mask)·v per head; GQA (query head h reads kv head h / (n_head / n_head_kv)); causal lets query i see keys
// j <= i + n_kv - n_q; a query that sees nothing gets zeros. A FlashAttention-style tiled kernel
// (attention_core.cuh): one block per (8 query rows of a sequence, head), keys streamed through shared
// memory, online softmax in fp32. head_dim at most 256.
//
// attention_varlen attends many sequences in one launch (Swin windows, the images of a batch). Which
// sequence a block serves comes from a chunk table the host builds from its offsets (build_varlen_table)
// and copies to the device: [n_chunks] pairs (sequence, first row), then cu_q [n_seqs + 1], then cu_k
// [n_seqs + 1], all int32.

#include <vector>

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

// Host side: the chunk table of sequences with the given offsets (host memory) into `table`, reused
// between calls; varlen_chunks() is its chunk count.
void build_varlen_table(const int32_t* cu_q, const int32_t* cu_k, int64_t n_seqs,
                        std::vector<int32_t>& table);
int64_t varlen_chunks(const std::vector<int32_t>& table, int64_t n_seqs);

// Sequence s adds bias[s % bias_period] ([bias_period, n_head, n_q, n_k] f32, sequences of one size) when
// bias is not null.
cudaError_t attention_varlen(DType dtype,
                             const void* q,  // [Σ n_q, n_head, head_dim]
                             const void* k,  // [Σ n_k, n_head_kv, head_dim]
                             const void* v,  // [Σ n_k, n_head_kv, head_dim]
                             const float* bias, int64_t bias_period,
                             void* out,             // [Σ n_q, n_head, head_dim]
                             const int32_t* table,  // the chunk table, device memory
                             int64_t n_chunks, int64_t n_seqs, int64_t n_head, int64_t n_head_kv,
                             int64_t head_dim, float scale, bool causal, cudaStream_t stream);

}  // namespace mmrt::cuda
