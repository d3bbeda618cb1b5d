#include "kernels/cpu/convert.hpp"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/isa.hpp"

namespace mmrt::cpu {

namespace {

constexpr uint32_t kF32ExpShift = 23;
constexpr uint32_t kF32AbsMask = 0x7FFFFFFFu;
constexpr uint32_t kF32Inf = 0x7F800000u;
// fp32 exponent bias (127) minus half exponent bias (15), in fp32 exponent units.
constexpr uint32_t kHalfToF32ExpDelta = 112;

float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal half: shift the leading one into the implicit position of an fp32 normal.
    uint32_t f32_exponent = kHalfToF32ExpDelta + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --f32_exponent;
    }
    mantissa &= 0x3FFu;
    return std::bit_cast<float>(sign | (f32_exponent << kF32ExpShift) | (mantissa << 13));
  }
  if (exponent == 0x1F) return std::bit_cast<float>(sign | kF32Inf | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + kHalfToF32ExpDelta) << kF32ExpShift) | (mantissa << 13));
}

uint16_t f32_to_bf16_bits(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & kF32AbsMask) > kF32Inf) return 0x7FC0u;
  // Adding 0x7FFF plus the lowest kept bit rounds half-way cases to the even neighbour.
  const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

uint16_t f32_to_f16_bits(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & kF32AbsMask;
  if (abs_bits > kF32Inf) return sign | 0x7E00u;
  // 65520 is half-way between the largest half (65504) and 65536; ties-to-even rounds it to infinity.
  constexpr uint32_t kF32HalfOverflow = 0x477FF000u;
  if (abs_bits >= kF32HalfOverflow) return sign | 0x7C00u;
  constexpr uint32_t kF32MinHalfNormal = 0x38800000u;  // 2^-14
  if (abs_bits < kF32MinHalfNormal) {
    const uint32_t exponent = abs_bits >> kF32ExpShift;
    // Below 2^-25, half the smallest half subnormal, everything rounds to zero.
    if (exponent < 102) return sign;
    const uint32_t mantissa = (abs_bits & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - exponent;  // 14..24: units of the half subnormal step 2^-24
    uint32_t quotient = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1);
    const uint32_t half_step = 1u << (shift - 1);
    if (remainder > half_step || (remainder == half_step && (quotient & 1u))) ++quotient;
    return sign | static_cast<uint16_t>(quotient);
  }
  const uint32_t rounded = abs_bits + 0xFFFu + ((abs_bits >> 13) & 1u);
  return sign | static_cast<uint16_t>((rounded - (kHalfToF32ExpDelta << kF32ExpShift)) >> 13);
}

#if defined(__x86_64__)
// Returns how many leading elements it converted (a multiple of 8); the caller does the rest.
MMRT_TARGET_AVX2 int64_t bf16_to_f32_avx2(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
  }
  return i;
}

MMRT_TARGET_AVX2 int64_t f16_to_f32_avx2(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  return i;
}
#endif

}  // namespace

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__x86_64__)
  if (cpu_has_avx2()) i = bf16_to_f32_avx2(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = std::bit_cast<float>(static_cast<uint32_t>(src[i]) << 16);
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__x86_64__)
  if (cpu_has_avx2()) i = f16_to_f32_avx2(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = f16_bits_to_f32(src[i]);
}

void widen_to_f32(const void* src, WeightType type, float* dst, int64_t n) {
  switch (type) {
    case WeightType::f32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case WeightType::bf16:
      bf16_to_f32(static_cast<const uint16_t*>(src), dst, n);
      return;
    case WeightType::f16:
      f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
      return;
  }
}

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16_bits(src[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16_bits(src[i]);
}

}  // namespace mmrt::cpu
