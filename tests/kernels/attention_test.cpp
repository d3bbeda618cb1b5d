// Dense and varlen attention against the naive double-precision reference (attention_reference.hpp): MHA,
// GQA, MQA, causal with n_kv == n_q, n_kv > n_q (chunked prefill) and n_kv < n_q (leading queries see
// nothing), bidirectional, additive bias with -inf entries. Tolerance: max |out - ref| <= 1e-5 · max |ref|
// (fp32 dot products and fp32 value accumulation).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "attention_reference.hpp"
#include "kernel_test_util.hpp"
#include "kernels/cpu/attention.hpp"

using mmrt::cpu::test::random_normal;
using mmrt::cpu::test::reference_attention;
using mmrt::cpu::test::relative_max_error;

namespace {

constexpr double kTolerance = 1e-5;

struct AttentionCase {
  int64_t n_q, n_kv, n_head, n_head_kv, head_dim;
  bool causal, with_bias;
};

}  // namespace

TEST_CASE("attention matches softmax(q·kᵀ·scale + bias + mask)·v") {
  const AttentionCase cases[] = {
      {1, 1, 1, 1, 8, false, false},     {1, 1, 1, 1, 8, true, false},     {7, 7, 4, 2, 16, true, false},
      {33, 33, 8, 2, 64, true, true},    {5, 17, 4, 4, 80, true, false},   {17, 5, 2, 1, 32, true, false},
      {65, 65, 6, 3, 72, false, true},   {3, 65, 7, 1, 128, false, false}, {1, 300, 4, 1, 128, true, false},
      {300, 300, 4, 1, 32, true, false}, {20, 20, 3, 3, 7, true, true},
  };
  for (const AttentionCase& c : cases) {
    const auto seed = static_cast<uint32_t>(c.n_q * 31 + c.n_kv * 7 + c.n_head);
    const std::vector<float> q = random_normal(c.n_q * c.n_head * c.head_dim, seed);
    const std::vector<float> k = random_normal(c.n_kv * c.n_head_kv * c.head_dim, seed + 1);
    const std::vector<float> v = random_normal(c.n_kv * c.n_head_kv * c.head_dim, seed + 2);
    const std::vector<float> bias = random_normal(c.n_head * c.n_q * c.n_kv, seed + 3, 2.0f);
    const float* bias_ptr = c.with_bias ? bias.data() : nullptr;
    const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
    std::vector<float> out(q.size(), NAN);
    mmrt::cpu::attention(q.data(), k.data(), v.data(), out.data(), c.n_q, c.n_kv, c.n_head, c.n_head_kv,
                         c.head_dim, scale, c.causal, bias_ptr);
    const std::vector<double> expected =
        reference_attention(q.data(), k.data(), v.data(), c.n_q, c.n_kv, c.n_head, c.n_head_kv, c.head_dim,
                            scale, c.causal, bias_ptr);
    INFO("n_q=" << c.n_q << " n_kv=" << c.n_kv << " n_head=" << c.n_head << "/" << c.n_head_kv
                << " head_dim=" << c.head_dim << " causal=" << c.causal << " bias=" << c.with_bias);
    CHECK(relative_max_error(out, expected) <= kTolerance);
  }
}

TEST_CASE("attention: queries that see no key give zeros, not NaN") {
  const int64_t n_q = 4, n_kv = 2, n_head = 2, head_dim = 4;
  const std::vector<float> q = random_normal(n_q * n_head * head_dim, 51);
  const std::vector<float> k = random_normal(n_kv * n_head * head_dim, 52);
  const std::vector<float> v = random_normal(n_kv * n_head * head_dim, 53);
  SUBCASE("causal with fewer keys than queries") {
    std::vector<float> out(q.size(), NAN);
    mmrt::cpu::attention(q.data(), k.data(), v.data(), out.data(), n_q, n_kv, n_head, n_head, head_dim, 0.5f,
                         true, nullptr);
    // query i sees keys j <= i - 2: queries 0 and 1 see nothing.
    for (int64_t d = 0; d < 2 * n_head * head_dim; ++d) CHECK(out[d] == 0.0f);
    for (float x : out) CHECK(!std::isnan(x));
  }
  SUBCASE("bias of -inf everywhere for one head") {
    std::vector<float> bias(n_head * n_q * n_kv, 0.0f);
    for (int64_t i = 0; i < n_q * n_kv; ++i) bias[i] = -std::numeric_limits<float>::infinity();  // head 0
    std::vector<float> out(q.size(), NAN);
    mmrt::cpu::attention(q.data(), k.data(), v.data(), out.data(), n_q, n_kv, n_head, n_head, head_dim, 0.5f,
                         false, bias.data());
    const std::vector<double> expected = reference_attention(q.data(), k.data(), v.data(), n_q, n_kv, n_head,
                                                             n_head, head_dim, 0.5, false, bias.data());
    CHECK(relative_max_error(out, expected) <= kTolerance);
    for (int64_t i = 0; i < n_q; ++i) {
      for (int64_t d = 0; d < head_dim; ++d) CHECK(out[i * n_head * head_dim + d] == 0.0f);
    }
  }
}

TEST_CASE("attention rejects n_head not divisible by n_head_kv") {
  std::vector<float> buffer(64);
  CHECK_THROWS_AS(mmrt::cpu::attention(buffer.data(), buffer.data(), buffer.data(), buffer.data(), 1, 1, 3, 2,
                                       4, 1.0f, false, nullptr),
                  std::invalid_argument);
}

