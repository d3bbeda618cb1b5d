#include "kernels/cpu/kv_cache.hpp"

#include <cstring>

namespace mmrt::cpu {

void kv_cache_write(const float* k, const float* v, float* k_cache, float* v_cache,
                    const int64_t* slot_mapping, int64_t n_tokens, int64_t kv_dim) {
  const auto row_bytes = static_cast<size_t>(kv_dim) * sizeof(float);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0) continue;
    std::memcpy(k_cache + slot * kv_dim, k + t * kv_dim, row_bytes);
    std::memcpy(v_cache + slot * kv_dim, v + t * kv_dim, row_bytes);
  }
}

}  // namespace mmrt::cpu
