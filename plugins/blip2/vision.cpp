#include "vision.hpp"

#include <cmath>
#include <optional>

#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::layer_name;
using sdk::TensorView;
using sdk::blocks::load_layer_norm;
using sdk::blocks::load_linear;

namespace {

// The fused self_attn.qkv as three linears over row blocks of its weight. Transformers 5 (and the current hub
// files) store the fused qkv.bias, whose k third is a parameter too; each block takes its slice. The original
// uploads stored q_bias and v_bias only, which Transformers concatenated as cat(q_bias, 0, v_bias).
void load_qkv(sdk::Weights& w, const std::string& attn, const VisionConfig& c, VisionModel::EncoderLayer& l) {
  const int64_t D = c.hidden_size;
  const TensorView qkv = w.get(attn + "qkv.weight", {3 * D, D});
  l.q.weight = qkv.rows(0, D);
  l.k.weight = qkv.rows(D, D);
  l.v.weight = qkv.rows(2 * D, D);
  if (std::optional<TensorView> fused = w.get_optional(attn + "qkv.bias", {3 * D})) {
    l.q.bias = fused->rows(0, D);
    l.k.bias = fused->rows(D, D);
    l.v.bias = fused->rows(2 * D, D);
  } else if (c.qkv_bias) {
    l.q.bias = w.get(attn + "q_bias", {D});
    l.v.bias = w.get(attn + "v_bias", {D});
  }
}

}  // namespace

VisionModel::VisionModel(const VisionConfig& config, sdk::Weights& w, const std::string& prefix)
    : config_(config) {
  const int64_t D = config.hidden_size, I = config.intermediate_size, p = config.patch_size;
  patch_embedding_weight_ = w.get(prefix + "embeddings.patch_embedding.weight", {D, 3, p, p});
  patch_embedding_bias_ = w.get(prefix + "embeddings.patch_embedding.bias", {D});
  class_embedding_ = w.get(prefix + "embeddings.class_embedding", {1, 1, D}).reshape({1, D});
  position_embedding_ = w.get(prefix + "embeddings.position_embedding", {1, config.n_positions(), D})
                            .reshape({config.n_positions(), D});
  for (int64_t il = 0; il < config.num_hidden_layers; ++il) {
    const std::string l = layer_name(prefix + "encoder.layers.{i}.", il);
    EncoderLayer layer;
    layer.layer_norm1 = load_layer_norm(w, l + "layer_norm1", D);
    load_qkv(w, l + "self_attn.", config, layer);
    layer.projection = load_linear(w, l + "self_attn.projection", D, D, true);
    layer.layer_norm2 = load_layer_norm(w, l + "layer_norm2", D);
    layer.fc1 = load_linear(w, l + "mlp.fc1", I, D, true);
    layer.fc2 = load_linear(w, l + "mlp.fc2", D, I, true);
    layers_.push_back(layer);
  }
  post_layernorm_ = load_layer_norm(w, prefix + "post_layernorm", D);
}

void VisionModel::forward(const sdk::Ops& ops, sdk::Scratch& scratch, const TensorView& pixels,
                          const TensorView& out) const {
  const VisionConfig& c = config_;
  const int64_t n_images = pixels.dim(0), S = c.image_size, P = c.n_positions(), D = c.hidden_size;
  const int64_t N = n_images * P, H = c.num_attention_heads, Dh = c.head_dim();
  const float eps = static_cast<float>(c.layer_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  sdk::require(pixels.ndim() == 4 && pixels.dim(1) == 3 && pixels.dim(2) == S && pixels.dim(3) == S,
               MMRT_STATUS_INVALID_ARGUMENT,
               sdk::str("vision model: pixels ", pixels.describe(), ", expected [n, 3, ", S, ", ", S, "]"));
  const MmrtDataType dt = pixels.dtype();
  TensorView h = scratch.tensor(dt, {N, D});  // residual stream
  TensorView x = scratch.tensor(dt, {N, D});
  TensorView q = scratch.tensor(dt, {N, D});
  TensorView k = scratch.tensor(dt, {N, D});
  TensorView v = scratch.tensor(dt, {N, D});
  TensorView attn = scratch.tensor(dt, {N, D});
  TensorView mlp = scratch.tensor(dt, {N, c.intermediate_size});

  // embeddings: [class; patches] + position_embedding, per image
  for (int64_t img = 0; img < n_images; ++img) {
    TensorView rows = h.rows(img * P, P);
    ops.patch_embed(pixels.rows(img, 1).reshape({3, S, S}), patch_embedding_weight_, patch_embedding_bias_,
                    rows.rows(1, P - 1));
    ops.copy(class_embedding_, rows.rows(0, 1));
    ops.add(rows, position_embedding_, rows);
  }

  for (const EncoderLayer& l : layers_) {
    ops.layer_norm(h, l.layer_norm1.weight, l.layer_norm1.bias, eps, x);
    ops.linear(x, l.q.weight, l.q.bias, q);
    ops.linear(x, l.k.weight, l.k.bias, k);
    ops.linear(x, l.v.weight, l.v.bias, v);
    for (int64_t img = 0; img < n_images; ++img) {
      auto heads = [&](const TensorView& t) { return t.rows(img * P, P).reshape({P, H, Dh}); };
      ops.attention(heads(q), heads(k), heads(v), {}, scale, false, heads(attn));
    }
    ops.linear(attn, l.projection.weight, l.projection.bias, x);
    ops.add(h, x, h);
    ops.layer_norm(h, l.layer_norm2.weight, l.layer_norm2.bias, eps, x);
    ops.linear(x, l.fc1.weight, l.fc1.bias, mlp);
    ops.activation(c.hidden_act, mlp, mlp);
    ops.linear(mlp, l.fc2.weight, l.fc2.bias, x);
    ops.add(h, x, h);
  }
  ops.layer_norm(h, post_layernorm_.weight, post_layernorm_.bias, eps, out);
}

}  // namespace mmrt::blip2
