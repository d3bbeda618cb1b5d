#pragma once
// Naive double-precision attention used by attention_test and paged_attention_test: for every query head,
// scores over all keys, masked ones at -inf, softmax, weighted sum of values. Also T5's relative position
// bucket, transcribed from transformers, for the bias of paged_attention_ex.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace mmrt::cpu::test {

// Shapes as mmrt::cpu::attention. A query that sees no key (or only -inf scores) is expected to give zeros.
inline std::vector<double> reference_attention(const float* q, const float* k, const float* v, int64_t n_q,
                                               int64_t n_kv, int64_t n_head, int64_t n_head_kv,
                                               int64_t head_dim, double scale, bool causal,
                                               const float* bias) {
  std::vector<double> out(static_cast<size_t>(n_q * n_head * head_dim), 0.0);
  std::vector<double> s(static_cast<size_t>(n_kv));
  for (int64_t h = 0; h < n_head; ++h) {
    const int64_t g = h / (n_head / n_head_kv);
    for (int64_t i = 0; i < n_q; ++i) {
      double m = -INFINITY;
      for (int64_t j = 0; j < n_kv; ++j) {
        if (causal && j > i + (n_kv - n_q)) {
          s[j] = -INFINITY;
          continue;
        }
        double dot = 0.0;
        for (int64_t d = 0; d < head_dim; ++d) {
          dot +=
              static_cast<double>(q[(i * n_head + h) * head_dim + d]) * k[(j * n_head_kv + g) * head_dim + d];
        }
        s[j] = dot * scale + (bias != nullptr ? bias[(h * n_q + i) * n_kv + j] : 0.0);
        m = std::max(m, s[j]);
      }
      if (m == -INFINITY) continue;
      double sum = 0.0;
      for (int64_t j = 0; j < n_kv; ++j) sum += std::exp(s[j] - m);
      for (int64_t j = 0; j < n_kv; ++j) {
        const double p = std::exp(s[j] - m) / sum;
        for (int64_t d = 0; d < head_dim; ++d) {
          out[(i * n_head + h) * head_dim + d] += p * v[(j * n_head_kv + g) * head_dim + d];
        }
      }
    }
  }
  return out;
}

// transformers T5Attention._relative_position_bucket for one relative position (memory - query), line
// for line, in its float32 arithmetic: log(float(d) / max_exact) / log(max_distance / max_exact) * (n -
// max_exact), truncated to an integer.
inline int64_t t5_relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                           int64_t max_distance) {
  int64_t relative_buckets = 0;
  if (bidirectional) {
    num_buckets /= 2;
    relative_buckets += (relative_position > 0 ? 1 : 0) * num_buckets;
    relative_position = std::abs(relative_position);
  } else {
    relative_position = -std::min<int64_t>(relative_position, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  // torch evaluates both branches and picks with torch.where; here the large branch only where it is
  // picked (log(0) cast to an integer is undefined in C++).
  if (relative_position < max_exact) return relative_buckets + relative_position;
  int64_t relative_position_if_large =
      max_exact +
      static_cast<int64_t>(std::log(static_cast<float>(relative_position) / static_cast<float>(max_exact)) /
                           static_cast<float>(std::log(static_cast<double>(max_distance) / max_exact)) *
                           static_cast<float>(num_buckets - max_exact));
  relative_position_if_large = std::min(relative_position_if_large, num_buckets - 1);
  relative_buckets += relative_position_if_large;
  return relative_buckets;
}

}  // namespace mmrt::cpu::test
