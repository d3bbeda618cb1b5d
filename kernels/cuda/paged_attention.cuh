#pragma once
// The paged KV cache on the GPU (kernels/cpu/kv_cache.hpp and paged_attention.hpp semantics). A layer's
// caches are [n_blocks, block_size, n_head_kv, head_dim] in the activation dtype; slot = block ·
// block_size + offset.
//
// Attention of a mixed batch (prefill chunks and decode steps): row r of sequence s (rows query_start[s] ..
// query_start[s+1]-1, the last n_q positions of its seq_lens[s] cached tokens) attends causally to that
// sequence's cached keys, or to all of them when the mode is not causal. A block serves up to 8 queries that
// read the same keys: a chunk of consecutive rows of one sequence times heads of one GQA group. When the grid
// alone would leave the GPU idle (decode of few sequences over long contexts), the context is split into
// parts attended by separate blocks and a second kernel merges their softmax states: that needs the workspace
// the plan asks for.
//
// The layout tensors live on the device and cannot be checked on the host without a synchronisation, so
// the kernels are defensive: slots outside the cache are not written, block ids outside it are clamped
// (garbage in, no fault), seq_lens are capped at the block table's capacity, and rows no sequence covers
// are left untouched (single pass) or zeroed (split pass). The host validates everything it can see.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// Copies k[t] and v[t] ([n_tokens, kv_dim]) into slot slot_mapping[t] of the caches ([n_slots, kv_dim]);
// slot -1 (padding) and slots outside [0, n_slots) are skipped.
cudaError_t kv_cache_write(DType dtype, const void* k, const void* v, void* k_cache, void* v_cache,
                           const int64_t* slot_mapping, int64_t n_tokens, int64_t kv_dim, int64_t n_slots,
                           cudaStream_t stream);

struct PagedAttentionShape {
  int64_t n_tokens;    // rows of q
  int64_t n_seqs;      // sequences of the batch
  int64_t n_head;      // query heads
  int64_t n_head_kv;   // kv heads (divides n_head)
  int64_t head_dim;    // at most 256
  int64_t max_blocks;  // block table width
  int64_t block_size;
  int64_t n_blocks;  // blocks in the cache
};

// How a call is split; deterministic in the shape and the device's multiprocessor count.
struct PagedAttentionPlan {
  int64_t n_splits;        // context parts (1: no merge pass)
  int64_t split_keys;      // keys per part, a multiple of the key tile
  size_t workspace_bytes;  // device scratch the call needs (0 when n_splits == 1)
};

// T5's relative position bias (kernels/cpu/relative_position.hpp, whose RelativeBuckets the host copies in
// field for field): bucket(d) exact below max_exact, then one more per threshold the distance reaches.
struct RelativeBias {
  static constexpr int kMaxThresholds = 128;
  const float* table;  // [n_buckets, n_head] f32 on the device, or null: no bias
  int32_t per_direction, max_exact, bidirectional, n_thresholds;
  int64_t thresholds[kMaxThresholds];
};

// What paged_attention_ex adds to paged_attention: the causal switch (false: every cached key, cross
// attention) and the relative bias, added at the query position seq_len - n_q + row.
struct PagedAttentionMode {
  bool causal;
  RelativeBias rel_bias;
};

// sm_count: multiprocessors of the GPU (cudaDevAttrMultiProcessorCount).
PagedAttentionPlan plan_paged_attention(const PagedAttentionShape& shape, int sm_count);

cudaError_t paged_attention(DType dtype, const PagedAttentionShape& shape, const PagedAttentionPlan& plan,
                            const void* q,                // [n_tokens, n_head, head_dim]
                            const void* k_cache,          // [n_blocks, block_size, n_head_kv, head_dim]
                            const void* v_cache,          // like k_cache
                            const int32_t* query_start,   // [n_seqs + 1]
                            const int32_t* seq_lens,      // [n_seqs]
                            const int32_t* block_tables,  // [n_seqs, max_blocks]
                            float scale, const PagedAttentionMode& mode,
                            void* out,        // [n_tokens, n_head, head_dim]
                            void* workspace,  // plan.workspace_bytes of device memory, or null when 0
                            cudaStream_t stream);

}  // namespace mmrt::cuda
