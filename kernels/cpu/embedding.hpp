#pragma once
// Token embedding lookup (nn.Embedding) from an fp32, bf16 or fp16 table, widened exactly to fp32.
// Thread-safe; single-threaded (a row per token).

#include <cstdint>

#include "kernels/cpu/convert.hpp"

namespace mmrt::cpu {

// out[i] = table[ids[i]]. Every id is checked before anything is written: an id outside [0, vocab) throws
// std::out_of_range naming the id, its position and the vocabulary size. table is aligned to its element
// size.
void embedding(const void* table,  // [vocab, dim] of table_type
               WeightType table_type, int64_t vocab, int64_t dim,
               const int32_t* ids,  // [n]
               int64_t n,
               float* out);  // [n, dim]

}  // namespace mmrt::cpu
