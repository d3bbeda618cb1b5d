// encoder role: the items' pixel_values -> their language-model rows (the vision tower and its merger).
//
// Items arrive concatenated along dim 0 (each image's gh·gw patch rows); each item's image_grid_thw,
// which the processor wrote as metadata, says how its rows form a grid. Every item yields
// t·gh·gw / merge² rows, in the order the padder's image tokens take them.
#ifndef MMRT_PLUGINS_QWEN2_VL_ENCODER_HPP_
#define MMRT_PLUGINS_QWEN2_VL_ENCODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::qwen2_vl {

// [serialized-per-instance]: owns its scratch memory.
class Qwen2VLEncoder : public sdk::Encoder {
 public:
  Qwen2VLEncoder(Qwen2VLModel& model, MmrtDevice device, MmrtDataType compute_dtype);

  int64_t embed_dim() override { return model_.config.text_config.hidden_size; }
  void encode(const MmrtEncodeArgs& args) override;

 private:
  Qwen2VLModel& model_;
  MmrtDataType compute_dtype_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::qwen2_vl

#endif  // MMRT_PLUGINS_QWEN2_VL_ENCODER_HPP_
