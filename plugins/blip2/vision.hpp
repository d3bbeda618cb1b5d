// The BLIP-2 vision transformer (EVA ViT-g; Transformers' Blip2VisionModel).
//
//   pixels [C, S, S] --patch_embedding (conv p×p stride p, with bias)--> [n_patches, D]
//   prepend class_embedding, add position_embedding            -> [P = n_patches + 1, D]   (no pre-norm)
//   layer (pre-norm):  h = h + projection(attn(layer_norm1(h)))     fused qkv [3D, D]: q | k | v
//                      h = h + fc2(act(fc1(layer_norm2(h))))
//   post_layernorm over all P rows                              -> image_embeds [P, D]  (CLS kept)
//
// Worked example (blip2-opt-2.7b): 224×224 pixels, p = 14 -> 256 patches + CLS = 257 rows of D = 1408,
// 39 layers, 16 heads of 88; all 257 rows go to the Q-Former's cross-attention.
//
// Ownership: weight views belong to the host's weights object. Threading: forward is const; the caller
// owns the scratch.
#ifndef MMRT_PLUGINS_BLIP2_VISION_HPP_
#define MMRT_PLUGINS_BLIP2_VISION_HPP_

#include <string>
#include <vector>

#include "config.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::blip2 {

class VisionModel {
 public:
  struct EncoderLayer {
    sdk::blocks::LayerNorm layer_norm1;
    // Row blocks of self_attn.qkv.weight [3D, D] with the matching slices of qkv.bias (or the original
    // uploads' q_bias / v_bias, and no k bias).
    sdk::blocks::Linear q, k, v;
    sdk::blocks::Linear projection;  // [D, D]
    sdk::blocks::LayerNorm layer_norm2;
    sdk::blocks::Linear fc1;  // [I, D]
    sdk::blocks::Linear fc2;  // [D, I]
  };

  // Loads `<prefix>embeddings.*`, `<prefix>encoder.layers.*`, `<prefix>post_layernorm.*`.
  VisionModel(const VisionConfig& config, sdk::Weights& w, const std::string& prefix);

  // pixels [n_images, 3, S, S] in the compute dtype -> out [n_images · P, D], image-major.
  void forward(const sdk::Ops& ops, sdk::Scratch& scratch, const sdk::TensorView& pixels,
               const sdk::TensorView& out) const;

 private:
  VisionConfig config_;
  sdk::TensorView patch_embedding_weight_;  // [D, 3, p, p]
  sdk::TensorView patch_embedding_bias_;    // [D]
  sdk::TensorView class_embedding_;         // [1, D]
  sdk::TensorView position_embedding_;      // [P, D]
  std::vector<EncoderLayer> layers_;
  sdk::blocks::LayerNorm post_layernorm_;
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_VISION_HPP_
