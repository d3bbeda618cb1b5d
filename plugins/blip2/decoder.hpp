// decoder role: the OPT language model over one batch of sequences, with the query embeddings injected.
//
//   inputs_embeds = embed_tokens(input_ids)          [n_tokens, D]
//   inputs_embeds[embeds_rows] = embeds              the encoder's rows replace the image-token rows
//   h = OPT layers(inputs_embeds, positions)         learned positions, paged KV cache of the host
//   logits = lm_head(final_layer_norm(h[logits_rows]))   [n_logits, vocab] f32
//
// Worked example (blip2_opt fixture, "Question: what is this? Answer:" with one image): the first step has
// 8 copies of the image id at rows 0..7 and the prompt after them; embeds [8, 64] come with embeds_rows
// 0..7, positions 0..n-1, logits_rows [n-1]. Each later step is one token at the next position.
#ifndef MMRT_PLUGINS_BLIP2_DECODER_HPP_
#define MMRT_PLUGINS_BLIP2_DECODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::blip2 {

// [serialized-per-instance]: owns its scratch memory.
class Blip2Decoder : public sdk::Decoder {
 public:
  Blip2Decoder(const Blip2Model& model, MmrtDevice device, MmrtDataType compute_dtype);

  MmrtKvSpec kv_spec() override { return model_.language_model.kv_spec(compute_dtype_); }
  void forward(const MmrtDecodeArgs& args) override;

 private:
  const Blip2Model& model_;
  MmrtDataType compute_dtype_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_DECODER_HPP_
