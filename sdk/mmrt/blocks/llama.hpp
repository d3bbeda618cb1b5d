// Llama decoder (Touvron et al. 2023; Transformers' LlamaModel + LlamaForCausalLM) over the host's paged
// KV cache, as a reusable block.
//
//   h = embed_tokens(ids)                               [n_tokens, D]   (multimodal rows injected after)
//   layer:  x = input_layernorm(h)                       RMSNorm
//           q, k, v = q_proj(x), k_proj(x), v_proj(x)    [n, H·Dh], [n, Hkv·Dh] ×2   (GQA when Hkv < H)
//           rope(q), rope(k) at each token's position    NeoX half rotation, inv_freq from blocks/rope.hpp
//           store k, v in the cache; attend causally over each sequence's cache (this step included)
//           h = h + o_proj(attn)
//           h = h + down_proj(silu(gate_proj(x')) * up_proj(x')),  x' = post_attention_layernorm(h)
//   logits = lm_head(norm(h[logits_rows]))               only the rows the host asks for
//
// One forward mixes prefill chunks and decode steps of many sequences: rows of sequence s are
// layout.query_start[s] .. query_start[s+1]-1, and the kernels read the per-sequence cache through the
// layout's block tables. Norm and lm_head are per row, so running them on the selected rows only is exact.
#ifndef MMRT_SDK_BLOCKS_LLAMA_HPP_
#define MMRT_SDK_BLOCKS_LLAMA_HPP_

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mmrt/blocks/activation.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/blocks/rope.hpp"
#include "mmrt/device_table.hpp"
#include "mmrt/json.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::sdk::blocks {

// LlamaConfig; defaults are that class's.
struct LlamaConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;
  int64_t head_dim = 128;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  bool attention_bias = false;  // Llama: bias on q/k/v and o_proj alike
  bool qkv_bias = false;        // Qwen2: bias on q/k/v only, o_proj without
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  RopeConfig rope;
};

