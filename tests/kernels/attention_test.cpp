// Dense attention against the naive double-precision reference (attention_reference.hpp): MHA, GQA, MQA,
// causal with n_kv == n_q, n_kv > n_q (chunked prefill) and n_kv < n_q (leading queries see nothing),
// bidirectional, additive bias with -inf entries.
// Tolerance: max |out - ref| <= 1e-5 · max |ref| (fp32 dot products and fp32 value accumulation).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
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
