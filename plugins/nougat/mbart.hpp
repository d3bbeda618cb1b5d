// The mBART decoder (Liu et al. 2020; Transformers' MBartForCausalLM as VisionEncoderDecoderModel's
// decoder) over the host's paged self- and cross-attention caches, loaded by HF module name.
//
//   h = embed_tokens(ids) · sqrt(d_model) (scale_embedding) + embed_positions[position + 2]
//   h = layernorm_embedding(h)
//   layer (pre-LN):  h = h + self_attn.out_proj(causal attention(self_attn_layer_norm(h)))
//                    h = h + encoder_attn.out_proj(attention over the image
//                    memory(encoder_attn_layer_norm(h))) h = h + fc2(act(fc1(final_layer_norm(h))))
//   logits = lm_head(layer_norm(h[logits_rows]))
//
// Attention projections have biases; scores are scaled by head_dim^-0.5 and carry no bias. The table
// embed_positions has max_position_embeddings + 2 rows (MBartLearnedPositionalEmbedding's offset).
// Cross K/V: when the host passes encoder_states (the memory of the sequences whose cross cache is not
// filled yet), every layer projects them with encoder_attn.k_proj / v_proj and stores them through
// cross_layout; every step then reads the cross cache with a non-causal paged attention.
//
// Threading: forward() is [serialized-per-instance]; the weights are read-only.
#ifndef MMRT_PLUGINS_NOUGAT_MBART_HPP_
#define MMRT_PLUGINS_NOUGAT_MBART_HPP_

#include <mmrt_abi.h>

#include <string>
#include <vector>

#include "config.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::nougat {

class MBartDecoder {
 public:
  struct Attention {
    sdk::blocks::Linear q_proj, k_proj, v_proj, out_proj;  // [D, D] (k/v of encoder_attn: [D, memory])
  };
  struct Layer {
    sdk::blocks::LayerNorm self_attn_layer_norm;
    Attention self_attn;
    sdk::blocks::LayerNorm encoder_attn_layer_norm;
    Attention encoder_attn;
    sdk::blocks::LayerNorm final_layer_norm;
    sdk::blocks::Linear fc1;  // [ffn, D]
    sdk::blocks::Linear fc2;  // [D, ffn]
  };

  // `prefix` is the MBartDecoder's ("decoder.model.decoder."), `lm_head` the head's weight name
  // ("decoder.lm_head.weight"), unused when the config ties it to embed_tokens.
  MBartDecoder(const MBartDecoderConfig& config, sdk::Weights& w, const std::string& prefix,
               const std::string& lm_head);

  const MBartDecoderConfig& config() const { return config_; }

  // One batched step: args as the decoder role receives them (n_cross_layer = decoder_layers).
  void forward(const sdk::Ops& ops, sdk::Scratch& scratch, const MmrtDecodeArgs& args) const;

 private:
  MBartDecoderConfig config_;
  sdk::TensorView embed_tokens_;     // [V, D]
  sdk::TensorView embed_positions_;  // [max_position_embeddings + 2, D]
  sdk::blocks::LayerNorm layernorm_embedding_;
  std::vector<Layer> layers_;
  sdk::blocks::LayerNorm layer_norm_;
  sdk::TensorView lm_head_;  // [V, D]
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_MBART_HPP_
