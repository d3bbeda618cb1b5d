// decoder role: the Llama language model over one batch of sequences, with image embeddings injected.
//
//   inputs_embeds = embed_tokens(input_ids)          [n_tokens, D]
//   inputs_embeds[embeds_rows] = embeds              the encoder's rows replace the placeholder rows
//   h = llama layers(inputs_embeds, positions)       paged KV cache of the host
//   logits = lm_head(norm(h[logits_rows]))           [n_logits, vocab] f32
//
// Worked example (llava_default fixture, one prompt of 27 tokens as its first step): input_ids hold 16
// copies of 600 at rows 3..18, embeds [16, 64] come with embeds_rows = 3..18, positions are 0..26 and
// logits_rows = [26], so logits is [1, 640]. The next step has one token at position 27 and no embeds.
#ifndef MMRT_PLUGINS_LLAVA_DECODER_HPP_
#define MMRT_PLUGINS_LLAVA_DECODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::llava {

// [serialized-per-instance]: owns its scratch memory; the language model uploads RoPE tables on first use.
class LlavaDecoder : public sdk::Decoder {
 public:
  LlavaDecoder(LlavaModel& model, MmrtDevice device, MmrtDataType compute_dtype);

  MmrtKvSpec kv_spec() override { return model_.language_model.kv_spec(compute_dtype_); }
  void forward(const MmrtDecodeArgs& args) override;

 private:
  LlavaModel& model_;
  MmrtDataType compute_dtype_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::llava

#endif  // MMRT_PLUGINS_LLAVA_DECODER_HPP_
