// Activations against their defining formulas (models_spec §0.1) in double, plus textbook values.
// Tolerance: per element |y - ref| <= 1e-6 · |ref| + 1e-30 (each value is one fp32 rounding away).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/activation.hpp"

using mmrt::cpu::Activation;

namespace {

double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

double reference(Activation a, double x) {
  switch (a) {
    case Activation::gelu_erf:
      return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
    case Activation::gelu_tanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    case Activation::quick_gelu:
      return x * sigmoid(1.702 * x);
    case Activation::silu:
      return x * sigmoid(x);
    case Activation::relu:
      return x > 0.0 ? x : 0.0;
  }
  return NAN;
}

// Values across the interesting range: dense near 0, the saturation regions, and odd counts.
std::vector<float> probe_inputs() {
  std::vector<float> x;
  for (int i = -2000; i <= 2000; ++i) x.push_back(static_cast<float>(i) * 0.01f);
  for (float v : {-80.0f, -30.0f, -12.5f, 1e-7f, -1e-7f, 0.0f, 12.5f, 30.0f, 80.0f}) x.push_back(v);
  const std::vector<float> random = mmrt::cpu::test::random_normal(33, 5, 4.0f);
  x.insert(x.end(), random.begin(), random.end());
  return x;
}

bool close(float got, double ref) {
  return std::abs(got - ref) <= 1e-6 * std::abs(ref) + 1e-30;
}

}  // namespace

TEST_CASE("activation matches each formula element-wise, also in place") {
  const std::vector<float> x = probe_inputs();
  for (Activation a : {Activation::gelu_erf, Activation::gelu_tanh, Activation::quick_gelu, Activation::silu,
                       Activation::relu}) {
    std::vector<float> y(x.size());
    mmrt::cpu::activation(a, x.data(), y.data(), static_cast<int64_t>(x.size()));
    std::vector<float> in_place = x;
    mmrt::cpu::activation(a, in_place.data(), in_place.data(), static_cast<int64_t>(x.size()));
    int failures = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = reference(a, x[i]);
      if ((!close(y[i], ref) || in_place[i] != y[i]) && ++failures <= 5) {
        INFO("activation " << static_cast<int>(a) << " x=" << x[i] << " got " << y[i] << " ref " << ref);
        CHECK(close(y[i], ref));
        CHECK(in_place[i] == y[i]);
      }
    }
    CHECK(failures == 0);
  }
}

TEST_CASE("activation textbook values") {
  const float one = 1.0f;
  float y = 0.0f;
  mmrt::cpu::activation(Activation::gelu_erf, &one, &y, 1);
  CHECK(y == doctest::Approx(0.8413447460685429).epsilon(1e-7));  // Φ(1)
  mmrt::cpu::activation(Activation::silu, &one, &y, 1);
  CHECK(y == doctest::Approx(0.7310585786300049).epsilon(1e-7));  // 1 / (1 + e^-1)
  mmrt::cpu::activation(Activation::gelu_tanh, &one, &y, 1);
  CHECK(y == doctest::Approx(0.8411919906082768).epsilon(1e-7));
  mmrt::cpu::activation(Activation::quick_gelu, &one, &y, 1);
  CHECK(y == doctest::Approx(0.8457957659328212).epsilon(1e-7));  // 1 / (1 + e^-1.702)
}

TEST_CASE(
    "gated_activation is act(gate) · up for every kind, also aliased, over sizes that use and skip the "
    "parallel path") {
  for (Activation a : {Activation::gelu_erf, Activation::gelu_tanh, Activation::quick_gelu, Activation::silu,
                       Activation::relu}) {
    for (int64_t n : {1, 7, 65, 100003}) {
      const std::vector<float> gate = mmrt::cpu::test::random_normal(n, 21, 3.0f);
      const std::vector<float> up = mmrt::cpu::test::random_normal(n, 22);
      std::vector<float> y(static_cast<size_t>(n));
      mmrt::cpu::gated_activation(a, gate.data(), up.data(), y.data(), n);
      std::vector<float> onto_gate = gate;
      mmrt::cpu::gated_activation(a, onto_gate.data(), up.data(), onto_gate.data(), n);
      std::vector<float> onto_up = up;
      mmrt::cpu::gated_activation(a, gate.data(), onto_up.data(), onto_up.data(), n);
      int failures = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double ref = reference(a, gate[i]) * up[i];
        // Two fp32 roundings (the activation, then the product): 2e-7 relative.
        const bool ok = std::abs(y[i] - ref) <= 3e-7 * std::abs(ref) + 1e-30 && onto_gate[i] == y[i] &&
                        onto_up[i] == y[i];
        if (!ok && ++failures <= 5) {
          INFO("activation " << static_cast<int>(a) << " n=" << n << " i=" << i << " got " << y[i] << " ref "
                             << ref);
          CHECK(ok);
        }
      }
      CHECK(failures == 0);
    }
  }
}
