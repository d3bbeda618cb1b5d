// softmax / log_softmax against double formulas.
// Tolerance: softmax max |p - ref| <= 1e-6 · max |ref| per row set; log_softmax max |y - ref| <= 1e-6 ·
// max(1, max |ref|).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/softmax.hpp"

using mmrt::cpu::test::random_normal;
using mmrt::cpu::test::relative_max_error;

namespace {

std::vector<double> reference_softmax(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY;
    for (int64_t i = 0; i < cols; ++i) m = std::max(m, static_cast<double>(x[r * cols + i]));
    double sum = 0.0;
    for (int64_t i = 0; i < cols; ++i) sum += std::exp(x[r * cols + i] - m);
    for (int64_t i = 0; i < cols; ++i)
      y[r * cols + i] = m == -INFINITY ? 0.0 : std::exp(x[r * cols + i] - m) / sum;
  }
  return y;
}

}  // namespace

TEST_CASE("softmax matches exp(x - max) / sum over odd shapes, including huge logits") {
  for (int64_t rows : {1, 3, 33}) {
    for (int64_t cols : {1, 7, 65, 2049}) {
      for (float spread : {1.0f, 30.0f}) {
        std::vector<float> x = random_normal(rows * cols, static_cast<uint32_t>(rows + cols), spread);
        x[0] += 1000.0f;  // would overflow exp without max subtraction
        const std::vector<double> expected = reference_softmax(x, rows, cols);
        mmrt::cpu::softmax(x.data(), rows, cols);
        INFO("rows=" << rows << " cols=" << cols << " spread=" << spread);
        CHECK(relative_max_error(x, expected) <= 1e-6);
      }
    }
  }
}

TEST_CASE("softmax treats -inf as masked and turns a fully masked row into zeros") {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.5f, kNegInf, 1.5f, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf};
  const std::vector<double> expected = reference_softmax(x, 2, 4);
  mmrt::cpu::softmax(x.data(), 2, 4);
  CHECK(relative_max_error(x, expected) <= 1e-6);
  CHECK(x[1] == 0.0f);
  for (int i = 4; i < 8; ++i) CHECK(x[i] == 0.0f);
}

TEST_CASE("log_softmax matches x - max - log(sum exp(x - max)) over a vocabulary-sized row") {
  for (int64_t cols : {1, 7, 151936}) {
    const std::vector<float> x = random_normal(cols, 77, 8.0f);
    std::vector<float> y(x.size());
    mmrt::cpu::log_softmax(x.data(), y.data(), cols);
    double m = -INFINITY;
    for (float v : x) m = std::max(m, static_cast<double>(v));
    double sum = 0.0;
    for (float v : x) sum += std::exp(v - m);
    std::vector<double> expected;
    double max_abs = 1.0;
    for (float v : x) {
      expected.push_back(v - m - std::log(sum));
      max_abs = std::max(max_abs, std::abs(expected.back()));
    }
    double max_err = 0.0;
    for (size_t i = 0; i < x.size(); ++i) max_err = std::max(max_err, std::abs(y[i] - expected[i]));
    INFO("cols=" << cols << " max_err=" << max_err);
    CHECK(max_err <= 1e-6 * max_abs);
  }
}
