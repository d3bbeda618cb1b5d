#include "kernels/cpu/embedding.hpp"

#include <cstddef>
#include <stdexcept>
#include <string>

namespace mmrt::cpu {

void embedding(const void* table, WeightType table_type, int64_t vocab, int64_t dim, const int32_t* ids,
               int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw std::out_of_range("embedding: token id " + std::to_string(ids[i]) + " at position " +
                              std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(vocab) +
                              ")");
    }
  }
  const size_t row_bytes = size_t(dim) * (table_type == WeightType::f32 ? 4 : 2);
  const auto* rows = static_cast<const std::byte*>(table);
  for (int64_t i = 0; i < n; ++i)
    widen_to_f32(rows + size_t(ids[i]) * row_bytes, table_type, out + i * dim, dim);
}

}  // namespace mmrt::cpu
