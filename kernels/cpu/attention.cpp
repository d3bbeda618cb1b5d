#include "kernels/cpu/attention.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/attention_core.hpp"
#include "kernels/cpu/scratch.hpp"

namespace mmrt::cpu {

namespace {

// Scores scratch per work item is kept near this many floats (4 MiB) by shrinking the query block.
constexpr int64_t kScoreBudget = int64_t{1} << 20;
constexpr int64_t kMaxQueryBlock = 16;

}  // namespace

void attention(const float* q, const float* k, const float* v, float* out, int64_t n_q, int64_t n_kv,
               int64_t n_head, int64_t n_head_kv, int64_t head_dim, float scale, bool causal,
               const float* bias) {
  if (n_head_kv <= 0 || n_head % n_head_kv != 0) {
    throw std::invalid_argument("attention: n_head " + std::to_string(n_head) +
                                " is not a multiple of n_head_kv " + std::to_string(n_head_kv));
  }
  if (n_q == 0) return;
  const int64_t n_rep = n_head / n_head_kv;
  const int64_t q_stride = n_head * head_dim;
  const int64_t kv_stride = n_head_kv * head_dim;
  const int64_t q_block =
      std::clamp(kScoreBudget / std::max<int64_t>(n_rep * n_kv, 1), int64_t{1}, kMaxQueryBlock);
  const int64_t n_q_blocks = (n_q + q_block - 1) / q_block;

  // Causal work grows with the query index, hence dynamic scheduling.
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int64_t g = 0; g < n_head_kv; ++g) {
    for (int64_t b = 0; b < n_q_blocks; ++b) {
      const int64_t i_begin = b * q_block;
      const int64_t i_end = std::min(n_q, i_begin + q_block);
      thread_local std::vector<AttentionQuery> queries;
      queries.clear();
      for (int64_t i = i_begin; i < i_end; ++i) {
        const int64_t n_visible = causal ? std::clamp(i + (n_kv - n_q) + 1, int64_t{0}, n_kv) : n_kv;
        for (int64_t h = g * n_rep; h < (g + 1) * n_rep; ++h) {
          queries.push_back(AttentionQuery{q + i * q_stride + h * head_dim, out + i * q_stride + h * head_dim,
                                           n_visible,
                                           bias != nullptr ? bias + (h * n_q + i) * n_kv : nullptr});
        }
      }
      const auto n_queries = static_cast<int64_t>(queries.size());
      float* scores = thread_scratch(ScratchSlot::attention_scores, static_cast<size_t>(n_queries * n_kv));
      const float* k_head = k + g * head_dim;
      const float* v_head = v + g * head_dim;
      attend(
          queries.data(), n_queries, head_dim, scale, [&](int64_t p) { return k_head + p * kv_stride; },
          [&](int64_t p) { return v_head + p * kv_stride; }, scores);
    }
  }
}

}  // namespace mmrt::cpu