// Reads a Llama text config over `defaults` (another class's defaults, e.g. Qwen2's). num_key_value_heads
// and head_dim default from the head count as in LlamaConfig; hidden_act must be silu (the MLP is SwiGLU).
inline LlamaConfig parse_llama_config(const json::Reader& text, const LlamaConfig& defaults = {}) {
  LlamaConfig c = defaults;
  c.vocab_size = text.get_int("vocab_size", c.vocab_size);
  c.hidden_size = text.get_int("hidden_size", c.hidden_size);
  c.intermediate_size = text.get_int("intermediate_size", c.intermediate_size);
  c.num_hidden_layers = text.get_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = text.get_int("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads = text.get_int("num_key_value_heads", c.num_attention_heads);
  require(c.num_attention_heads > 0 && c.hidden_size > 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(text.where("num_attention_heads"), "hidden_size and num_attention_heads must be positive"));
  c.head_dim = text.get_int("head_dim", c.hidden_size / c.num_attention_heads);
  c.max_position_embeddings = text.get_int("max_position_embeddings", c.max_position_embeddings);
  c.rms_norm_eps = text.get_double("rms_norm_eps", c.rms_norm_eps);
  c.attention_bias = text.get_bool("attention_bias", c.attention_bias);
  c.mlp_bias = text.get_bool("mlp_bias", c.mlp_bias);
  c.tie_word_embeddings = text.get_bool("tie_word_embeddings", c.tie_word_embeddings);
  c.rope = parse_rope_config(text, c.rope);
  require(parse_activation(text, "hidden_act", "silu") == MMRT_ACT_SILU, MMRT_STATUS_UNIMPLEMENTED,
          str(text.where("hidden_act"), "only silu (SwiGLU) is supported"));
  for (auto [key, v] : {std::pair{"vocab_size", c.vocab_size},
                        {"intermediate_size", c.intermediate_size},
                        {"num_hidden_layers", c.num_hidden_layers},
                        {"num_key_value_heads", c.num_key_value_heads},
                        {"head_dim", c.head_dim},
                        {"max_position_embeddings", c.max_position_embeddings}}) {
    require(v > 0, MMRT_STATUS_INVALID_ARGUMENT, str(text.where(key), "must be positive, got ", v));
  }
  require(c.num_attention_heads % c.num_key_value_heads == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(text.where("num_key_value_heads"), c.num_key_value_heads,
              " does not divide num_attention_heads ", c.num_attention_heads));
  return c;
}

class LlamaModel {
 public:
  struct DecoderLayer {
    TensorView input_layernorm;             // [D]
    Linear q_proj, k_proj, v_proj, o_proj;  // [H·Dh, D], [Hkv·Dh, D] ×2, [D, H·Dh]
    TensorView post_attention_layernorm;    // [D]
    Linear gate_proj, up_proj, down_proj;   // [I, D] ×2, [D, I]
  };

  // `prefix` is the LlamaModel's ("language_model.model."); `lm_head` the head's weight name
  // ("language_model.lm_head.weight"), unused when the config ties it to embed_tokens.
  LlamaModel(const LlamaConfig& config, Weights& w, const std::string& prefix, const std::string& lm_head,
             MmrtDevice device)
      : config_(config), inv_freq_(rope_inv_freq(config.rope, config.head_dim), device) {
    const int64_t D = config.hidden_size, I = config.intermediate_size, V = config.vocab_size;
    const int64_t q_dim = config.num_attention_heads * config.head_dim;
    const int64_t kv_dim = config.num_key_value_heads * config.head_dim;
    const bool qkv_bias = config.attention_bias || config.qkv_bias;
    embed_tokens_ = w.matmul_weight(prefix + "embed_tokens.weight", {V, D});
    for (int64_t il = 0; il < config.num_hidden_layers; ++il) {
      const std::string l = layer_name(prefix + "layers.{i}.", il);
      DecoderLayer layer;
      layer.input_layernorm = w.get(l + "input_layernorm.weight", {D});
      layer.q_proj = load_linear(w, l + "self_attn.q_proj", q_dim, D, qkv_bias);
      layer.k_proj = load_linear(w, l + "self_attn.k_proj", kv_dim, D, qkv_bias);
      layer.v_proj = load_linear(w, l + "self_attn.v_proj", kv_dim, D, qkv_bias);
      layer.o_proj = load_linear(w, l + "self_attn.o_proj", D, q_dim, config.attention_bias);
      layer.post_attention_layernorm = w.get(l + "post_attention_layernorm.weight", {D});
      layer.gate_proj = load_linear(w, l + "mlp.gate_proj", I, D, config.mlp_bias);
      layer.up_proj = load_linear(w, l + "mlp.up_proj", I, D, config.mlp_bias);
      layer.down_proj = load_linear(w, l + "mlp.down_proj", D, I, config.mlp_bias);
      layers_.push_back(layer);
    }
    norm_ = w.get(prefix + "norm.weight", {D});
    if (config.tie_word_embeddings) {
      lm_head_ = embed_tokens_;
      w.ignore(lm_head);  // some tied checkpoints still save the copy
    } else {
      lm_head_ = w.matmul_weight(lm_head, {V, D});
    }
    w.ignore(prefix + "layers.*.self_attn.rotary_emb.inv_freq");  // a buffer older checkpoints saved
  }

  const LlamaConfig& config() const { return config_; }

  // What the host allocates for the cache: one K/V pair per layer, in the compute dtype.
  MmrtKvSpec kv_spec(MmrtDataType dtype) const {
    MmrtKvSpec spec{};
    spec.n_layer = static_cast<int32_t>(config_.num_hidden_layers);
    spec.n_head_kv = static_cast<int32_t>(config_.num_key_value_heads);
    spec.head_dim = static_cast<int32_t>(config_.head_dim);
    spec.dtype = dtype;
    spec.n_cross_layer = 0;
    spec.position_axes = config_.rope.mrope_section.empty() ? 1 : 3;
    spec.vocab_size = config_.vocab_size;
    spec.hidden_size = config_.hidden_size;
    spec.max_position = config_.max_position_embeddings;
    return spec;
  }

  // ids int32 [n] -> h [n, D] in the compute dtype.
  void embed(const Ops& ops, const TensorView& ids, const TensorView& h) const {
    ops.embedding(embed_tokens_, ids, h);
  }

  // Runs every decoder layer over h [n_tokens, D] in place. positions int32 [n_tokens], or [3, n_tokens]
  // (t, h, w rows) with an mrope_section.
  void layers(const Ops& ops, Scratch& scratch, const TensorView& h, const TensorView& positions,
              const MmrtBatchLayout* layout, const MmrtKvLayer* kv) {
    const LlamaConfig& c = config_;
    const int64_t n = h.dim(0), D = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads,
                  Dh = c.head_dim;
    const float eps = static_cast<float>(c.rms_norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
    const TensorView& inv_freq = inv_freq_.get(ops);
    const MmrtDataType dt = h.dtype();
    const int32_t* mrope_section = c.rope.mrope_section.empty() ? nullptr : c.rope.mrope_section.data();
    require(positions.numel() == (mrope_section ? 3 : 1) * n, MMRT_STATUS_INVALID_ARGUMENT,
            str("positions ", positions.describe(), " for ", n, " tokens", mrope_section ? " (3 rows)" : ""));

    TensorView x = scratch.tensor(dt, {n, D});
    TensorView q = scratch.tensor(dt, {n, H, Dh});
    TensorView k = scratch.tensor(dt, {n, Hkv, Dh});
    TensorView v = scratch.tensor(dt, {n, Hkv, Dh});
    TensorView attn = scratch.tensor(dt, {n, H, Dh});
    TensorView gate = scratch.tensor(dt, {n, c.intermediate_size});
    TensorView up = scratch.tensor(dt, {n, c.intermediate_size});

    for (int64_t il = 0; il < c.num_hidden_layers; ++il) {
      const DecoderLayer& l = layers_[il];
      // self-attention block
      ops.rms_norm(h, l.input_layernorm, eps, x);
      ops.linear(x, l.q_proj.weight, l.q_proj.bias, q.reshape({n, H * Dh}));
      ops.linear(x, l.k_proj.weight, l.k_proj.bias, k.reshape({n, Hkv * Dh}));
      ops.linear(x, l.v_proj.weight, l.v_proj.bias, v.reshape({n, Hkv * Dh}));
      ops.rope(q, positions, inv_freq, mrope_section);
      ops.rope(k, positions, inv_freq, mrope_section);
      ops.kv_cache_write(k, v, kv[il], layout);
      ops.paged_attention(q, kv[il], layout, scale, attn);
      ops.linear(attn.reshape({n, H * Dh}), l.o_proj.weight, l.o_proj.bias, x);
      ops.add(h, x, h);
      // MLP block (SwiGLU)
      ops.rms_norm(h, l.post_attention_layernorm, eps, x);
      ops.linear(x, l.gate_proj.weight, l.gate_proj.bias, gate);
      ops.linear(x, l.up_proj.weight, l.up_proj.bias, up);
      ops.silu_mul(gate, up, gate);
      ops.linear(gate, l.down_proj.weight, l.down_proj.bias, x);
      ops.add(h, x, h);
    }
  }

  // logits [n_logits, V] f32 of the rows `logits_rows` (int32 [n_logits]) of h.
  void logits(const Ops& ops, Scratch& scratch, const TensorView& h, const TensorView& logits_rows,
              const TensorView& logits) const {
    const int64_t n_logits = logits_rows.dim(0), D = config_.hidden_size, V = config_.vocab_size;
    if (n_logits == 0) return;
    TensorView picked = scratch.tensor(h.dtype(), {n_logits, D});
    TensorView normed = scratch.tensor(h.dtype(), {n_logits, D});
    ops.gather_rows(h, logits_rows, picked);
    ops.rms_norm(picked, norm_, static_cast<float>(config_.rms_norm_eps), normed);
    if (same(h.dtype(), logits.dtype())) {
      ops.linear(normed, lm_head_, {}, logits);
    } else {
      TensorView out = scratch.tensor(h.dtype(), {n_logits, V});
      ops.linear(normed, lm_head_, {}, out);
      ops.copy(out, logits);  // compute dtype -> f32
    }
  }

 private:
  LlamaConfig config_;
  DeviceTable inv_freq_;     // f32 [rope_dim / 2]
  TensorView embed_tokens_;  // [V, D], as stored (matmul_weight)
  std::vector<DecoderLayer> layers_;
  TensorView norm_;     // [D]
  TensorView lm_head_;  // [V, D]
};

}  // namespace mmrt::sdk::blocks

#endif  // MMRT_SDK_BLOCKS_LLAMA_HPP_
