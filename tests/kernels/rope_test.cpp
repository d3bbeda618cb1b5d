// rope / mrope / rope_angles against the rotate_half formula of models_spec §0.4 evaluated in double. The
// angles themselves are fp32 products position·inv_freq (that rounding is part of the specification, as in
// transformers), so the reference forms them the same way and only then switches to double.
// Tolerance: max |y - ref| <= 1e-6 · max |ref|.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/rope.hpp"

using mmrt::cpu::test::random_normal;
using mmrt::cpu::test::relative_max_error;

namespace {

constexpr double kTolerance = 1e-6;

std::vector<float> default_inv_freq(int64_t rot_dim, double theta) {
  std::vector<float> inv_freq;
  for (int64_t i = 0; i < rot_dim / 2; ++i) {
    const auto exponent = static_cast<float>(2 * i) / static_cast<float>(rot_dim);
    inv_freq.push_back(1.0f / std::pow(static_cast<float>(theta), exponent));
  }
  return inv_freq;
}

// angle(t, j) -> fp32 angle of pair j of token t.
template <typename AngleOf>
std::vector<double> reference_rope(const std::vector<float>& x, int64_t n_tokens, int64_t n_heads,
                                   int64_t head_dim, int64_t rot_dim, double scaling, AngleOf angle) {
  std::vector<double> y(x.begin(), x.end());
  const int64_t half = rot_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      const int64_t base = (t * n_heads + h) * head_dim;
      for (int64_t j = 0; j < half; ++j) {
        const double a = angle(t, j);
        const double c = std::cos(a) * scaling, s = std::sin(a) * scaling;
        // x·cos + rotate_half(x)·sin with rotate_half(x) = cat(-x[half:], x[:half])
        y[base + j] = x[base + j] * c - x[base + j + half] * s;
        y[base + j + half] = x[base + j + half] * c + x[base + j] * s;
      }
    }
  }
  return y;
}

}  // namespace

TEST_CASE("rope rotates pairs (j, j + rot_dim/2) and leaves the partial-rotary tail untouched") {
  struct Case {
    int64_t n_tokens, n_heads, head_dim, rot_dim;
    float scaling;
  };
  for (const Case& c : {Case{1, 1, 2, 2, 1.0f}, Case{3, 7, 64, 64, 1.0f}, Case{33, 4, 128, 128, 1.0f},
                        Case{7, 3, 80, 32, 1.0f}, Case{5, 2, 64, 64, 0.5f}}) {
    const std::vector<float> x0 = random_normal(c.n_tokens * c.n_heads * c.head_dim, 41);
    std::vector<int32_t> positions;
    for (int64_t t = 0; t < c.n_tokens; ++t) positions.push_back(static_cast<int32_t>((t * 977) % 32768));
    const std::vector<float> inv_freq = default_inv_freq(c.rot_dim, 10000.0);
    std::vector<float> x = x0;
    mmrt::cpu::rope(x.data(), c.n_tokens, c.n_heads, c.head_dim, c.rot_dim, positions.data(), inv_freq.data(),
                    c.scaling);
    const std::vector<double> expected =
        reference_rope(x0, c.n_tokens, c.n_heads, c.head_dim, c.rot_dim, c.scaling,
                       [&](int64_t t, int64_t j) { return static_cast<float>(positions[t]) * inv_freq[j]; });
    INFO("tokens=" << c.n_tokens << " heads=" << c.n_heads << " head_dim=" << c.head_dim
                   << " rot=" << c.rot_dim);
    CHECK(relative_max_error(x, expected) <= kTolerance);
    for (int64_t i = 0; i < c.n_tokens * c.n_heads; ++i) {
      for (int64_t d = c.rot_dim; d < c.head_dim; ++d)
        REQUIRE(x[i * c.head_dim + d] == x0[i * c.head_dim + d]);
    }
  }
}

TEST_CASE("rope at position 0 is the identity (times attention_scaling)") {
  const std::vector<float> x0 = random_normal(2 * 16, 42);
  const std::vector<int32_t> positions = {0};
  const std::vector<float> inv_freq = default_inv_freq(16, 10000.0);
  std::vector<float> x = x0;
  mmrt::cpu::rope(x.data(), 1, 2, 16, 16, positions.data(), inv_freq.data(), 1.0f);
  CHECK(x == x0);
}

