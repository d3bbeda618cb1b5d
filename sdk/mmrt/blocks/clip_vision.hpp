// CLIP vision transformer (Radford et al. 2021; Transformers' CLIPVisionTransformer), as a reusable block.
//
//   pixels [C, H, W] --patch_embedding (conv p×p stride p, no bias)--> [n_patches, D]
//   prepend class_embedding, add position_embedding  -> [P = n_patches + 1, D]
//   pre_layrnorm (sic: the checkpoint spells it so)  -> hidden_states[0]
//   layer k (pre-norm):  h = h + out_proj(attn(layer_norm1(h)))
//                        h = h + fc2(act(fc1(layer_norm2(h))))      -> hidden_states[k]
// post_layernorm only pools the CLS token for CLIP's own head; vision-language models do not use it.
//
// Worked example (llava-1.5): 336×336 pixels, p = 14 -> 24·24 = 576 patches + CLS = 577 rows of D = 1024;
// vision_feature_layer -2 is hidden_states[23] of 24 layers, so layer 24 never runs and is not loaded.
// Images of one batch share the linear layers ([n_images·P, D] rows); attention runs per image.
#ifndef MMRT_SDK_BLOCKS_CLIP_VISION_HPP_
#define MMRT_SDK_BLOCKS_CLIP_VISION_HPP_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mmrt/blocks/activation.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/json.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::sdk::blocks {

// CLIPVisionConfig; defaults are that class's (a checkpoint's vision_config overrides them).
struct ClipVisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 32;
  int32_t hidden_act = MMRT_ACT_QUICK_GELU;
  double layer_norm_eps = 1e-5;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  int64_t n_positions() const { return n_patches() + 1; }
};

