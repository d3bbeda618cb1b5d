#pragma once
// Element-wise activation functions (transformers ACT2FN, models_spec §0.1). Each value is computed in double
// and rounded once to fp32, which is within one fp32 ulp of torch's vectorised fp32 versions. y may alias x.
// Parallel over elements with OpenMP.

#include <cstdint>

namespace mmrt::cpu {

enum class Activation {
  gelu_erf,    // "gelu": 0.5·x·(1 + erf(x/√2))
  gelu_tanh,   // "gelu_new" / "gelu_pytorch_tanh": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
  quick_gelu,  // "quick_gelu": x·sigmoid(1.702·x)
  silu,        // "silu" / "swish": x·sigmoid(x)
  relu,        // "relu": max(x, 0)
};

void activation(Activation a, const float* x, float* y, int64_t n);  // [n] -> [n]

// Gated MLP: y = act(gate) · up, where act(gate) is rounded to fp32 before the product as in
// act_fn(gate_proj(x)) * up_proj(x) (SwiGLU of Llama/Qwen2 with silu, T5's gated-GELU with gelu_tanh).
// y may alias gate or up.
void gated_activation(Activation a, const float* gate, const float* up, float* y,
                      int64_t n);  // [n], [n] -> [n]

}  // namespace mmrt::cpu
