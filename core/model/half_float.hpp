// bf16 and IEEE fp16 -> fp32, exact (every bf16 and fp16 value is representable in fp32).
#pragma once

#include <bit>
#include <cstdint>

namespace mmrt::model {

// bf16 is the upper half of an fp32 bit pattern.
inline float bf16_to_f32(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

// fp16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Rebias the exponent to fp32's 127; subnormal halves
// (exponent 0) become normal floats, so their mantissa is shifted up until its leading 1 is implicit.
inline float f16_to_f32(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  int32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, nan
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);  // +-0
    exponent = 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3ffu;
  }
  return std::bit_cast<float>(sign | (static_cast<uint32_t>(exponent + 127 - 15) << 23) | (mantissa << 13));
}

}  // namespace mmrt::model
