#pragma once
// Element-wise arithmetic on fp32 buffers (residual adds, gating, scaling). Outputs may alias an input.
// Parallel over elements with OpenMP for large buffers.

#include <cstdint>

namespace mmrt::cpu {

void add(const float* a, const float* b, float* y, int64_t n);  // y = a + b, [n]
void mul(const float* a, const float* b, float* y, int64_t n);  // y = a · b, [n]
void scale(float* x, float s, int64_t n);                       // x *= s, [n]

// x[r, :] += bias for every row (a bias after a product computed without one).
void add_bias_rows(float* x,           // [rows, dim]
                   const float* bias,  // [dim]
                   int64_t rows, int64_t dim);

}  // namespace mmrt::cpu
