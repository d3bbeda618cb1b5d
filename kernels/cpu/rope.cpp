#include "kernels/cpu/rope.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/scratch.hpp"

namespace mmrt::cpu {

namespace {

// Rotates every head of one token by the pair angles whose cos/sin are given ([half] each).
void rotate_token(float* token, int64_t n_heads, int64_t head_dim, int64_t half, const float* cos_a,
                  const float* sin_a) {
  for (int64_t h = 0; h < n_heads; ++h) {
    float* lo = token + h * head_dim;
    float* hi = lo + half;
    for (int64_t j = 0; j < half; ++j) {
      const float x_lo = lo[j];
      const float x_hi = hi[j];
      lo[j] = x_lo * cos_a[j] - x_hi * sin_a[j];
      hi[j] = x_hi * cos_a[j] + x_lo * sin_a[j];
    }
  }
}

// Shared driver: angle_of(t, j) gives the fp32 angle of pair j of token t.
template <typename AngleOf>
void rotate_all(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rot_dim, float scaling,
                AngleOf angle_of) {
  if (rot_dim % 2 != 0 || rot_dim > head_dim || rot_dim < 0) {
    throw std::invalid_argument("rope: rot_dim " + std::to_string(rot_dim) +
                                " must be even and at most head_dim " + std::to_string(head_dim));
  }
  const int64_t half = rot_dim / 2;
#pragma omp parallel if (n_tokens * n_heads * head_dim >= kMinParallelElements)
  {
    float* cos_a = thread_scratch(ScratchSlot::rope_cos, static_cast<size_t>(half));
    float* sin_a = thread_scratch(ScratchSlot::rope_sin, static_cast<size_t>(half));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t j = 0; j < half; ++j) {
        const float angle = angle_of(t, j);
        cos_a[j] = std::cos(angle) * scaling;
        sin_a[j] = std::sin(angle) * scaling;
      }
      rotate_token(x + t * n_heads * head_dim, n_heads, head_dim, half, cos_a, sin_a);
    }
  }
}

}  // namespace

void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rot_dim,
          const int32_t* positions, const float* inv_freq, float attention_scaling) {
  rotate_all(x, n_tokens, n_heads, head_dim, rot_dim, attention_scaling,
             [&](int64_t t, int64_t j) { return static_cast<float>(positions[t]) * inv_freq[j]; });
}

void mrope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* positions3,
           const float* inv_freq, const int32_t mrope_section[3]) {
  const int64_t half = head_dim / 2;
  if (int64_t{mrope_section[0]} + mrope_section[1] + mrope_section[2] != half || mrope_section[0] < 0 ||
      mrope_section[1] < 0 || mrope_section[2] < 0) {
    throw std::invalid_argument("mrope: mrope_section {" + std::to_string(mrope_section[0]) + ", " +
                                std::to_string(mrope_section[1]) + ", " + std::to_string(mrope_section[2]) +
                                "} must be non-negative and sum to head_dim / 2 = " + std::to_string(half));
  }
  const int64_t height_begin = mrope_section[0];
  const int64_t width_begin = height_begin + mrope_section[1];
  rotate_all(x, n_tokens, n_heads, head_dim, head_dim, 1.0f, [&](int64_t t, int64_t j) {
    const int64_t axis = j < height_begin ? 0 : (j < width_begin ? 1 : 2);
    return static_cast<float>(positions3[axis * n_tokens + t]) * inv_freq[j];
  });
}

void rope_angles(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rot_dim,
                 const float* angles) {
  const int64_t half = rot_dim / 2;
  rotate_all(x, n_tokens, n_heads, head_dim, rot_dim, 1.0f,
             [&](int64_t t, int64_t j) { return angles[t * half + j]; });
}

}  // namespace mmrt::cpu
