#include "mbart.hpp"

#include <cmath>

#include "mmrt/status.hpp"

namespace mmrt::nougat {

using sdk::require;
using sdk::str;
using sdk::TensorView;

namespace {

// MBartLearnedPositionalEmbedding looks position p up at row p + 2.
constexpr int64_t kPositionOffset = 2;

MBartDecoder::Attention load_attention(sdk::Weights& w, const std::string& module, int64_t D) {
  return {sdk::blocks::load_linear(w, module + ".q_proj", D, D, true),
          sdk::blocks::load_linear(w, module + ".k_proj", D, D, true),
          sdk::blocks::load_linear(w, module + ".v_proj", D, D, true),
          sdk::blocks::load_linear(w, module + ".out_proj", D, D, true)};
}

}  // namespace

MBartDecoder::MBartDecoder(const MBartDecoderConfig& c, sdk::Weights& w, const std::string& prefix,
                           const std::string& lm_head)
    : config_(c) {
  const int64_t D = c.d_model, F = c.decoder_ffn_dim, V = c.vocab_size;
  embed_tokens_ = w.get(prefix + "embed_tokens.weight", {V, D});
  embed_positions_ =
      w.get(prefix + "embed_positions.weight", {c.max_position_embeddings + kPositionOffset, D});
  layernorm_embedding_ = sdk::blocks::load_layer_norm(w, prefix + "layernorm_embedding", D);
  for (int64_t il = 0; il < c.decoder_layers; ++il) {
    const std::string l = sdk::layer_name(prefix + "layers.{i}.", il);
    Layer layer;
    layer.self_attn_layer_norm = sdk::blocks::load_layer_norm(w, l + "self_attn_layer_norm", D);
    layer.self_attn = load_attention(w, l + "self_attn", D);
    layer.encoder_attn_layer_norm = sdk::blocks::load_layer_norm(w, l + "encoder_attn_layer_norm", D);
    layer.encoder_attn = load_attention(w, l + "encoder_attn", D);
    layer.final_layer_norm = sdk::blocks::load_layer_norm(w, l + "final_layer_norm", D);
    layer.fc1 = sdk::blocks::load_linear(w, l + "fc1", F, D, true);
    layer.fc2 = sdk::blocks::load_linear(w, l + "fc2", D, F, true);
    layers_.push_back(layer);
  }
  layer_norm_ = sdk::blocks::load_layer_norm(w, prefix + "layer_norm", D);
  if (c.tie_word_embeddings) {
    lm_head_ = embed_tokens_;
    w.ignore(lm_head);  // tied checkpoints may still store the copy
  } else {
    lm_head_ = w.get(lm_head, {V, D});
  }
}

void MBartDecoder::forward(const sdk::Ops& ops, sdk::Scratch& scratch, const MmrtDecodeArgs& args) const {
  const MBartDecoderConfig& c = config_;
  const int64_t n = args.n_tokens, D = c.d_model, H = c.decoder_attention_heads, Dh = c.head_dim();
  require(args.input_ids != nullptr && args.positions != nullptr && args.layout != nullptr &&
              args.kv != nullptr && args.cross_layout != nullptr && args.cross_kv != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT,
          "forward needs input_ids, positions, layout, kv, cross_layout and cross_kv");
  require(args.embeds == nullptr, MMRT_STATUS_INVALID_ARGUMENT,
          "the mBART decoder takes no injected rows: the image is cross-attention memory (encoder_states)");
  const TensorView input_ids(*args.input_ids);
  const TensorView positions(*args.positions);
  require(
      input_ids.ndim() == 1 && input_ids.dim(0) == n && positions.ndim() == 1 && positions.dim(0) == n,
      MMRT_STATUS_INVALID_ARGUMENT,
      str("input_ids ", input_ids.describe(), " and positions ", positions.describe(), " must be [", n, "]"));
  if (n == 0) return;
  const MmrtDataType dt = embed_tokens_.dtype();
  const float eps = 1e-5f;  // nn.LayerNorm's default; MBart sets no other
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));

  TensorView h = scratch.tensor(dt, {n, D});
  TensorView x = scratch.tensor(dt, {n, D});
  ops.embedding(embed_tokens_, input_ids, x);
  if (c.scale_embedding) ops.scale(x, std::sqrt(static_cast<float>(D)));
  ops.embedding(embed_positions_.rows(kPositionOffset, c.max_position_embeddings), positions, h);
  ops.add(x, h, x);
  ops.layer_norm(x, layernorm_embedding_.weight, layernorm_embedding_.bias, eps, h);

  TensorView memory;
  TensorView cross_k, cross_v;
  if (args.encoder_states != nullptr) {
    memory = TensorView(*args.encoder_states);
    require(memory.ndim() == 2 && memory.dim(1) == D, MMRT_STATUS_INVALID_ARGUMENT,
            str("encoder_states ", memory.describe(), ", expected [rows, ", D, "]"));
    cross_k = scratch.tensor(dt, {memory.dim(0), H, Dh});
    cross_v = scratch.tensor(dt, {memory.dim(0), H, Dh});
  }
  TensorView q = scratch.tensor(dt, {n, H, Dh});
  TensorView k = scratch.tensor(dt, {n, H, Dh});
  TensorView v = scratch.tensor(dt, {n, H, Dh});
  TensorView attn = scratch.tensor(dt, {n, H, Dh});
  TensorView ffn = scratch.tensor(dt, {n, c.decoder_ffn_dim});
  auto flat = [&](const TensorView& t) { return t.reshape({t.dim(0), H * Dh}); };

  for (size_t il = 0; il < layers_.size(); ++il) {
    const Layer& l = layers_[il];
    // causal self-attention over the paged cache
    ops.layer_norm(h, l.self_attn_layer_norm.weight, l.self_attn_layer_norm.bias, eps, x);
    ops.linear(x, l.self_attn.q_proj.weight, l.self_attn.q_proj.bias, flat(q));
    ops.linear(x, l.self_attn.k_proj.weight, l.self_attn.k_proj.bias, flat(k));
    ops.linear(x, l.self_attn.v_proj.weight, l.self_attn.v_proj.bias, flat(v));
    ops.kv_cache_write(k, v, args.kv[il], args.layout);
    ops.paged_attention(q, args.kv[il], args.layout, scale, attn);
    ops.linear(flat(attn), l.self_attn.out_proj.weight, l.self_attn.out_proj.bias, x);
    ops.add(h, x, h);
    // cross-attention over the image memory
    if (!memory.empty()) {
      ops.linear(memory, l.encoder_attn.k_proj.weight, l.encoder_attn.k_proj.bias, flat(cross_k));
      ops.linear(memory, l.encoder_attn.v_proj.weight, l.encoder_attn.v_proj.bias, flat(cross_v));
      ops.kv_cache_write(cross_k, cross_v, args.cross_kv[il], args.cross_layout);
    }
    ops.layer_norm(h, l.encoder_attn_layer_norm.weight, l.encoder_attn_layer_norm.bias, eps, x);
    ops.linear(x, l.encoder_attn.q_proj.weight, l.encoder_attn.q_proj.bias, flat(q));
    ops.paged_attention_ex(q, args.cross_kv[il], args.cross_layout, scale, /*causal=*/false, {}, attn);
    ops.linear(flat(attn), l.encoder_attn.out_proj.weight, l.encoder_attn.out_proj.bias, x);
    ops.add(h, x, h);
    // feed-forward
    ops.layer_norm(h, l.final_layer_norm.weight, l.final_layer_norm.bias, eps, x);
    ops.linear(x, l.fc1.weight, l.fc1.bias, ffn);
    ops.activation(c.activation_function, ffn, ffn);
    ops.linear(ffn, l.fc2.weight, l.fc2.bias, x);
    ops.add(h, x, h);
  }

  if (args.logits_rows == nullptr || args.logits == nullptr) return;
  const TensorView logits_rows(*args.logits_rows);
  const TensorView logits(*args.logits);
  const int64_t n_logits = logits_rows.dim(0);
  if (n_logits == 0) return;
  TensorView picked = scratch.tensor(dt, {n_logits, D});
  TensorView normed = scratch.tensor(dt, {n_logits, D});
  ops.gather_rows(h, logits_rows, picked);
  ops.layer_norm(picked, layer_norm_.weight, layer_norm_.bias, eps, normed);
  if (sdk::same(dt, logits.dtype())) {
    ops.linear(normed, lm_head_, {}, logits);
  } else {
    TensorView wide = scratch.tensor(dt, {n_logits, c.vocab_size});
    ops.linear(normed, lm_head_, {}, wide);
    ops.copy(wide, logits);  // compute dtype -> f32
  }
}

}  // namespace mmrt::nougat
