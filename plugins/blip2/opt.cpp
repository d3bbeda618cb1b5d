#include "opt.hpp"

#include <cmath>

#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::layer_name;
using sdk::TensorView;
using sdk::blocks::load_layer_norm;
using sdk::blocks::load_linear;

namespace {

constexpr float kLayerNormEps = 1e-5f;  // OPT's nn.LayerNorm default; the config has no eps

// h = norm(h) for post-LN stacks, through `tmp` (layer_norm does not write in place).
void post_norm(const sdk::Ops& ops, const sdk::blocks::LayerNorm& norm, const TensorView& h,
               const TensorView& tmp) {
  ops.layer_norm(h, norm.weight, norm.bias, kLayerNormEps, tmp);
  ops.copy(tmp, h);
}

}  // namespace

OptDecoder::OptDecoder(const OptConfig& config, sdk::Weights& w, const std::string& prefix,
                       const std::string& lm_head)
    : config_(config) {
  const int64_t D = config.hidden_size, F = config.ffn_dim, V = config.vocab_size;
  const int64_t n_pos = config.max_position_embeddings;
  const bool bias = config.enable_bias;
  embed_tokens_ = w.get(prefix + "embed_tokens.weight", {V, D});
  embed_positions_ = w.get(prefix + "embed_positions.weight", {n_pos + kOptPositionOffset, D})
                         .rows(kOptPositionOffset, n_pos);
  for (int64_t il = 0; il < config.num_hidden_layers; ++il) {
    const std::string l = layer_name(prefix + "layers.{i}.", il);
    Layer layer;
    layer.self_attn_layer_norm = load_layer_norm(w, l + "self_attn_layer_norm", D);
    layer.q_proj = load_linear(w, l + "self_attn.q_proj", D, D, bias);
    layer.k_proj = load_linear(w, l + "self_attn.k_proj", D, D, bias);
    layer.v_proj = load_linear(w, l + "self_attn.v_proj", D, D, bias);
    layer.out_proj = load_linear(w, l + "self_attn.out_proj", D, D, bias);
    layer.final_layer_norm = load_layer_norm(w, l + "final_layer_norm", D);
    layer.fc1 = load_linear(w, l + "fc1", F, D, bias);
    layer.fc2 = load_linear(w, l + "fc2", D, F, bias);
    layers_.push_back(layer);
  }
  if (config.has_final_layer_norm()) final_layer_norm_ = load_layer_norm(w, prefix + "final_layer_norm", D);
  if (config.tie_word_embeddings) {
    lm_head_ = embed_tokens_;
    w.ignore(lm_head);  // some tied checkpoints still save the copy
  } else {
    lm_head_ = w.get(lm_head, {V, D});
  }
}

MmrtKvSpec OptDecoder::kv_spec(MmrtDataType dtype) const {
  MmrtKvSpec spec{};
  spec.n_layer = static_cast<int32_t>(config_.num_hidden_layers);
  spec.n_head_kv = static_cast<int32_t>(config_.num_attention_heads);
  spec.head_dim = static_cast<int32_t>(config_.head_dim());
  spec.dtype = dtype;
  spec.n_cross_layer = 0;
  spec.position_axes = 1;
  spec.vocab_size = config_.vocab_size;
  spec.hidden_size = config_.hidden_size;
  spec.max_position = config_.max_position_embeddings;
  return spec;
}

void OptDecoder::embed(const sdk::Ops& ops, const TensorView& ids, const TensorView& h) const {
  ops.embedding(embed_tokens_, ids, h);
}

void OptDecoder::layers(const sdk::Ops& ops, sdk::Scratch& scratch, const TensorView& h,
                        const TensorView& positions, const MmrtBatchLayout* layout,
                        const MmrtKvLayer* kv) const {
  const OptConfig& c = config_;
  const int64_t n = h.dim(0), D = c.hidden_size, H = c.num_attention_heads, Dh = c.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const bool pre_ln = c.do_layer_norm_before;
  const MmrtDataType dt = h.dtype();
  TensorView x = scratch.tensor(dt, {n, D});
  TensorView q = scratch.tensor(dt, {n, H, Dh});
  TensorView k = scratch.tensor(dt, {n, H, Dh});
  TensorView v = scratch.tensor(dt, {n, H, Dh});
  TensorView attn = scratch.tensor(dt, {n, H, Dh});
  TensorView ffn = scratch.tensor(dt, {n, c.ffn_dim});

  ops.embedding(embed_positions_, positions, x);  // a position past the table is OUT_OF_RANGE
  ops.add(h, x, h);
  for (int64_t il = 0; il < c.num_hidden_layers; ++il) {
    const Layer& l = layers_[il];
    // self-attention block
    const TensorView& attn_in = pre_ln ? x : h;
    if (pre_ln)
      ops.layer_norm(h, l.self_attn_layer_norm.weight, l.self_attn_layer_norm.bias, kLayerNormEps, x);
    ops.linear(attn_in, l.q_proj.weight, l.q_proj.bias, q.reshape({n, D}));
    ops.linear(attn_in, l.k_proj.weight, l.k_proj.bias, k.reshape({n, D}));
    ops.linear(attn_in, l.v_proj.weight, l.v_proj.bias, v.reshape({n, D}));
    ops.kv_cache_write(k, v, kv[il], layout);
    ops.paged_attention(q, kv[il], layout, scale, attn);
    ops.linear(attn.reshape({n, D}), l.out_proj.weight, l.out_proj.bias, x);
    ops.add(h, x, h);
    if (!pre_ln) post_norm(ops, l.self_attn_layer_norm, h, x);
    // feed-forward block
    const TensorView& ffn_in = pre_ln ? x : h;
    if (pre_ln) ops.layer_norm(h, l.final_layer_norm.weight, l.final_layer_norm.bias, kLayerNormEps, x);
    ops.linear(ffn_in, l.fc1.weight, l.fc1.bias, ffn);
    ops.activation(c.activation_function, ffn, ffn);
    ops.linear(ffn, l.fc2.weight, l.fc2.bias, x);
    ops.add(h, x, h);
    if (!pre_ln) post_norm(ops, l.final_layer_norm, h, x);
  }
}

void OptDecoder::logits(const sdk::Ops& ops, sdk::Scratch& scratch, const TensorView& h,
                        const TensorView& logits_rows, const TensorView& logits) const {
  const int64_t n_logits = logits_rows.dim(0), D = config_.hidden_size, V = config_.vocab_size;
  if (n_logits == 0) return;
  TensorView picked = scratch.tensor(h.dtype(), {n_logits, D});
  ops.gather_rows(h, logits_rows, picked);
  TensorView normed = picked;
  if (config_.has_final_layer_norm()) {
    normed = scratch.tensor(h.dtype(), {n_logits, D});
    ops.layer_norm(picked, final_layer_norm_.weight, final_layer_norm_.bias, kLayerNormEps, normed);
  }
  if (sdk::same(h.dtype(), logits.dtype())) {
    ops.linear(normed, lm_head_, {}, logits);
  } else {
    TensorView out = scratch.tensor(h.dtype(), {n_logits, V});
    ops.linear(normed, lm_head_, {}, out);
    ops.copy(out, logits);  // compute dtype -> f32
  }
}

}  // namespace mmrt::blip2
