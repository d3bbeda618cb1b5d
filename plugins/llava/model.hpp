// The LLaVA weight table: every checkpoint tensor the plugin reads, loaded once in create().
//
//   vision_tower.vision_model.*            CLIP ViT (sdk/mmrt/blocks/clip_vision.hpp), layers up to the
//                                          deepest vision_feature_layer; deeper layers and post_layernorm
//                                          are ignored
//   multi_modal_projector.linear_1.*       [text hidden, vision hidden · n_feature_layers] (+ bias)
//   multi_modal_projector.linear_2.*       [text hidden, text hidden] (+ bias)
//   language_model.model.*                 Llama (sdk/mmrt/blocks/llama.hpp)
//   language_model.lm_head.weight          [vocab, text hidden]; absent when tied to embed_tokens
//
// Names above are the hub (v4) layout. kCheckpointLayouts maps the layouts Transformers 4.52+ and 5.x
// save (model.language_model.*, model.vision_tower[.vision_model].*, lm_head.*) onto them, so model code
// never sees a layout. A tensor that nothing claims fails the load.
//
// Ownership: the tensors belong to the host's weights object and live until destroy. The encoder and the
// decoder read disjoint parts, so they may run at the same time.
#ifndef MMRT_PLUGINS_LLAVA_MODEL_HPP_
#define MMRT_PLUGINS_LLAVA_MODEL_HPP_

#include <mmrt_abi.h>

#include "config.hpp"
#include "mmrt/blocks/clip_vision.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/blocks/llama.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::llava {

// Prefix aliases from other checkpoint layouts to the hub names used in code.
sdk::NameMapper checkpoint_layouts();

struct MultiModalProjector {
  sdk::blocks::Linear linear_1;  // [text hidden, projector_in]
  sdk::blocks::Linear linear_2;  // [text hidden, text hidden]
};

struct LlavaModel {
  // Claims every tensor the config implies from `w`; the caller then runs w.finish() to fail on leftovers.
  // Compute runs on `device`.
  LlavaModel(const LlavaConfig& config, sdk::Weights& w, MmrtDevice device);

  LlavaConfig config;
  sdk::blocks::ClipVisionTower vision_tower;
  MultiModalProjector multi_modal_projector;
  sdk::blocks::LlamaModel language_model;
};

}  // namespace mmrt::llava

#endif  // MMRT_PLUGINS_LLAVA_MODEL_HPP_
