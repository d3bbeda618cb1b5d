#pragma once
// Attention of a mixed batch (prefill chunks and decode steps) over a paged KV cache, in one call.
//
// Layout: the K and V caches of a layer are [n_blocks, block_size, n_head_kv, head_dim] (see kv_cache.hpp);
// cache position p of sequence s lives in slot block_tables[s][p / block_size] * block_size + p % block_size.
// The query tokens of sequence s are rows query_start[s] .. query_start[s+1]-1 of q. seq_lens[s] counts the
// cached tokens of s including this step's, whose K/V must already be written (kv_cache_write). Query row i
// of s (0-based within s) sits at position seq_lens[s] - n_q_s + i and, when causal, attends to cache
// positions <= its own; otherwise (cross attention over a cached encoder memory) to all seq_lens[s] of them.
// rel_bias, when given, adds T5's relative position bias table[bucket(key - query position), h] to every
// score (relative_position.hpp). Heads, GQA and scale are as in attention.hpp.
// Example: decode of s0 (seq_len 9) and a 3-token prefill of s1: query_start {0, 1, 4}, seq_lens {9, 3};
// row 0 sees positions 0..8 of s0, rows 1..3 see positions 0, 0..1, 0..2 of s1.
// Throws std::invalid_argument (naming the sequence) for a causal query count above seq_len or a seq_len that
// needs more than max_blocks_per_seq blocks. Block ids are not range-checked (the cache size is not passed).
// Threading: OpenMP over (sequence, kv head, block of query rows). out must not overlap q or the caches.

#include <cstdint>

#include "kernels/cpu/relative_position.hpp"

namespace mmrt::cpu {

struct RelativePositionBias {
  const float* table;  // [n_buckets, n_head]
  RelativeBuckets buckets;
};

void paged_attention(const float* q,               // [n_tokens, n_head * head_dim]
                     const float* k_cache,         // [n_blocks, block_size, n_head_kv, head_dim]
                     const float* v_cache,         // [n_blocks, block_size, n_head_kv, head_dim]
                     float* out,                   // [n_tokens, n_head * head_dim]
                     const int32_t* query_start,   // [n_seqs + 1], query_start[n_seqs] = n_tokens
                     const int32_t* seq_lens,      // [n_seqs]
                     const int32_t* block_tables,  // [n_seqs, max_blocks_per_seq]
                     int64_t n_seqs, int64_t max_blocks_per_seq, int64_t block_size, int64_t n_head,
                     int64_t n_head_kv, int64_t head_dim, float scale, bool causal,
                     const RelativePositionBias* rel_bias);  // or null

}  // namespace mmrt::cpu