namespace {

// attention_varlen over sequences of the given (n_q, n_k) sizes, each checked against the naive reference
// of that sequence alone (its bias slice s % bias_period when a bias is given).
void run_varlen(const std::vector<std::pair<int32_t, int32_t>>& sizes, int64_t n_head, int64_t n_head_kv,
                int64_t head_dim, bool causal, int64_t bias_period, uint32_t seed) {
  std::vector<int32_t> cu_q = {0}, cu_k = {0};
  for (const auto& [n_q, n_k] : sizes) {
    cu_q.push_back(cu_q.back() + n_q);
    cu_k.push_back(cu_k.back() + n_k);
  }
  const auto n_seqs = static_cast<int64_t>(sizes.size());
  const int64_t q_dim = n_head * head_dim, kv_dim = n_head_kv * head_dim;
  const std::vector<float> q = random_normal(cu_q.back() * q_dim, seed);
  const std::vector<float> k = random_normal(cu_k.back() * kv_dim, seed + 1);
  const std::vector<float> v = random_normal(cu_k.back() * kv_dim, seed + 2);
  std::vector<float> bias;
  const int64_t bias_size = bias_period > 0 ? n_head * sizes[0].first * sizes[0].second : 0;
  if (bias_period > 0) {
    bias = random_normal(bias_period * bias_size, seed + 3, 2.0f);
    // A Swin-like shift mask in the last slice: half of the keys of head 0 are hidden.
    for (int64_t i = 0; i < sizes[0].first * sizes[0].second; i += 2) {
      bias[(bias_period - 1) * bias_size + i] = -std::numeric_limits<float>::infinity();
    }
  }
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  std::vector<float> out(q.size(), NAN);
  mmrt::cpu::attention_varlen(q.data(), k.data(), v.data(), out.data(), n_seqs, cu_q.data(), cu_k.data(),
                              n_head, n_head_kv, head_dim, scale, causal,
                              bias.empty() ? nullptr : bias.data(), bias_period);
  for (int64_t s = 0; s < n_seqs; ++s) {
    const int64_t n_q = sizes[s].first, n_k = sizes[s].second;
    const float* seq_bias = bias.empty() ? nullptr : bias.data() + (s % bias_period) * bias_size;
    const std::vector<double> expected = reference_attention(
        q.data() + cu_q[s] * q_dim, k.data() + cu_k[s] * kv_dim, v.data() + cu_k[s] * kv_dim, n_q, n_k,
        n_head, n_head_kv, head_dim, scale, causal, seq_bias);
    INFO("seq " << s << " of " << n_seqs << ": " << n_q << " x " << n_k << " heads " << n_head << "/"
                << n_head_kv << " causal=" << causal << " bias_period=" << bias_period);
    CHECK(relative_max_error(out.data() + cu_q[s] * q_dim, expected.data(), n_q * q_dim) <= kTolerance);
  }
}

}  // namespace

TEST_CASE("attention_varlen attends each sequence alone: odd sizes, empty sequences, GQA, causal or not") {
  const std::vector<std::pair<int32_t, int32_t>> sizes = {{5, 5}, {1, 9},   {0, 3}, {17, 17}, {4, 0},
                                                          {9, 2}, {33, 40}, {1, 1}, {3, 3}};
  for (bool causal : {false, true}) {
    run_varlen(sizes, 3, 3, 7, causal, 0, 61);   // MHA, odd head_dim
    run_varlen(sizes, 8, 2, 64, causal, 0, 62);  // GQA
    run_varlen(sizes, 5, 1, 33, causal, 0, 63);  // MQA
  }
}

TEST_CASE("attention_varlen shares bias slice s % bias_period across equal windows (Swin)") {
  // 2 images of 6 windows of 49 tokens; each window of an image has its own bias, the last with a mask.
  const std::vector<std::pair<int32_t, int32_t>> windows(12, {49, 49});
  run_varlen(windows, 3, 3, 32, false, 6, 71);
  // Thousands of windows in one call, as Swin's first stage at Nougat's resolution.
  const std::vector<std::pair<int32_t, int32_t>> many(1536, {49, 49});
  run_varlen(many, 4, 4, 32, false, 768, 72);
  // A period of 1: one bias for every sequence; GQA and causal with n_q < n_k.
  const std::vector<std::pair<int32_t, int32_t>> uneven(5, {3, 8});
  run_varlen(uneven, 4, 2, 16, true, 1, 73);
}

TEST_CASE("attention_varlen rejects decreasing offsets and sequences that do not fit the shared bias") {
  std::vector<float> buffer(4096);
  const int32_t decreasing[] = {0, 3, 2};
  const int32_t fine[] = {0, 2, 4};
  CHECK_THROWS_WITH_AS(mmrt::cpu::attention_varlen(buffer.data(), buffer.data(), buffer.data(), buffer.data(),
                                                   2, decreasing, fine, 1, 1, 4, 1.0f, false, nullptr, 1),
                       doctest::Contains("sequence 1"), std::invalid_argument);
  const int32_t uneven[] = {0, 2, 5};
  CHECK_THROWS_WITH_AS(mmrt::cpu::attention_varlen(buffer.data(), buffer.data(), buffer.data(), buffer.data(),
                                                   2, uneven, uneven, 1, 1, 4, 1.0f, false, buffer.data(), 2),
                       doctest::Contains("sequence 1"), std::invalid_argument);
}
