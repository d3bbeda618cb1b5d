// kv_cache_write: rows land in their slots, slot -1 is skipped, other slots are untouched.
#include <doctest/doctest.h>

#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/kv_cache.hpp"

TEST_CASE("kv_cache_write copies K and V rows to their slots and skips slot -1") {
  const int64_t n_blocks = 3, block_size = 4, kv_dim = 6, n_tokens = 5;
  const int64_t n_slots = n_blocks * block_size;
  const std::vector<float> k = mmrt::cpu::test::random_normal(n_tokens * kv_dim, 61);
  const std::vector<float> v = mmrt::cpu::test::random_normal(n_tokens * kv_dim, 62);
  constexpr float kUntouched = -12345.0f;
  std::vector<float> k_cache(n_slots * kv_dim, kUntouched);
  std::vector<float> v_cache(n_slots * kv_dim, kUntouched);
  const std::vector<int64_t> slot_mapping = {9, -1, 0, 11, 4};  // token 1 is padding
  mmrt::cpu::kv_cache_write(k.data(), v.data(), k_cache.data(), v_cache.data(), slot_mapping.data(), n_tokens,
                            kv_dim);
  std::vector<int64_t> token_of_slot(n_slots, -1);
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (slot_mapping[t] >= 0) token_of_slot[slot_mapping[t]] = t;
  }
  for (int64_t s = 0; s < n_slots; ++s) {
    const int64_t t = token_of_slot[s];
    for (int64_t d = 0; d < kv_dim; ++d) {
      INFO("slot " << s << " dim " << d);
      CHECK(k_cache[s * kv_dim + d] == (t >= 0 ? k[t * kv_dim + d] : kUntouched));
      CHECK(v_cache[s * kv_dim + d] == (t >= 0 ? v[t * kv_dim + d] : kUntouched));
    }
  }
}
