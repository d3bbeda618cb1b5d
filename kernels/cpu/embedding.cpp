#include "kernels/cpu/embedding.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace mmrt::cpu {

void embedding(const float* table, int64_t vocab, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw std::out_of_range("embedding: token id " + std::to_string(ids[i]) + " at position " +
                              std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(vocab) +
                              ")");
    }
  }
  const auto row_bytes = static_cast<size_t>(dim) * sizeof(float);
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * dim, table + ids[i] * dim, row_bytes);
}

}  // namespace mmrt::cpu
