#pragma once
// Conversions between the 16-bit checkpoint dtypes and fp32 activations. The host converts every bf16/fp16
// weight to fp32 once at load; f32_to_bf16 / f32_to_f16 exist for dumps and for feeding CUDA kernels in
// tests. All functions are element-wise over n values; src and dst must not overlap. Thread-safe (no shared
// state).

#include <cstdint>

namespace mmrt::cpu {

// Exact: a bf16 is the upper half of an fp32 bit pattern.
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);  // [n] -> [n]

// Exact for every half value, including subnormals, infinities and NaN (payload kept).
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);  // [n] -> [n]

// Round to nearest, ties to even, like torch's float -> bfloat16 cast. Overflow rounds to infinity;
// any NaN becomes the canonical quiet NaN 0x7FC0, as in c10::BFloat16.
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);  // [n] -> [n]

// Round to nearest, ties to even (IEEE binary16), with gradual underflow to half subnormals. Values beyond
// the half range become infinity; NaN stays a quiet NaN with the sign kept.
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);  // [n] -> [n]

}  // namespace mmrt::cpu