TEST_CASE("mrope takes temporal / height / width positions per frequency section") {
  for (auto [head_dim, s0, s1, s2] :
       {std::tuple<int64_t, int32_t, int32_t, int32_t>{16, 2, 3, 3}, {128, 16, 24, 24}}) {
    const int64_t n_tokens = 9, n_heads = 3;
    const int32_t section[3] = {s0, s1, s2};
    const std::vector<float> x0 = random_normal(n_tokens * n_heads * head_dim, 43);
    std::vector<int32_t> positions3(3 * n_tokens);
    for (int64_t t = 0; t < n_tokens; ++t) {
      positions3[t] = static_cast<int32_t>(4 + t / 4);                   // temporal
      positions3[n_tokens + t] = static_cast<int32_t>(4 + (t / 2) % 2);  // height
      positions3[2 * n_tokens + t] = static_cast<int32_t>(4 + t % 2 + 100 * t);
    }
    const std::vector<float> inv_freq = default_inv_freq(head_dim, 1e6);
    std::vector<float> x = x0;
    mmrt::cpu::mrope(x.data(), n_tokens, n_heads, head_dim, positions3.data(), inv_freq.data(), section);
    const std::vector<double> expected =
        reference_rope(x0, n_tokens, n_heads, head_dim, head_dim, 1.0, [&](int64_t t, int64_t j) {
          const int64_t axis = j < s0 ? 0 : (j < s0 + s1 ? 1 : 2);
          return static_cast<float>(positions3[axis * n_tokens + t]) * inv_freq[j];
        });
    INFO("head_dim=" << head_dim);
    CHECK(relative_max_error(x, expected) <= kTolerance);
  }
}

TEST_CASE("mrope with three equal positions is exactly 1-D rope") {
  const int64_t n_tokens = 5, n_heads = 2, head_dim = 128;
  const int32_t section[3] = {16, 24, 24};
  const std::vector<int32_t> positions = {0, 1, 2, 3, 3000};
  std::vector<int32_t> positions3;
  for (int axis = 0; axis < 3; ++axis)
    positions3.insert(positions3.end(), positions.begin(), positions.end());
  const std::vector<float> inv_freq = default_inv_freq(head_dim, 1e6);
  std::vector<float> a = random_normal(n_tokens * n_heads * head_dim, 44);
  std::vector<float> b = a;
  mmrt::cpu::mrope(a.data(), n_tokens, n_heads, head_dim, positions3.data(), inv_freq.data(), section);
  mmrt::cpu::rope(b.data(), n_tokens, n_heads, head_dim, head_dim, positions.data(), inv_freq.data(), 1.0f);
  CHECK(a == b);
}

TEST_CASE("mrope rejects a section that does not cover head_dim / 2") {
  const int32_t section[3] = {16, 24, 16};
  std::vector<float> x(128);
  const std::vector<int32_t> positions3 = {0, 0, 0};
  const std::vector<float> inv_freq(64, 1.0f);
  CHECK_THROWS_AS(mmrt::cpu::mrope(x.data(), 1, 1, 128, positions3.data(), inv_freq.data(), section),
                  std::invalid_argument);
}

TEST_CASE("rope_angles applies the Qwen2-VL vision 2-D rotation") {
  // head_dim 80: pairs 0..19 rotate with the patch row, pairs 20..39 with the patch column.
  const int64_t grid_h = 3, grid_w = 5, n_tokens = grid_h * grid_w, n_heads = 2, head_dim = 80;
  const std::vector<float> inv_freq = default_inv_freq(40, 10000.0);  // 20 frequencies
  std::vector<float> angles;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t j = 0; j < 40; ++j) {
      const int64_t pos = j < 20 ? t / grid_w : t % grid_w;
      angles.push_back(static_cast<float>(pos) * inv_freq[j % 20]);
    }
  }
  const std::vector<float> x0 = random_normal(n_tokens * n_heads * head_dim, 45);
  std::vector<float> x = x0;
  mmrt::cpu::rope_angles(x.data(), n_tokens, n_heads, head_dim, head_dim, angles.data());
  const std::vector<double> expected =
      reference_rope(x0, n_tokens, n_heads, head_dim, head_dim, 1.0, [&](int64_t t, int64_t j) {
        return static_cast<float>(j < 20 ? t / grid_w : t % grid_w) * inv_freq[j % 20];
      });
  CHECK(relative_max_error(x, expected) <= kTolerance);
}
