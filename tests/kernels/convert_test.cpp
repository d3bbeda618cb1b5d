// bf16 / fp16 <-> fp32 against the IEEE definitions evaluated in double (exhaustively for the 16-bit side).
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <ios>
#include <random>
#include <vector>

#include "kernels/cpu/convert.hpp"

namespace {

// Value of a binary floating-point pattern with the given field widths, computed from the definition.
double decode(uint32_t bits, int exponent_bits, int mantissa_bits) {
  const uint32_t mantissa = bits & ((1u << mantissa_bits) - 1);
  const uint32_t exponent = (bits >> mantissa_bits) & ((1u << exponent_bits) - 1);
  const bool negative = ((bits >> (mantissa_bits + exponent_bits)) & 1u) != 0;
  const int bias = (1 << (exponent_bits - 1)) - 1;
  double value;
  if (exponent == (1u << exponent_bits) - 1) {
    value = mantissa == 0 ? INFINITY : NAN;
  } else if (exponent == 0) {
    value = std::ldexp(static_cast<double>(mantissa), 1 - bias - mantissa_bits);
  } else {
    value = std::ldexp(static_cast<double>(mantissa | (1u << mantissa_bits)),
                       static_cast<int>(exponent) - bias - mantissa_bits);
  }
  return negative ? -value : value;
}

// Magnitude of a positive finite-or-overflow pattern, treating the infinity pattern as the next power of two
// (IEEE rounding decides overflow as if the exponent range were unbounded).
double magnitude_unbounded(uint32_t bits, int exponent_bits, int mantissa_bits) {
  const uint32_t inf_bits = ((1u << exponent_bits) - 1) << mantissa_bits;
  if (bits == inf_bits) return std::ldexp(1.0, (1 << (exponent_bits - 1)));
  return decode(bits, exponent_bits, mantissa_bits);
}

// Round-to-nearest-even by search: the largest pattern not above |x| and its successor, whichever is
// nearer, the even one on a tie.
uint16_t nearest_even(float x, int exponent_bits, int mantissa_bits) {
  const double a = std::abs(static_cast<double>(x));
  const uint32_t inf_bits = ((1u << exponent_bits) - 1) << mantissa_bits;
  uint32_t lo = 0;
  uint32_t hi = inf_bits;  // invariant: magnitude(lo) <= a < magnitude(hi), unless a >= 2^(emax+1)
  if (a >= magnitude_unbounded(inf_bits, exponent_bits, mantissa_bits)) {
    lo = inf_bits;
  } else {
    while (hi - lo > 1) {
      const uint32_t mid = (lo + hi) / 2;
      if (magnitude_unbounded(mid, exponent_bits, mantissa_bits) <= a) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const double below = a - magnitude_unbounded(lo, exponent_bits, mantissa_bits);
    const double above = magnitude_unbounded(hi, exponent_bits, mantissa_bits) - a;
    if (above < below || (above == below && (lo & 1u) != 0)) lo = hi;
  }
  const uint32_t sign = std::signbit(x) ? 1u << (exponent_bits + mantissa_bits) : 0u;
  return static_cast<uint16_t>(sign | lo);
}

std::vector<uint16_t> all_16bit_patterns() {
  std::vector<uint16_t> v(65536);
  for (uint32_t i = 0; i < 65536; ++i) v[i] = static_cast<uint16_t>(i);
  return v;
}

// Random fp32 patterns over the whole range plus values near the 16-bit formats' rounding boundaries.
std::vector<float> rounding_probe_values(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v;
  for (int i = 0; i < 200000; ++i) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (!std::isnan(f)) v.push_back(f);
  }
  std::uniform_real_distribution<float> small(-70000.0f, 70000.0f);
  for (int i = 0; i < 200000; ++i) v.push_back(small(rng));
  for (int i = 0; i < 100000; ++i)
    v.push_back(std::ldexp(small(rng) / 70000.0f, -14 - static_cast<int>(rng() % 12)));
  // Exact ties: a 16-bit value plus half of its ulp, for both formats.
  for (uint32_t bits = 0x3F80; bits < 0x3F90; ++bits)
    v.push_back(std::bit_cast<float>((bits << 16) | 0x8000u));
  for (float tie : {65520.0f, 65504.0f + 8.0f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0x1p-25f, 3 * 0x1p-25f,
                    0x1p-26f, 65519.99f, 3.4e38f, INFINITY, -INFINITY, 0.0f, -0.0f}) {
    v.push_back(tie);
    v.push_back(-tie);
  }
  return v;
}

}  // namespace

TEST_CASE("bf16_to_f32 decodes every bf16 pattern exactly") {
  const std::vector<uint16_t> src = all_16bit_patterns();
  std::vector<float> dst(src.size());
  mmrt::cpu::bf16_to_f32(src.data(), dst.data(), static_cast<int64_t>(src.size()));
  for (size_t i = 0; i < src.size(); ++i) {
    const double expected = decode(src[i], 8, 7);
    INFO("bf16 0x" << std::hex << src[i]);
    if (std::isnan(expected)) {
      CHECK(std::isnan(dst[i]));
    } else {
      CHECK(static_cast<double>(dst[i]) == expected);
      CHECK(std::signbit(dst[i]) == std::signbit(expected));
    }
  }
}

