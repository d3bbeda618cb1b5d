// add / mul / scale / add_bias_rows: each is a single fp32 operation per element, so the result must equal
// the double-precision value rounded once to fp32 (exactly).
#include <doctest/doctest.h>

#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/elementwise.hpp"

using mmrt::cpu::test::random_normal;

TEST_CASE("add and mul are exact per element, with the output aliasing an input") {
  for (int64_t n : {1, 3, 33, 70001}) {
    const std::vector<float> a = random_normal(n, 31);
    const std::vector<float> b = random_normal(n, 32);
    std::vector<float> sum = a;
    mmrt::cpu::add(sum.data(), b.data(), sum.data(), n);
    std::vector<float> product(static_cast<size_t>(n));
    mmrt::cpu::mul(a.data(), b.data(), product.data(), n);
    int failures = 0;
    for (int64_t i = 0; i < n; ++i) {
      const bool ok = sum[i] == static_cast<float>(static_cast<double>(a[i]) + b[i]) &&
                      product[i] == static_cast<float>(static_cast<double>(a[i]) * b[i]);
      if (!ok && ++failures <= 5) {
        INFO("n=" << n << " i=" << i);
        CHECK(ok);
      }
    }
    CHECK(failures == 0);
  }
}

TEST_CASE("scale multiplies in place") {
  for (int64_t n : {1, 7, 65, 40000}) {
    const std::vector<float> x = random_normal(n, 33);
    std::vector<float> y = x;
    mmrt::cpu::scale(y.data(), 0.125f, n);
    for (int64_t i = 0; i < n; ++i) REQUIRE(y[i] == static_cast<float>(x[i] * 0.125));
  }
}

TEST_CASE("add_bias_rows adds the same bias to every row") {
  for (auto [rows, dim] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {33, 65}, {300, 129}}) {
    const std::vector<float> x = random_normal(rows * dim, 34);
    const std::vector<float> bias = random_normal(dim, 35);
    std::vector<float> y = x;
    mmrt::cpu::add_bias_rows(y.data(), bias.data(), rows, dim);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t d = 0; d < dim; ++d) {
        REQUIRE(y[r * dim + d] == static_cast<float>(static_cast<double>(x[r * dim + d]) + bias[d]));
      }
    }
  }
}
