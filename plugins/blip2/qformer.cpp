#include "qformer.hpp"

#include <cmath>

#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::layer_name;
using sdk::TensorView;
using sdk::blocks::load_layer_norm;
using sdk::blocks::load_linear;

namespace {

QFormer::Attention load_attention(sdk::Weights& w, const std::string& module, int64_t D, int64_t kv_in) {
  return {load_linear(w, module + ".attention.query", D, D, true),
          load_linear(w, module + ".attention.key", D, kv_in, true),
          load_linear(w, module + ".attention.value", D, kv_in, true),
          load_linear(w, module + ".output.dense", D, D, true),
          load_layer_norm(w, module + ".output.LayerNorm", D)};
}

}  // namespace

QFormer::QFormer(const QFormerConfig& config, int64_t num_query_tokens, sdk::Weights& w,
                 const std::string& prefix)
    : config_(config), num_query_tokens_(num_query_tokens) {
  const int64_t D = config.hidden_size, I = config.intermediate_size;
  query_tokens_ = w.get("query_tokens", {1, num_query_tokens, D}).reshape({num_query_tokens, D});
  layernorm_ = load_layer_norm(w, prefix + "layernorm", D);
  for (int64_t il = 0; il < config.num_hidden_layers; ++il) {
    const std::string l = layer_name(prefix + "encoder.layer.{i}.", il);
    Layer layer;
    layer.attention = load_attention(w, l + "attention", D, D);
    if (config.has_cross_attention(il)) {
      layer.crossattention = load_attention(w, l + "crossattention", D, config.encoder_hidden_size);
    }
    layer.intermediate_query = load_linear(w, l + "intermediate_query.dense", I, D, true);
    layer.output_query = load_linear(w, l + "output_query.dense", D, I, true);
    layer.output_query_layer_norm = load_layer_norm(w, l + "output_query.LayerNorm", D);
    layers_.push_back(layer);
  }
  // The text branch (Q-Former text input only) and the BERT text embeddings generation never runs.
  w.ignore(prefix + "encoder.layer.*.intermediate.dense.*");
  w.ignore(prefix + "encoder.layer.*.output.dense.*");
  w.ignore(prefix + "encoder.layer.*.output.LayerNorm.*");
  w.ignore(prefix + "embeddings.*");
}

void QFormer::attend(const sdk::Ops& ops, sdk::Scratch& scratch, const Attention& a, const TensorView& h,
                     const TensorView& kv, int64_t n_kv, const TensorView& out) const {
  const int64_t Q = num_query_tokens_, D = config_.hidden_size, H = config_.num_attention_heads;
  const int64_t Dh = config_.head_dim(), n_images = h.dim(0) / Q;
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const MmrtDataType dt = h.dtype();
  TensorView q = scratch.tensor(dt, {n_images * Q, D});
  TensorView k = scratch.tensor(dt, {n_images * n_kv, D});
  TensorView v = scratch.tensor(dt, {n_images * n_kv, D});
  TensorView context = scratch.tensor(dt, {n_images * Q, D});
  ops.linear(h, a.query.weight, a.query.bias, q);
  ops.linear(kv, a.key.weight, a.key.bias, k);
  ops.linear(kv, a.value.weight, a.value.bias, v);
  for (int64_t img = 0; img < n_images; ++img) {
    ops.attention(q.rows(img * Q, Q).reshape({Q, H, Dh}), k.rows(img * n_kv, n_kv).reshape({n_kv, H, Dh}),
                  v.rows(img * n_kv, n_kv).reshape({n_kv, H, Dh}), {}, scale, false,
                  context.rows(img * Q, Q).reshape({Q, H, Dh}));
  }
  ops.linear(context, a.dense.weight, a.dense.bias, q);
  ops.add(q, h, q);
  ops.layer_norm(q, a.layer_norm.weight, a.layer_norm.bias, static_cast<float>(config_.layer_norm_eps), out);
}

void QFormer::forward(const sdk::Ops& ops, sdk::Scratch& scratch, const TensorView& image_embeds, int64_t P,
                      const TensorView& out) const {
  const int64_t Q = num_query_tokens_, D = config_.hidden_size, n_images = image_embeds.dim(0) / P;
  const float eps = static_cast<float>(config_.layer_norm_eps);
  const MmrtDataType dt = image_embeds.dtype();
  sdk::require(out.ndim() == 2 && out.dim(0) == n_images * Q && out.dim(1) == D, MMRT_STATUS_INTERNAL,
               sdk::str("Q-Former output ", out.describe(), ", expected [", n_images * Q, ", ", D, "]"));
  TensorView h = scratch.tensor(dt, {n_images * Q, D});
  TensorView ffn = scratch.tensor(dt, {n_images * Q, config_.intermediate_size});
  TensorView x = scratch.tensor(dt, {n_images * Q, D});
  for (int64_t img = 0; img < n_images; ++img) {
    ops.layer_norm(query_tokens_, layernorm_.weight, layernorm_.bias, eps, h.rows(img * Q, Q));
  }
  for (const Layer& l : layers_) {
    attend(ops, scratch, l.attention, h, h, Q, h);
    if (l.crossattention) attend(ops, scratch, *l.crossattention, h, image_embeds, P, h);
    ops.linear(h, l.intermediate_query.weight, l.intermediate_query.bias, ffn);
    ops.activation(config_.hidden_act, ffn, ffn);
    ops.linear(ffn, l.output_query.weight, l.output_query.bias, x);
    ops.add(x, h, x);
    ops.layer_norm(x, l.output_query_layer_norm.weight, l.output_query_layer_norm.bias, eps, h);
  }
  ops.copy(h, out);
}

}  // namespace mmrt::blip2
