#include "kernels/cpu/activation.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/cpu/parallel.hpp"

namespace mmrt::cpu {

namespace {

double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

float gelu_erf(float x) {
  return static_cast<float>(0.5 * x * (1.0 + std::erf(x * std::numbers::sqrt2 / 2)));
}

float gelu_tanh(float x) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  const double xd = x;
  return static_cast<float>(0.5 * xd * (1.0 + std::tanh(k * (xd + 0.044715 * xd * xd * xd))));
}

float quick_gelu(float x) {
  return static_cast<float>(x * sigmoid(1.702 * x));
}

float silu(float x) {
  return static_cast<float>(x * sigmoid(x));
}

float relu(float x) {
  return std::max(x, 0.0f);
}

template <float (*f)(float)>
void apply(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <float (*f)(float)>
void apply_gated(const float* gate, const float* up, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = f(gate[i]) * up[i];
}

}  // namespace

void activation(Activation a, const float* x, float* y, int64_t n) {
  switch (a) {
    case Activation::gelu_erf:
      return apply<gelu_erf>(x, y, n);
    case Activation::gelu_tanh:
      return apply<gelu_tanh>(x, y, n);
    case Activation::quick_gelu:
      return apply<quick_gelu>(x, y, n);
    case Activation::silu:
      return apply<silu>(x, y, n);
    case Activation::relu:
      return apply<relu>(x, y, n);
  }
}

void gated_activation(Activation a, const float* gate, const float* up, float* y, int64_t n) {
  switch (a) {
    case Activation::gelu_erf:
      return apply_gated<gelu_erf>(gate, up, y, n);
    case Activation::gelu_tanh:
      return apply_gated<gelu_tanh>(gate, up, y, n);
    case Activation::quick_gelu:
      return apply_gated<quick_gelu>(gate, up, y, n);
    case Activation::silu:
      return apply_gated<silu>(gate, up, y, n);
    case Activation::relu:
      return apply_gated<relu>(gate, up, y, n);
  }
}

}  // namespace mmrt::cpu
