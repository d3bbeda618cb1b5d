#pragma once
// Conversions between the 16-bit checkpoint dtypes and fp32 activations. Weights stay in the checkpoint's
// dtype and the kernels that read them (linear, embedding) widen them with these; f32_to_bf16 / f32_to_f16
// exist for dumps and for feeding CUDA kernels in tests. All functions are element-wise over n values; src
// and dst must not overlap. Thread-safe (no shared state). The widening ones use AVX2/F16C when the CPU has
// them.

#include <cstdint>

namespace mmrt::cpu {

// Exact: a bf16 is the upper half of an fp32 bit pattern.
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);  // [n] -> [n]

// Exact for every half value, including subnormals and infinities; NaN stays NaN with its sign and payload
// (F16C may return a signalling NaN quiet).
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);  // [n] -> [n]

// The element type of a weight as it is stored (the checkpoint's dtype).
enum class WeightType { f32, bf16, f16 };

// dst = src widened to fp32 (a copy for f32). src must be aligned to its element size.
void widen_to_f32(const void* src, WeightType type, float* dst, int64_t n);  // [n] -> [n]

// Round to nearest, ties to even, like torch's float -> bfloat16 cast. Overflow rounds to infinity;
// any NaN becomes the canonical quiet NaN 0x7FC0, as in c10::BFloat16.
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);  // [n] -> [n]

// Round to nearest, ties to even (IEEE binary16), with gradual underflow to half subnormals. Values beyond
// the half range become infinity; NaN stays a quiet NaN with the sign kept.
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);  // [n] -> [n]

}  // namespace mmrt::cpu
