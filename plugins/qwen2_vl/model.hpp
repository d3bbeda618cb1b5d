// The Qwen2-VL weight table: every checkpoint tensor the plugin reads, loaded once in create().
//
//   model.visual.*                  the vision tower (vision.hpp): patch_embed, blocks.{i}, merger
//   model.language_model.*          Qwen2 (sdk/mmrt/blocks/llama.hpp with q/k/v bias and M-RoPE)
//   lm_head.weight                  [vocab, hidden]; absent when tied to embed_tokens
//
// Names above are what Transformers 5 saves; checkpoint_layouts() maps the hub's (visual.*, model.*) onto
// them, so model code never sees a layout. A tensor that nothing claims fails the load.
//
// Ownership: the tensors belong to the host's weights object and live until destroy. The encoder and the
// decoder read disjoint parts, so they may run at the same time.
#ifndef MMRT_PLUGINS_QWEN2_VL_MODEL_HPP_
#define MMRT_PLUGINS_QWEN2_VL_MODEL_HPP_

#include <mmrt_abi.h>

#include "config.hpp"
#include "mmrt/blocks/llama.hpp"
#include "mmrt/weights.hpp"
#include "vision.hpp"

namespace mmrt::qwen2_vl {

// Prefix aliases from the hub layout to the Transformers 5 names used in code.
sdk::NameMapper checkpoint_layouts();

struct Qwen2VLModel {
  // Claims every tensor the config implies from `w`; the caller then runs w.finish() to fail on leftovers.
  Qwen2VLModel(const Qwen2VLConfig& config, sdk::Weights& w, MmrtDevice device);

  Qwen2VLConfig config;
  VisionTower visual;
  sdk::blocks::LlamaModel language_model;
};

}  // namespace mmrt::qwen2_vl

#endif  // MMRT_PLUGINS_QWEN2_VL_MODEL_HPP_
