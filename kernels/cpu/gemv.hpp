#pragma once
// Internal to kernels/cpu: the few-row (decode) path of linear. A decode step multiplies one or a few
// activation rows by every weight matrix, so its speed is the speed at which weights stream from memory:
// each weight row is read once and dotted with all m rows of x, and the rows of w are split into one
// contiguous range per OpenMP thread (no other threads run meanwhile; OpenBLAS is not called).

#include <cstdint>

#include "kernels/cpu/convert.hpp"
#include "kernels/cpu/isa.hpp"

namespace mmrt::cpu {

// y = x · wᵀ + bias for 1 <= m <= kMaxGemvRows, fp32 accumulation (on avx2 each dot product runs in eight
// interleaved lanes; on scalar in order), the bias added to the finished product as sgemm with beta = 1
// does. `isa` is best_isa() except in tests, which run every path the CPU has. Throws
// std::invalid_argument for m outside [1, kMaxGemvRows].
void gemv_rows(Isa isa, const float* x, const void* w, WeightType w_type, const float* bias, float* y,
               int64_t m, int64_t n, int64_t k);

}  // namespace mmrt::cpu
