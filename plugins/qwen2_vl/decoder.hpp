// decoder role: the Qwen2 language model over one batch of sequences, with image rows injected.
//
//   inputs_embeds = embed_tokens(input_ids)           [n_tokens, D]
//   inputs_embeds[embeds_rows] = embeds               the vision tower's rows replace the image tokens
//   h = Qwen2 layers(inputs_embeds, positions [3, n]) M-RoPE, paged KV cache of the host
//   logits = lm_head(norm(h[logits_rows]))            [n_logits, vocab] f32
//
// The positions are the padder's three rows for prompt tokens and index + delta for generated ones; the
// host builds them from what the padder emitted.
#ifndef MMRT_PLUGINS_QWEN2_VL_DECODER_HPP_
#define MMRT_PLUGINS_QWEN2_VL_DECODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::qwen2_vl {

// [serialized-per-instance]: owns its scratch memory; the language model uploads RoPE tables on first use.
class Qwen2VLDecoder : public sdk::Decoder {
 public:
  Qwen2VLDecoder(Qwen2VLModel& model, MmrtDevice device, MmrtDataType compute_dtype);

  MmrtKvSpec kv_spec() override { return model_.language_model.kv_spec(compute_dtype_); }
  void forward(const MmrtDecodeArgs& args) override;

 private:
  Qwen2VLModel& model_;
  MmrtDataType compute_dtype_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::qwen2_vl

#endif  // MMRT_PLUGINS_QWEN2_VL_DECODER_HPP_
