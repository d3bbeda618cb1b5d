// The BLIP-2 weight table: every checkpoint tensor the plugin reads, loaded once in create().
//
//   vision_model.*                       Blip2VisionModel (vision.hpp)
//   query_tokens, qformer.*              Blip2QFormerModel (qformer.hpp); the text branch is ignored
//   language_projection.{weight,bias}    [text hidden, Q-Former hidden]
//   language_model.model.decoder.*       OPT (opt.hpp)
//   language_model.lm_head.weight        [vocab, text hidden]; absent when tied to embed_tokens
//
// The hub's files and what Transformers 5 save_pretrained writes use these same names (Blip2 keeps its
// modules at the top level in both), so no layout aliases are needed. A tensor nothing claims fails the load.
//
// Ownership: the tensors belong to the host's weights object and live until destroy. The encoder reads the
// vision, Q-Former and projection weights, the decoder the language model's, so they may run at once.
#ifndef MMRT_PLUGINS_BLIP2_MODEL_HPP_
#define MMRT_PLUGINS_BLIP2_MODEL_HPP_

#include <mmrt_abi.h>

#include "config.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/weights.hpp"
#include "opt.hpp"
#include "qformer.hpp"
#include "vision.hpp"

namespace mmrt::blip2 {

struct Blip2Model {
  // Claims every tensor the config implies from `w`; the caller then runs w.finish() to fail on leftovers.
  Blip2Model(const Blip2Config& config, sdk::Weights& w);

  Blip2Config config;
  VisionModel vision_model;
  QFormer qformer;
  sdk::blocks::Linear language_projection;
  OptDecoder language_model;
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_MODEL_HPP_