// Reads `vision` over `defaults` and checks that the sizes fit together.
inline ClipVisionConfig parse_clip_vision_config(const json::Reader& vision, ClipVisionConfig defaults = {}) {
  ClipVisionConfig c = defaults;
  c.hidden_size = vision.get_int("hidden_size", c.hidden_size);
  c.intermediate_size = vision.get_int("intermediate_size", c.intermediate_size);
  c.num_hidden_layers = vision.get_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = vision.get_int("num_attention_heads", c.num_attention_heads);
  c.num_channels = vision.get_int("num_channels", c.num_channels);
  c.image_size = vision.get_int("image_size", c.image_size);
  c.patch_size = vision.get_int("patch_size", c.patch_size);
  if (vision.has("hidden_act")) c.hidden_act = parse_activation(vision, "hidden_act", "quick_gelu");
  c.layer_norm_eps = vision.get_double("layer_norm_eps", c.layer_norm_eps);
  auto positive = [&](const char* key, int64_t v) {
    require(v > 0, MMRT_STATUS_INVALID_ARGUMENT, str(vision.where(key), "must be positive, got ", v));
  };
  positive("hidden_size", c.hidden_size);
  positive("intermediate_size", c.intermediate_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("num_channels", c.num_channels);
  positive("image_size", c.image_size);
  positive("patch_size", c.patch_size);
  require(c.hidden_size % c.num_attention_heads == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(vision.where("hidden_size"), c.hidden_size, " is not divisible by num_attention_heads ",
              c.num_attention_heads));
  require(c.image_size % c.patch_size == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(vision.where("image_size"), c.image_size, " is not a multiple of patch_size ", c.patch_size));
  return c;
}

class ClipVisionTower {
 public:
  struct EncoderLayer {
    LayerNorm layer_norm1;
    Linear q_proj, k_proj, v_proj, out_proj;  // [D, D] with bias
    LayerNorm layer_norm2;
    Linear fc1;  // [I, D]
    Linear fc2;  // [D, I]
  };

  // Loads the tower under `prefix` (e.g. "vision_tower.vision_model.") with the layers needed for
  // hidden_states[0 .. n_layers_used]; the checkpoint's deeper layers and post_layernorm are ignored.
  ClipVisionTower(const ClipVisionConfig& config, Weights& w, const std::string& prefix,
                  int64_t n_layers_used)
      : config_(config) {
    const int64_t D = config.hidden_size, I = config.intermediate_size, C = config.num_channels,
                  p = config.patch_size;
    require(n_layers_used >= 0 && n_layers_used <= config.num_hidden_layers, MMRT_STATUS_INVALID_ARGUMENT,
            str("vision tower: ", n_layers_used, " layers requested of ", config.num_hidden_layers));
    patch_embedding_ = w.get(prefix + "embeddings.patch_embedding.weight", {D, C, p, p});
    class_embedding_ = w.get(prefix + "embeddings.class_embedding", {D});
    position_embedding_ = w.get(prefix + "embeddings.position_embedding.weight", {config.n_positions(), D});
    pre_layrnorm_ = load_layer_norm(w, prefix + "pre_layrnorm", D);
    for (int64_t il = 0; il < n_layers_used; ++il) {
      const std::string l = layer_name(prefix + "encoder.layers.{i}.", il);
      EncoderLayer layer;
      layer.layer_norm1 = load_layer_norm(w, l + "layer_norm1", D);
      layer.q_proj = load_linear(w, l + "self_attn.q_proj", D, D, true);
      layer.k_proj = load_linear(w, l + "self_attn.k_proj", D, D, true);
      layer.v_proj = load_linear(w, l + "self_attn.v_proj", D, D, true);
      layer.out_proj = load_linear(w, l + "self_attn.out_proj", D, D, true);
      layer.layer_norm2 = load_layer_norm(w, l + "layer_norm2", D);
      layer.fc1 = load_linear(w, l + "mlp.fc1", I, D, true);
      layer.fc2 = load_linear(w, l + "mlp.fc2", D, I, true);
      layers_.push_back(layer);
    }
    for (int64_t il = n_layers_used; il < config.num_hidden_layers; ++il) {
      w.ignore(layer_name(prefix + "encoder.layers.{i}.*", il));
    }
    w.ignore(prefix + "post_layernorm.*");
    w.ignore(prefix + "embeddings.position_ids");  // a buffer some older checkpoints saved
  }

  const ClipVisionConfig& config() const { return config_; }
  int64_t n_layers_loaded() const { return static_cast<int64_t>(layers_.size()); }

  // pixels [n_images, C, H, W] in the compute dtype, H = W = image_size. For each j, hidden_states[select[j]]
  // of all images ([n_images·P, D], image-major) is copied into outs[j], which may be a column slice.
  void forward(const Ops& ops, Scratch& scratch, const TensorView& pixels, std::span<const int64_t> select,
               std::span<const TensorView> outs) const {
    const ClipVisionConfig& c = config_;
    const int64_t n_images = pixels.dim(0), P = c.n_positions(), D = c.hidden_size, N = n_images * P;
    const int64_t H = c.num_attention_heads, Dh = c.head_dim();
    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
    require(pixels.ndim() == 4 && pixels.dim(1) == c.num_channels && pixels.dim(2) == c.image_size &&
                pixels.dim(3) == c.image_size,
            MMRT_STATUS_INVALID_ARGUMENT,
            str("vision tower: pixels ", pixels.describe(), ", expected [n, ", c.num_channels, ", ",
                c.image_size, ", ", c.image_size, "]"));
    int64_t n_layers_run = 0;
    for (int64_t k : select) n_layers_run = std::max(n_layers_run, k);
    require(n_layers_run <= n_layers_loaded(), MMRT_STATUS_INTERNAL, "vision tower: hidden state not loaded");

    TensorView h = scratch.tensor(pixels.dtype(), {N, D});  // residual stream
    TensorView x = scratch.tensor(pixels.dtype(), {N, D});
    TensorView q = scratch.tensor(pixels.dtype(), {N, D});
    TensorView k = scratch.tensor(pixels.dtype(), {N, D});
    TensorView v = scratch.tensor(pixels.dtype(), {N, D});
    TensorView attn = scratch.tensor(pixels.dtype(), {N, D});
    TensorView mlp = scratch.tensor(pixels.dtype(), {N, c.intermediate_size});

    // embeddings: [CLS; patches] + position_embedding, per image
    for (int64_t img = 0; img < n_images; ++img) {
      TensorView image_rows = x.rows(img * P, P);  // [P, D]
      TensorView image_pixels =
          pixels.rows(img, 1).reshape({c.num_channels, c.image_size, c.image_size});   // [C, H, W]
      ops.patch_embed(image_pixels, patch_embedding_, {}, image_rows.rows(1, P - 1));  // -> [P-1, D]
      ops.copy(class_embedding_.reshape({1, D}), image_rows.rows(0, 1));
      ops.add(image_rows, position_embedding_, image_rows);
    }
    ops.layer_norm(x, pre_layrnorm_.weight, pre_layrnorm_.bias, static_cast<float>(c.layer_norm_eps), h);
    emit_selected(ops, 0, h, select, outs);

    for (int64_t il = 0; il < n_layers_run; ++il) {
      const EncoderLayer& l = layers_[il];
      // self-attention block
      ops.layer_norm(h, l.layer_norm1.weight, l.layer_norm1.bias, static_cast<float>(c.layer_norm_eps), x);
      ops.linear(x, l.q_proj.weight, l.q_proj.bias, q);
      ops.linear(x, l.k_proj.weight, l.k_proj.bias, k);
      ops.linear(x, l.v_proj.weight, l.v_proj.bias, v);
      for (int64_t img = 0; img < n_images; ++img) {
        auto heads = [&](const TensorView& t) {
          return t.rows(img * P, P).reshape({P, H, Dh});
        };  // -> [P, H, Dh]
        ops.attention(heads(q), heads(k), heads(v), {}, scale, false, heads(attn));
      }
      ops.linear(attn, l.out_proj.weight, l.out_proj.bias, x);
      ops.add(h, x, h);
      // MLP block
      ops.layer_norm(h, l.layer_norm2.weight, l.layer_norm2.bias, static_cast<float>(c.layer_norm_eps), x);
      ops.linear(x, l.fc1.weight, l.fc1.bias, mlp);  // -> [N, I]
      ops.activation(c.hidden_act, mlp, mlp);
      ops.linear(mlp, l.fc2.weight, l.fc2.bias, x);  // -> [N, D]
      ops.add(h, x, h);
      emit_selected(ops, il + 1, h, select, outs);
    }
  }

 private:
  static void emit_selected(const Ops& ops, int64_t index, const TensorView& h,
                            std::span<const int64_t> select, std::span<const TensorView> outs) {
    for (size_t j = 0; j < select.size(); ++j) {
      if (select[j] == index) ops.copy(h, outs[j]);
    }
  }

  ClipVisionConfig config_;
  TensorView patch_embedding_;     // [D, C, p, p]
  TensorView class_embedding_;     // [D]
  TensorView position_embedding_;  // [P, D]
  LayerNorm pre_layrnorm_;
  std::vector<EncoderLayer> layers_;
};

}  // namespace mmrt::sdk::blocks

#endif  // MMRT_SDK_BLOCKS_CLIP_VISION_HPP_
