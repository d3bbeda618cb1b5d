#pragma once
// Internal to kernels/cpu: per-thread scratch memory. Each thread (the caller's, and every OpenMP worker,
// which persist between parallel regions) keeps its buffers and only grows them, so steady-state forward
// passes do not allocate. A buffer is valid until the same thread asks for the same slot again.

#include <array>
#include <cstddef>
#include <vector>

namespace mmrt::cpu {

enum class ScratchSlot {
  attention_scores,
  attention_bias,
  rope_cos,
  rope_sin,
  im2col,
  weight_panel,
  gemv_x,
  count
};

inline float* thread_scratch(ScratchSlot slot, size_t n_floats) {
  thread_local std::array<std::vector<float>, static_cast<size_t>(ScratchSlot::count)> buffers;
  std::vector<float>& buffer = buffers[static_cast<size_t>(slot)];
  if (buffer.size() < n_floats) buffer.resize(n_floats);
  return buffer.data();
}

}  // namespace mmrt::cpu
