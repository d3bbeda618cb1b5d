#include "kernels/cpu/attention.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/attention_core.hpp"
#include "kernels/cpu/scratch.hpp"

namespace mmrt::cpu {

namespace {

void check_sequences(int64_t n_seqs, const int32_t* cu_q, const int32_t* cu_k, const float* bias,
                     int64_t bias_period) {
  if (bias != nullptr && bias_period < 1) {
    throw std::invalid_argument("attention_varlen: bias_period " + std::to_string(bias_period));
  }
  for (int64_t s = 0; s < n_seqs; ++s) {
    if (cu_q[s + 1] < cu_q[s] || cu_k[s + 1] < cu_k[s]) {
      throw std::invalid_argument("attention_varlen: offsets decrease at sequence " + std::to_string(s));
    }
    if (bias != nullptr &&
        (cu_q[s + 1] - cu_q[s] != cu_q[1] - cu_q[0] || cu_k[s + 1] - cu_k[s] != cu_k[1] - cu_k[0])) {
      throw std::invalid_argument("attention_varlen: sequence " + std::to_string(s) +
                                  " differs in size from sequence 0, with which it shares the bias");
    }
  }
}

}  // namespace

void attention_varlen(const float* q, const float* k, const float* v, float* out, int64_t n_seqs,
                      const int32_t* cu_q, const int32_t* cu_k, int64_t n_head, int64_t n_head_kv,
                      int64_t head_dim, float scale, bool causal, const float* bias, int64_t bias_period) {
  if (n_head_kv <= 0 || n_head % n_head_kv != 0) {
    throw std::invalid_argument("attention: n_head " + std::to_string(n_head) +
                                " is not a multiple of n_head_kv " + std::to_string(n_head_kv));
  }
  check_sequences(n_seqs, cu_q, cu_k, bias, bias_period);
  const int64_t n_rep = n_head / n_head_kv;
  const int64_t q_stride = n_head * head_dim;
  const int64_t kv_stride = n_head_kv * head_dim;

  thread_local std::vector<AttentionWorkItem> items;
  plan_attention_work(
      n_seqs, cu_q, [&](int64_t s) { return int64_t{cu_k[s + 1]} - cu_k[s]; }, n_head_kv, n_rep, items);

  // Inside the parallel region `items` would name each worker's own (empty) thread_local vector.
  const AttentionWorkItem* work = items.data();
  const auto n_items = static_cast<int64_t>(items.size());
  // Causal work grows with the query index and sequences differ in length, hence dynamic scheduling.
#pragma omp parallel for schedule(dynamic)
  for (int64_t it = 0; it < n_items; ++it) {
    const AttentionWorkItem item = work[it];
    const int64_t q_begin = cu_q[item.seq], n_q = cu_q[item.seq + 1] - q_begin;
    const int64_t k_begin = cu_k[item.seq], n_k = cu_k[item.seq + 1] - k_begin;
    const float* seq_bias = bias != nullptr ? bias + (item.seq % bias_period) * n_head * n_q * n_k : nullptr;

    thread_local std::vector<AttentionQuery> queries;
    queries.clear();
    for (int64_t row = item.row_begin; row < item.row_end; ++row) {
      const int64_t i = row - q_begin;
      const int64_t n_visible = causal ? std::clamp(i + (n_k - n_q) + 1, int64_t{0}, n_k) : n_k;
      for (int64_t h = item.kv_head * n_rep; h < (item.kv_head + 1) * n_rep; ++h) {
        queries.push_back(AttentionQuery{q + row * q_stride + h * head_dim,
                                         out + row * q_stride + h * head_dim, n_visible,
                                         seq_bias != nullptr ? seq_bias + (h * n_q + i) * n_k : nullptr});
      }
    }
    const auto n_queries = static_cast<int64_t>(queries.size());
    float* scores = thread_scratch(ScratchSlot::attention_scores, static_cast<size_t>(n_queries * n_k));
    const float* k_head = k + k_begin * kv_stride + item.kv_head * head_dim;
    const float* v_head = v + k_begin * kv_stride + item.kv_head * head_dim;
    attend(
        queries.data(), n_queries, head_dim, scale, [&](int64_t p) { return k_head + p * kv_stride; },
        [&](int64_t p) { return v_head + p * kv_stride; }, scores);
  }
}

void attention(const float* q, const float* k, const float* v, float* out, int64_t n_q, int64_t n_kv,
               int64_t n_head, int64_t n_head_kv, int64_t head_dim, float scale, bool causal,
               const float* bias) {
  constexpr int64_t kMaxRows = std::numeric_limits<int32_t>::max();
  if (n_q > kMaxRows || n_kv > kMaxRows) {
    throw std::invalid_argument("attention: " + std::to_string(n_q) + " x " + std::to_string(n_kv) +
                                " rows exceed int32 offsets");
  }
  const int32_t cu_q[2] = {0, static_cast<int32_t>(n_q)};
  const int32_t cu_k[2] = {0, static_cast<int32_t>(n_kv)};
  attention_varlen(q, k, v, out, 1, cu_q, cu_k, n_head, n_head_kv, head_dim, scale, causal, bias, 1);
}

}  // namespace mmrt::cpu
