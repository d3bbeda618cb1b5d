// The OPT decoder (Zhang et al. 2022; Transformers' OPTForCausalLM) over the host's paged KV cache.
//
//   h = embed_tokens(ids) (multimodal rows injected after) + embed_positions[position + 2]
//   layer, pre-LN (do_layer_norm_before):       post-LN (opt-350m style):
//     h = h + out_proj(attn(self_attn_layer_norm(h)))     h = self_attn_layer_norm(h + out_proj(attn(h)))
//     h = h + fc2(act(fc1(final_layer_norm(h))))          h = final_layer_norm(h + fc2(act(fc1(h))))
//   attention: q_proj(x) scaled by Dh^-0.5 (bias included), causal over each sequence's cache
//   logits = lm_head(decoder.final_layer_norm(h[logits_rows]))   lm_head tied to embed_tokens by default
//
// Positions are the host's 0-based token indices; OPTLearnedPositionalEmbedding reads row index + 2, so the
// position table is used through a view that starts two rows in.
//
// Worked example (blip2-opt-2.7b, "Question: what is this? Answer:" after 32 image tokens): 41 ids at
// positions 0..40 read embed_positions rows 2..42; 32 layers of 32 heads × 80; logits [1, 50304].
//
// Ownership: weight views belong to the host's weights object. Threading: [serialized-per-instance].
#ifndef MMRT_PLUGINS_BLIP2_OPT_HPP_
#define MMRT_PLUGINS_BLIP2_OPT_HPP_

#include <mmrt_abi.h>

#include <string>
#include <vector>

#include "config.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::blip2 {

class OptDecoder {
 public:
  struct Layer {
    sdk::blocks::LayerNorm self_attn_layer_norm;
    sdk::blocks::Linear q_proj, k_proj, v_proj, out_proj;  // [D, D], bias when enable_bias
    sdk::blocks::LayerNorm final_layer_norm;
    sdk::blocks::Linear fc1;  // [F, D]
    sdk::blocks::Linear fc2;  // [D, F]
  };

  // `prefix` is the OPTDecoder's ("language_model.model.decoder."); `lm_head` the head's weight name,
  // unused when tied.
  OptDecoder(const OptConfig& config, sdk::Weights& w, const std::string& prefix, const std::string& lm_head);

  const OptConfig& config() const { return config_; }
  MmrtKvSpec kv_spec(MmrtDataType dtype) const;

  // ids int32 [n] -> h [n, D].
  void embed(const sdk::Ops& ops, const sdk::TensorView& ids, const sdk::TensorView& h) const;
  // Adds the learned positions (int32 [n], 0-based) and runs every layer over h [n, D] in place.
  void layers(const sdk::Ops& ops, sdk::Scratch& scratch, const sdk::TensorView& h,
              const sdk::TensorView& positions, const MmrtBatchLayout* layout, const MmrtKvLayer* kv) const;
  // logits [n_logits, V] f32 of the rows `logits_rows` of h.
  void logits(const sdk::Ops& ops, sdk::Scratch& scratch, const sdk::TensorView& h,
              const sdk::TensorView& logits_rows, const sdk::TensorView& logits) const;

 private:
  OptConfig config_;
  sdk::TensorView embed_tokens_;     // [V, D]
  sdk::TensorView embed_positions_;  // [max_position_embeddings, D]: rows 2.. of the checkpoint's table
  std::vector<Layer> layers_;
  sdk::blocks::LayerNorm final_layer_norm_;  // empty unless has_final_layer_norm()
  sdk::TensorView lm_head_;                  // [V, D]
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_OPT_HPP_
