#pragma once
// Paged KV cache writes. The cache of one layer holds K and V as [n_blocks, block_size, n_head_kv, head_dim]
// each, i.e. one row of kv_dim = n_head_kv * head_dim floats per slot, where slot = block * block_size +
// offset. The scheduler's slot_mapping says where each new token's K/V row goes.
// Example: block_size 16, block table of a sequence {7, 2}: its token at position 20 goes to slot
// 2 * 16 + 4 = 36.

#include <cstdint>

namespace mmrt::cpu {

// Copies k[t] and v[t] into slot slot_mapping[t] of the caches; a slot of -1 (padding) is skipped.
// Slots must be distinct and inside the caches (not checked: the caches' size is not passed).
void kv_cache_write(const float* k,               // [n_tokens, kv_dim]
                    const float* v,               // [n_tokens, kv_dim]
                    float* k_cache,               // [n_blocks * block_size, kv_dim]
                    float* v_cache,               // [n_blocks * block_size, kv_dim]
                    const int64_t* slot_mapping,  // [n_tokens]
                    int64_t n_tokens, int64_t kv_dim);

}  // namespace mmrt::cpu
