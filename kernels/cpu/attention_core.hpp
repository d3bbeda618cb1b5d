#pragma once
// Internal to kernels/cpu: the inner loop shared by dense and paged attention. A work item is a set of query
// vectors that all read the same kv head (a block of query rows times the GQA group of heads), so each key
// and value row is loaded once per item and used by every query of the item. Keys are addressed through a
// callable, which is all that differs between a contiguous K and a paged cache.
//
// Per query: s_p = (q · k_p) · scale + bias_p over its visible keys p < n_visible (a causal prefix), then
// softmax in fp32 with a double normaliser, then out = Σ_p softmax_p · v_p accumulated in fp32. A query with
// no visible key, or whose scores are all -inf, gets a zero output instead of NaN.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace mmrt::cpu {

struct AttentionQuery {
  const float* q;     // [head_dim]
  float* out;         // [head_dim]
  int64_t n_visible;  // keys 0 .. n_visible-1 are attended
  const float* bias;  // [n_visible] additive, or null
};

// One unit of parallel work: query rows [row_begin, row_end) of one sequence, one kv head.
struct AttentionWorkItem {
  int64_t seq;
  int64_t kv_head;
  int64_t row_begin;
  int64_t row_end;
};

// The work items of a batch: sequence s owns query rows query_start[s] .. query_start[s+1]-1 and attends
// n_keys(s) keys; its rows are cut into blocks whose scores (block rows x n_rep heads x keys) stay near
// 4 MiB, at most 16 rows, for every kv head. Reuses `items`' storage.
template <typename KeyCount>
void plan_attention_work(int64_t n_seqs, const int32_t* query_start, KeyCount n_keys, int64_t n_head_kv,
                         int64_t n_rep, std::vector<AttentionWorkItem>& items) {
  constexpr int64_t kScoreBudget = int64_t{1} << 20;
  constexpr int64_t kMaxQueryBlock = 16;
  items.clear();
  for (int64_t s = 0; s < n_seqs; ++s) {
    const int64_t q_block =
        std::clamp(kScoreBudget / std::max<int64_t>(n_rep * n_keys(s), 1), int64_t{1}, kMaxQueryBlock);
    for (int64_t g = 0; g < n_head_kv; ++g) {
      for (int64_t r = query_start[s]; r < query_start[s + 1]; r += q_block) {
        items.push_back(AttentionWorkItem{s, g, r, std::min<int64_t>(r + q_block, query_start[s + 1])});
      }
    }
  }
}

// Eight independent fp32 lanes, which the compiler maps to SIMD registers (a sequential fp32 reduction
// cannot be vectorised without reassociation).
inline float dot(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 8;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += a[i + l] * b[i + l];
  }
  float sum = 0.0f;
  for (int l = 0; l < kLanes; ++l) sum += lanes[l];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Turns scores [n] into softmax weights in place; returns false (and leaves garbage) when every score is
// -inf, i.e. the query sees nothing.
inline bool softmax_weights(float* scores, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t p = 0; p < n; ++p) m = scores[p] > m ? scores[p] : m;
  if (m == -std::numeric_limits<float>::infinity()) return false;
  double sum = 0.0;
  for (int64_t p = 0; p < n; ++p) {
    scores[p] = std::exp(scores[p] - m);
    sum += scores[p];
  }
  const auto inv_sum = static_cast<float>(1.0 / sum);
  for (int64_t p = 0; p < n; ++p) scores[p] *= inv_sum;
  return true;
}

// scores: scratch of at least n_queries * max(n_visible) floats.
template <typename KeyRow, typename ValueRow>
void attend(const AttentionQuery* queries, int64_t n_queries, int64_t head_dim, float scale, KeyRow key_row,
            ValueRow value_row, float* scores) {
  int64_t max_visible = 0;
  for (int64_t r = 0; r < n_queries; ++r) max_visible = std::max(max_visible, queries[r].n_visible);

  for (int64_t p = 0; p < max_visible; ++p) {
    const float* k = key_row(p);
    for (int64_t r = 0; r < n_queries; ++r) {
      const AttentionQuery& query = queries[r];
      if (p >= query.n_visible) continue;
      float s = dot(query.q, k, head_dim) * scale;
      if (query.bias != nullptr) s += query.bias[p];
      scores[r * max_visible + p] = s;
    }
  }

  bool any_visible = false;
  for (int64_t r = 0; r < n_queries; ++r) {
    const AttentionQuery& query = queries[r];
    for (int64_t d = 0; d < head_dim; ++d) query.out[d] = 0.0f;
    if (softmax_weights(scores + r * max_visible, query.n_visible)) {
      any_visible = true;
    } else {
      // Zero weights: the value loop below then leaves the output at zero.
      for (int64_t p = 0; p < query.n_visible; ++p) scores[r * max_visible + p] = 0.0f;
    }
  }
  if (!any_visible) return;

  for (int64_t p = 0; p < max_visible; ++p) {
    const float* v = value_row(p);
    for (int64_t r = 0; r < n_queries; ++r) {
      const AttentionQuery& query = queries[r];
      if (p >= query.n_visible) continue;
      const float w = scores[r * max_visible + p];
      if (w == 0.0f) continue;
      for (int64_t d = 0; d < head_dim; ++d) query.out[d] += w * v[d];
    }
  }
}

}  // namespace mmrt::cpu
