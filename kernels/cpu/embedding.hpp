#pragma once
// Token embedding lookup (nn.Embedding). Thread-safe; single-threaded (a row copy per token).

#include <cstdint>

namespace mmrt::cpu {

// out[i] = table[ids[i]]. Every id is checked before anything is written: an id outside [0, vocab) throws
// std::out_of_range naming the id, its position and the vocabulary size.
void embedding(const float* table,  // [vocab, dim]
               int64_t vocab, int64_t dim,
               const int32_t* ids,  // [n]
               int64_t n,
               float* out);  // [n, dim]

}  // namespace mmrt::cpu
