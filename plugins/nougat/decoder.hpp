// decoder role: the mBART decoder over one batch of sequences, with paged self- and cross-attention caches.
//
//   step 1 of a page: input_ids [decoder_start_token_id], positions [0], encoder_states = the page's
//   memory (the encoder's rows): each layer writes its cross K/V into the cross blocks, then attends
//   later steps: one token each, encoder_states NULL, the cross blocks are read as they are
//
// Worked example (nougat-base): step 1 has input_ids [0], positions [0] (embed_positions row 2),
// encoder_states [588, 1024] written to ceil(588 / block_size) cross blocks in each of the 10 layers, and
// logits [1, 50000]. KvSpec: 10 self layers of 16 heads × 64, 10 cross layers of the same geometry,
// memory_dim 1024, max_encoder_len 588, decoder_start_token_id 0.
#ifndef MMRT_PLUGINS_NOUGAT_DECODER_HPP_
#define MMRT_PLUGINS_NOUGAT_DECODER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"
#include "mmrt/scratch.hpp"
#include "model.hpp"

namespace mmrt::nougat {

// [serialized-per-instance]: owns its scratch memory.
class NougatDecoder : public sdk::Decoder {
 public:
  // `max_encoder_len`: memory rows of the largest page the processor emits.
  NougatDecoder(const NougatModel& model, MmrtDevice device, MmrtDataType compute_dtype,
                int64_t max_encoder_len);

  MmrtKvSpec kv_spec() override;
  void forward(const MmrtDecodeArgs& args) override;

 private:
  const NougatModel& model_;
  MmrtDataType compute_dtype_;
  int64_t max_encoder_len_;
  const MmrtKernels* kernels_;
  sdk::Scratch scratch_;
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_DECODER_HPP_
