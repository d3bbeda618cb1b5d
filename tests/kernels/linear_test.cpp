// linear and gemm against a double-precision triple loop.
// Tolerance: max |y - ref| <= 1e-5 · max |ref| (fp32 accumulation over k <= 257 terms of N(0,1) products).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/linear.hpp"

using mmrt::cpu::test::random_normal;
using mmrt::cpu::test::relative_max_error;

namespace {

constexpr double kTolerance = 1e-5;

std::vector<double> reference_linear(const std::vector<float>& x, const std::vector<float>& w,
                                     const float* bias, int64_t m, int64_t n, int64_t k) {
  std::vector<double> y(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias != nullptr ? bias[j] : 0.0;
      for (int64_t l = 0; l < k; ++l) acc += static_cast<double>(x[i * k + l]) * w[j * k + l];
      y[i * n + j] = acc;
    }
  }
  return y;
}

}  // namespace

TEST_CASE("linear matches x·wᵀ + b over odd shapes, with and without bias") {
  for (int64_t m : {1, 3, 7, 33}) {
    for (int64_t n : {1, 5, 65}) {
      for (int64_t k : {1, 3, 64, 257}) {
        for (bool with_bias : {false, true}) {
          const auto seed = static_cast<uint32_t>(m * 1000 + n * 10 + k);
          const std::vector<float> x = random_normal(m * k, seed);
          const std::vector<float> w = random_normal(n * k, seed + 1);
          const std::vector<float> b = random_normal(n, seed + 2);
          const float* bias = with_bias ? b.data() : nullptr;
          std::vector<float> y(static_cast<size_t>(m * n), NAN);  // beta = 0 must overwrite garbage
          mmrt::cpu::linear(x.data(), w.data(), bias, y.data(), m, n, k);
          INFO("m=" << m << " n=" << n << " k=" << k << " bias=" << with_bias);
          CHECK(relative_max_error(y, reference_linear(x, w, bias, m, n, k)) <= kTolerance);
        }
      }
    }
  }
}

TEST_CASE("linear with k = 0 yields the bias (or zeros)") {
  const std::vector<float> b = {1.5f, -2.0f};
  std::vector<float> y(4, NAN);
  mmrt::cpu::linear(nullptr, nullptr, b.data(), y.data(), 2, 2, 0);
  CHECK(y == std::vector<float>{1.5f, -2.0f, 1.5f, -2.0f});
  mmrt::cpu::linear(nullptr, nullptr, nullptr, y.data(), 2, 2, 0);
  CHECK(y == std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f});
}

TEST_CASE("gemm honours transposes, leading dimensions, alpha and beta") {
  using mmrt::cpu::Transpose;
  const int64_t m = 5, n = 7, k = 9;
  const int64_t pad = 3;  // every matrix is stored with 3 unused columns per row
  for (Transpose ta : {Transpose::no, Transpose::yes}) {
    for (Transpose tb : {Transpose::no, Transpose::yes}) {
      const int64_t a_rows = ta == Transpose::no ? m : k, a_cols = ta == Transpose::no ? k : m;
      const int64_t b_rows = tb == Transpose::no ? k : n, b_cols = tb == Transpose::no ? n : k;
      const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
      const std::vector<float> a = random_normal(a_rows * lda, 11);
      const std::vector<float> b = random_normal(b_rows * ldb, 12);
      std::vector<float> c = random_normal(m * ldc, 13);
      const std::vector<float> c0 = c;
      const float alpha = 0.75f, beta = -0.5f;
      mmrt::cpu::gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);

      auto a_at = [&](int64_t i, int64_t l) { return ta == Transpose::no ? a[i * lda + l] : a[l * lda + i]; };
      auto b_at = [&](int64_t l, int64_t j) { return tb == Transpose::no ? b[l * ldb + j] : b[j * ldb + l]; };
      std::vector<float> got;
      std::vector<double> expected;
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < ldc; ++j) {
          double ref = c0[i * ldc + j];  // padding columns must stay untouched
          if (j < n) {
            double acc = 0.0;
            for (int64_t l = 0; l < k; ++l) acc += static_cast<double>(a_at(i, l)) * b_at(l, j);
            ref = alpha * acc + beta * c0[i * ldc + j];
          }
          got.push_back(c[i * ldc + j]);
          expected.push_back(ref);
        }
      }
      INFO("trans_a=" << (ta == Transpose::yes) << " trans_b=" << (tb == Transpose::yes));
      CHECK(relative_max_error(got, expected) <= kTolerance);
    }
  }
}
