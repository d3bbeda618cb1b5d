#pragma once
// Naive double-precision attention used by attention_test and paged_attention_test: for every query head,
// scores over all keys, masked ones at -inf, softmax, weighted sum of values.

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

}  // namespace mmrt::cpu::test
