#pragma once
// Helpers shared by the CPU kernel tests: deterministic random inputs and the error metric every tolerance
// in these tests is stated in.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace mmrt::cpu::test {

// Normal(mean, stddev) fp32 values from a fixed seed, so failures reproduce.
inline std::vector<float> random_normal(int64_t n, uint32_t seed, float stddev = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// max_i |got_i - ref_i| / max(max_i |ref_i|, 1e-30): the largest error relative to the magnitude of the
// whole reference tensor. Returns +inf if got holds a NaN where ref does not.
inline double relative_max_error(const float* got, const double* ref, int64_t n) {
  double max_ref = 0.0;
  double max_err = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(got[i]) && !std::isnan(ref[i])) return INFINITY;
    max_ref = std::max(max_ref, std::abs(ref[i]));
    max_err = std::max(max_err, std::abs(static_cast<double>(got[i]) - ref[i]));
  }
  return max_err / std::max(max_ref, 1e-30);
}

inline double relative_max_error(const std::vector<float>& got, const std::vector<double>& ref) {
  return relative_max_error(got.data(), ref.data(), static_cast<int64_t>(ref.size()));
}

}  // namespace mmrt::cpu::test
