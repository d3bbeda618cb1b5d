#pragma once
// Rotary position embeddings, "NeoX / half rotation" (models_spec §0.4): within the first rot_dim dims of
// each head, dim j pairs with dim j + rot_dim/2 (not the interleaved (2j, 2j+1) pairs of GPT-J):
//   x'[j]           = x[j]·cos(a_j) − x[j + rot_dim/2]·sin(a_j)
//   x'[j+rot_dim/2] = x[j + rot_dim/2]·cos(a_j) + x[j]·sin(a_j)        for j in [0, rot_dim/2)
// Dims from rot_dim to head_dim pass through (partial rotary). Angles a_j are fp32 products
// position·inv_freq[j] and cos/sin are evaluated in fp32 like transformers' rotary embedding; the frequency
// table stays in the model so that rope_scaling variants (linear, dynamic NTK, llama3, yarn) need no kernel.
// All functions work in place on x [n_tokens, n_heads, head_dim]; tokens are processed in parallel (OpenMP).
//
// Example (Llama, head_dim 128, θ = 1e4): inv_freq[j] = 1 / 1e4^(2j/128), j < 64; token at position 5 rotates
// dims (0, 64) by the angle 5·inv_freq[0] = 5 rad, and dims (63, 127) by 5·inv_freq[63].

#include <cstdint>

namespace mmrt::cpu {

// 1-D RoPE. cos and sin are multiplied by attention_scaling (1.0 except for yarn / longrope).
void rope(float* x,  // [n_tokens, n_heads, head_dim], in place
          int64_t n_tokens, int64_t n_heads, int64_t head_dim,
          int64_t rot_dim,           // even, <= head_dim
          const int32_t* positions,  // [n_tokens]
          const float* inv_freq,     // [rot_dim / 2]
          float attention_scaling);

// Qwen2-VL multimodal RoPE over the whole head (rot_dim = head_dim). Frequency j in [0, head_dim/2) takes
// its position from axis 0 (temporal) for j < s0, axis 1 (height) for j < s0 + s1, else axis 2 (width),
// where {s0, s1, s2} = mrope_section, e.g. {16, 24, 24} for head_dim 128. Text tokens have three equal
// positions, which makes this 1-D RoPE. Throws std::invalid_argument unless s0 + s1 + s2 == head_dim / 2.
void mrope(float* x,  // [n_tokens, n_heads, head_dim], in place
           int64_t n_tokens, int64_t n_heads, int64_t head_dim,
           const int32_t* positions3,  // [3, n_tokens]: rows t, h, w
           const float* inv_freq,      // [head_dim / 2]
           const int32_t mrope_section[3]);

// RoPE from precomputed angles, for position schemes that are not position·inv_freq[j] on one axis (the
// Qwen2-VL vision tower's 2-D rope: angles[t, j] = hpos·inv_freq[j] for j < 20, wpos·inv_freq[j - 20] after).
// The angle of pair j of token t is angles[t * rot_dim/2 + j]; no attention scaling.
void rope_angles(float* x,  // [n_tokens, n_heads, head_dim], in place
                 int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                 int64_t rot_dim,       // even, <= head_dim
                 const float* angles);  // [n_tokens, rot_dim / 2]

}  // namespace mmrt::cpu
