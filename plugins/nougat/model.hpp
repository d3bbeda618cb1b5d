// The Nougat weight table: every checkpoint tensor the plugin reads, loaded once in create().
//
//   encoder.embeddings.*, encoder.encoder.layers.*      Donut-Swin (swin.hpp)
//   enc_to_dec_proj.{weight,bias}                       only when the encoder's width differs from d_model
//   decoder.model.decoder.*                             mBART decoder (mbart.hpp)
//   decoder.lm_head.weight                              [vocab, d_model]; absent when tied
//
// Names above are the hub layout, which Transformers 5 save_pretrained keeps for VisionEncoderDecoderModel;
// checkpoint_layouts() lists the aliases other layouts use. A tensor that nothing claims fails the load.
//
// Ownership: the tensors belong to the host's weights object and live until destroy. The encoder and the
// decoder read disjoint parts, so they may run at the same time.
#ifndef MMRT_PLUGINS_NOUGAT_MODEL_HPP_
#define MMRT_PLUGINS_NOUGAT_MODEL_HPP_

#include <mmrt_abi.h>

#include "config.hpp"
#include "mbart.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/weights.hpp"
#include "swin.hpp"

namespace mmrt::nougat {

// Prefix aliases from other checkpoint layouts to the hub names used in code.
sdk::NameMapper checkpoint_layouts();

struct NougatModel {
  // Claims every tensor the config implies from `w`; the caller then runs w.finish() to fail on leftovers.
  NougatModel(const NougatConfig& config, sdk::Weights& w, MmrtDevice device);

  NougatConfig config;
  SwinEncoder encoder;
  sdk::blocks::Linear enc_to_dec_proj;  // [d_model, encoder hidden] + bias, or empty
  MBartDecoder decoder;
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_MODEL_HPP_