TEST_CASE("f16_to_f32 decodes every half pattern exactly, subnormals included") {
  const std::vector<uint16_t> src = all_16bit_patterns();
  std::vector<float> dst(src.size());
  mmrt::cpu::f16_to_f32(src.data(), dst.data(), static_cast<int64_t>(src.size()));
  for (size_t i = 0; i < src.size(); ++i) {
    const double expected = decode(src[i], 5, 10);
    INFO("f16 0x" << std::hex << src[i]);
    if (std::isnan(expected)) {
      CHECK(std::isnan(dst[i]));
    } else {
      CHECK(static_cast<double>(dst[i]) == expected);
      CHECK(std::signbit(dst[i]) == std::signbit(expected));
    }
  }
}

TEST_CASE("16-bit -> f32 -> 16-bit round-trips every non-NaN pattern; NaN stays NaN") {
  const std::vector<uint16_t> src = all_16bit_patterns();
  const auto n = static_cast<int64_t>(src.size());
  std::vector<float> wide(src.size());
  std::vector<uint16_t> back(src.size());

  mmrt::cpu::bf16_to_f32(src.data(), wide.data(), n);
  mmrt::cpu::f32_to_bf16(wide.data(), back.data(), n);
  for (size_t i = 0; i < src.size(); ++i) {
    INFO("bf16 0x" << std::hex << src[i] << " -> 0x" << back[i]);
    if (std::isnan(wide[i])) {
      CHECK(back[i] == 0x7FC0);  // torch's canonical bf16 NaN
    } else {
      CHECK(back[i] == src[i]);
    }
  }

  mmrt::cpu::f16_to_f32(src.data(), wide.data(), n);
  mmrt::cpu::f32_to_f16(wide.data(), back.data(), n);
  for (size_t i = 0; i < src.size(); ++i) {
    INFO("f16 0x" << std::hex << src[i] << " -> 0x" << back[i]);
    if (std::isnan(wide[i])) {
      CHECK((back[i] & 0x7C00) == 0x7C00);
      CHECK((back[i] & 0x03FF) != 0);
      CHECK((back[i] & 0x8000) == (src[i] & 0x8000));
    } else {
      CHECK(back[i] == src[i]);
    }
  }
}

TEST_CASE("f32_to_bf16 rounds to nearest, ties to even, overflowing to infinity") {
  const std::vector<float> values = rounding_probe_values(1);
  std::vector<uint16_t> got(values.size());
  mmrt::cpu::f32_to_bf16(values.data(), got.data(), static_cast<int64_t>(values.size()));
  int64_t mismatches = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t expected = nearest_even(values[i], 8, 7);
    if (got[i] != expected && ++mismatches <= 5) {  // report the first few, count all
      INFO("f32 " << values[i] << " (0x" << std::hex << std::bit_cast<uint32_t>(values[i]) << ") -> 0x"
                  << got[i] << ", expected 0x" << expected);
      CHECK(got[i] == expected);
    }
  }
  CHECK(mismatches == 0);
  // Spot values: 1 + 2^-8 is exactly half-way between 1 and 1 + 2^-7, ties to 1 (even); 3 ulp/2 ties up.
  const float ties[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f};
  uint16_t tie_bits[2];
  mmrt::cpu::f32_to_bf16(ties, tie_bits, 2);
  CHECK(tie_bits[0] == 0x3F80);
  CHECK(tie_bits[1] == 0x3F82);
  const float nan_in[] = {NAN, -NAN, std::bit_cast<float>(0x7F800001u)};
  uint16_t nan_out[3];
  mmrt::cpu::f32_to_bf16(nan_in, nan_out, 3);
  for (uint16_t bits : nan_out) CHECK(bits == 0x7FC0);  // a low-payload NaN must not truncate to infinity
}

TEST_CASE("f32_to_f16 rounds to nearest, ties to even, with subnormals and overflow") {
  const std::vector<float> values = rounding_probe_values(2);
  std::vector<uint16_t> got(values.size());
  mmrt::cpu::f32_to_f16(values.data(), got.data(), static_cast<int64_t>(values.size()));
  int64_t mismatches = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t expected = nearest_even(values[i], 5, 10);
    if (got[i] != expected && ++mismatches <= 5) {  // report the first few, count all
      INFO("f32 " << values[i] << " (0x" << std::hex << std::bit_cast<uint32_t>(values[i]) << ") -> 0x"
                  << got[i] << ", expected 0x" << expected);
      CHECK(got[i] == expected);
    }
  }
  CHECK(mismatches == 0);
  const float spot[] = {65504.0f, 65520.0f, 0x1p-24f, 0x1p-25f, 3 * 0x1p-25f};
  uint16_t spot_bits[5];
  mmrt::cpu::f32_to_f16(spot, spot_bits, 5);
  CHECK(spot_bits[0] == 0x7BFF);  // largest half
  CHECK(spot_bits[1] == 0x7C00);  // tie between 65504 and 65536 goes to the even one: infinity
  CHECK(spot_bits[2] == 0x0001);  // smallest subnormal
  CHECK(spot_bits[3] == 0x0000);  // half of it ties to even zero
  CHECK(spot_bits[4] == 0x0002);  // 1.5 subnormal steps ties to 2
}
