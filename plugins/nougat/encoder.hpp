// encoder role: pixel_values -> the image memory the decoder cross-attends to.
//
//   pixels [n, 3, H, W] -> Swin (swin.hpp) -> [n · rows, encoder hidden] -> enc_to_dec_proj when present
//   -> embeds [Σ item_n_tokens, d_model]
//
// The host keeps these rows as the request's encoder memory (MmrtDecoderRole.encode_memory is NULL): they
// are never injected into the decoder's input, they come back as MmrtDecodeArgs.encoder_states.
// Worked example (nougat-base): one 896×672 page -> embeds [588, 1024].
#ifndef MMRT_PLUGINS_NOUGAT_ENCODER_HPP_
#define MMRT_PLUGINS_NOUGAT_ENCODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::nougat {

// [serialized-per-instance]: owns its scratch memory and the Swin tables it caches per image size.
class NougatEncoder : public sdk::Encoder {
 public:
  NougatEncoder(NougatModel& model, MmrtDevice device, MmrtDataType compute_dtype);

  int64_t embed_dim() override { return model_.config.decoder.d_model; }
  void encode(const MmrtEncodeArgs& args) override;

 private:
  NougatModel& model_;
  MmrtDataType compute_dtype_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_ENCODER_HPP_
