// encoder role: pixel_values of a batch of images -> their image-token embeddings in the text model's width.
//
//   pixels [n, 3, S, S] -> CLIP vision tower -> hidden_states[vision_feature_layer] ([n·P, Dv] per layer,
//   several layers concatenated along channels) -> "default": drop each image's CLS row / "full": keep it
//   -> multi_modal_projector: linear_1 -> act (gelu) -> linear_2 -> embeds [n·T, D]
//
// Worked example (llava-1.5-7b, 2 images): pixels [2, 3, 336, 336] -> hidden_states[23] [2·577, 1024]
// -> rows 1..576 of each image [1152, 1024] -> linear_1 [1152, 4096] -> gelu -> linear_2 -> embeds
// [1152, 4096], image 0 in rows 0..575 and image 1 in rows 576..1151.
#ifndef MMRT_PLUGINS_LLAVA_ENCODER_HPP_
#define MMRT_PLUGINS_LLAVA_ENCODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::llava {

// [serialized-per-instance]: owns its scratch memory.
class LlavaEncoder : public sdk::Encoder {
 public:
  LlavaEncoder(const LlavaModel& model, MmrtDevice device, MmrtDataType compute_dtype);

  int64_t embed_dim() override { return model_.config.text_config.hidden_size; }
  void encode(const MmrtEncodeArgs& args) override;

 private:
  const LlavaModel& model_;
  MmrtDataType compute_dtype_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::llava

#endif  // MMRT_PLUGINS_LLAVA_ENCODER_HPP_
