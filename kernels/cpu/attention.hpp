#pragma once
// Dense multi-head attention over contiguous Q, K, V: a ViT block, an encoder, cross-attention, a whole
// prefill without a cache, or many of them in one call (attention_varlen: Swin windows, the images of a
// batch). out = softmax(q·kᵀ·scale + bias + causal mask)·v per head.
//
// Heads are split as view(n, n_head, head_dim): head h of token i is q[i, h*head_dim : (h+1)*head_dim].
// GQA/MQA: query head h reads kv head h / (n_head / n_head_kv) (transformers' repeat_kv).
// Causal: query i sees keys j <= i + (n_kv - n_q), i.e. the queries are the last n_q positions of the
// sequence. Masked keys are skipped rather than added as finfo.min; for any query that sees at least one key
// the result is the same. A query that sees no key (or whose scores are all -inf through the bias) gets a
// zero output, never NaN.
// Threading: OpenMP over (sequence, kv head, block of query rows); no allocation in steady state. out must
// not overlap q, k, v or bias.
//
// Example: Llama prefill of 6 tokens, 32 heads over 8 kv heads, head_dim 128:
//   attention(q, k, v, out, 6, 6, 32, 8, 128, 1/sqrt(128), true, nullptr); query heads 0..3 read kv head 0.

#include <cstdint>

namespace mmrt::cpu {

void attention(const float* q,  // [n_q, n_head * head_dim]
               const float* k,  // [n_kv, n_head_kv * head_dim]
               const float* v,  // [n_kv, n_head_kv * head_dim]
               float* out,      // [n_q, n_head * head_dim]
               int64_t n_q, int64_t n_kv, int64_t n_head, int64_t n_head_kv, int64_t head_dim, float scale,
               bool causal,
               const float* bias);  // [n_head, n_q, n_kv] additive (T5 position bias, Swin), or null

// Sequence s owns query rows cu_q[s] .. cu_q[s+1]-1 and key/value rows cu_k[s] .. cu_k[s+1]-1, and is
// attended as attention() would attend it alone. bias, when given, is shared by sequences of one size
// n_q x n_k: sequence s adds bias[s % bias_period] (Swin's relative position bias plus shift mask, one per
// window of an image). Throws std::invalid_argument for decreasing offsets or, with a bias, a sequence of
// another size.
// Example: two 49-token windows of 3 heads, one bias per window: cu_q = cu_k = {0, 49, 98},
//   bias [2, 3, 49, 49], bias_period 2.
void attention_varlen(const float* q,       // [Σ n_q, n_head * head_dim]
                      const float* k,       // [Σ n_k, n_head_kv * head_dim]
                      const float* v,       // [Σ n_k, n_head_kv * head_dim]
                      float* out,           // [Σ n_q, n_head * head_dim]
                      int64_t n_seqs,       //
                      const int32_t* cu_q,  // [n_seqs + 1]
                      const int32_t* cu_k,  // [n_seqs + 1]
                      int64_t n_head, int64_t n_head_kv, int64_t head_dim, float scale, bool causal,
                      const float* bias,  // [bias_period, n_head, n_q, n_k] or null
                      int64_t bias_period);

}  // namespace mmrt::cpu
