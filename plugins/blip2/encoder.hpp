// encoder role: pixel_values of a batch of images -> num_query_tokens embeddings per image in the language
// model's width.
//
//   pixels [n, 3, S, S] -> vision_model -> image_embeds [n·P, Dv] (post-LN, CLS kept)
//   -> Q-Former (query_tokens cross-attending to each image's P rows) -> [n·Q, Dq]
//   -> language_projection -> embeds [n·Q, D]
//
// Worked example (blip2-opt-2.7b, 1 image): [1, 3, 224, 224] -> [257, 1408] -> [32, 768] -> [32, 2560].
// Nothing here depends on the language model beyond the projection's output width.
#ifndef MMRT_PLUGINS_BLIP2_ENCODER_HPP_
#define MMRT_PLUGINS_BLIP2_ENCODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::blip2 {

// [serialized-per-instance]: owns its scratch memory.
class Blip2Encoder : public sdk::Encoder {
 public:
  Blip2Encoder(const Blip2Model& model, MmrtDevice device, MmrtDataType compute_dtype);

  int64_t embed_dim() override { return model_.language_projection.weight.dim(0); }
  void encode(const MmrtEncodeArgs& args) override;

 private:
  const Blip2Model& model_;
  MmrtDataType compute_dtype_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_ENCODER_HPP_
