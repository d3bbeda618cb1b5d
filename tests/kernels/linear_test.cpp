// linear and gemm against a double-precision triple loop, for f32, bf16 and f16 weights, over every path:
// the few-row kernel (m = 1, 2..8) on each instruction set the CPU has, and sgemm (many rows, 16-bit weights
// widened in panels).
// Tolerance: max |y - ref| <= 1e-5 · max |ref| (fp32 accumulation over k <= 1031 terms of N(0,1) products);
// the reference multiplies by the exact values of the 16-bit weights, so widening must be exact to pass.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/convert.hpp"
#include "kernels/cpu/gemv.hpp"
#include "kernels/cpu/linear.hpp"

using mmrt::cpu::Isa;
using mmrt::cpu::WeightType;
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

// w rounded to `type` (a no-op for f32): the stored bytes, and their exact values as floats.
struct StoredWeight {
  std::vector<uint16_t> half;
  std::vector<float> values;
  const void* data(WeightType type) const {
    return type == WeightType::f32 ? static_cast<const void*>(values.data()) : half.data();
  }
};

StoredWeight store_as(WeightType type, const std::vector<float>& w) {
  StoredWeight s{std::vector<uint16_t>(w.size()), w};
  const auto n = static_cast<int64_t>(w.size());
  if (type == WeightType::bf16) {
    mmrt::cpu::f32_to_bf16(w.data(), s.half.data(), n);
    mmrt::cpu::bf16_to_f32(s.half.data(), s.values.data(), n);
  } else if (type == WeightType::f16) {
    mmrt::cpu::f32_to_f16(w.data(), s.half.data(), n);
    mmrt::cpu::f16_to_f32(s.half.data(), s.values.data(), n);
  }
  return s;
}

const char* type_name(WeightType t) {
  return t == WeightType::f32 ? "f32" : t == WeightType::bf16 ? "bf16" : "f16";
}

std::vector<Isa> isas_of_this_cpu() {
  std::vector<Isa> out{Isa::scalar};
  if (mmrt::cpu::cpu_has_avx2()) out.push_back(Isa::avx2);
  return out;
}

}  // namespace

TEST_CASE("linear with f32, bf16 and f16 weights matches the reference for 1, 2..8 and many rows") {
  for (WeightType type : {WeightType::f32, WeightType::bf16, WeightType::f16}) {
    for (int64_t m : {1, 2, 3, 5, 8, 9, 40}) {
      // n up to 1100 and k up to 1031 cross the parallel threshold and leave ragged row groups and k % 8.
      for (auto [n, k] :
           {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {6, 8}, {13, 33}, {1100, 40}, {37, 1031}}) {
        for (bool with_bias : {false, true}) {
          const auto seed = static_cast<uint32_t>(m * 100000 + n * 10 + k);
          const std::vector<float> x = random_normal(m * k, seed);
          const StoredWeight w = store_as(type, random_normal(n * k, seed + 1));
          const std::vector<float> b = random_normal(n, seed + 2);
          const float* bias = with_bias ? b.data() : nullptr;
          std::vector<float> y(static_cast<size_t>(m * n), NAN);
          mmrt::cpu::linear(x.data(), w.data(type), type, bias, y.data(), m, n, k);
          INFO(type_name(type) << " m=" << m << " n=" << n << " k=" << k << " bias=" << with_bias);
          CHECK(relative_max_error(y, reference_linear(x, w.values, bias, m, n, k)) <= kTolerance);
        }
      }
    }
  }
}

TEST_CASE("the few-row kernel agrees with the reference on every instruction set this CPU has") {
  INFO("AVX2/FMA/F16C present: " << mmrt::cpu::cpu_has_avx2());
  for (Isa isa : isas_of_this_cpu()) {
    for (WeightType type : {WeightType::f32, WeightType::bf16, WeightType::f16}) {
      for (int64_t m = 1; m <= mmrt::cpu::kMaxGemvRows; ++m) {
        for (auto [n, k] : {std::pair<int64_t, int64_t>{1, 5}, {7, 16}, {9, 23}, {260, 129}}) {
          const auto seed = static_cast<uint32_t>(m * 1000 + n + k);
          const std::vector<float> x = random_normal(m * k, seed);
          const StoredWeight w = store_as(type, random_normal(n * k, seed + 1));
          const std::vector<float> b = random_normal(n, seed + 2);
          std::vector<float> y(static_cast<size_t>(m * n), NAN);
          mmrt::cpu::gemv_rows(isa, x.data(), w.data(type), type, b.data(), y.data(), m, n, k);
          INFO((isa == Isa::avx2 ? "avx2 " : "scalar ")
               << type_name(type) << " m=" << m << " n=" << n << " k=" << k);
          CHECK(relative_max_error(y, reference_linear(x, w.values, b.data(), m, n, k)) <= kTolerance);
        }
      }
    }
  }
}

TEST_CASE("the few-row kernel reads weights at any 2-byte offset and refuses m outside 1..8") {
  const int64_t m = 2, n = 5, k = 19;
  const std::vector<float> x = random_normal(m * k, 7);
  const StoredWeight w = store_as(WeightType::bf16, random_normal(n * k, 8));
  std::vector<uint16_t> shifted(w.half.size() + 1);
  std::memcpy(shifted.data() + 1, w.half.data(), w.half.size() * sizeof(uint16_t));  // not 16-byte aligned
  for (Isa isa : isas_of_this_cpu()) {
    std::vector<float> y(static_cast<size_t>(m * n), NAN);
    mmrt::cpu::gemv_rows(isa, x.data(), shifted.data() + 1, WeightType::bf16, nullptr, y.data(), m, n, k);
    CHECK(relative_max_error(y, reference_linear(x, w.values, nullptr, m, n, k)) <= kTolerance);
  }
  std::vector<float> y(9 * n);
  CHECK_THROWS_AS(mmrt::cpu::gemv_rows(Isa::scalar, x.data(), w.half.data(), WeightType::bf16, nullptr,
                                       y.data(), 9, n, k),
                  std::invalid_argument);
  CHECK_THROWS_AS(mmrt::cpu::gemv_rows(Isa::scalar, x.data(), w.half.data(), WeightType::bf16, nullptr,
                                       y.data(), 0, n, k),
                  std::invalid_argument);
}

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
