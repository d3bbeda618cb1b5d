// LlavaConfig, parsed once from config.json into typed fields (HF key names kept verbatim).
//
// Accepts the hub's v4 files and Transformers v5 saves: `image_token_index` or `image_token_id`, v4
// `rope_theta`/`rope_scaling` or v5 `rope_parameters` in text_config. A missing vision_config or
// text_config takes LlavaConfig's own defaults (CLIP ViT-L/14-336, Llama-7B); a present one fills missing
// keys with CLIPVisionConfig / LlamaConfig defaults, as Transformers does.
#ifndef MMRT_PLUGINS_LLAVA_CONFIG_HPP_
#define MMRT_PLUGINS_LLAVA_CONFIG_HPP_

#include <cstdint>
#include <string_view>
#include <vector>

#include "mmrt/blocks/clip_vision.hpp"
#include "mmrt/blocks/llama.hpp"

namespace mmrt::llava {

// Which vision-tower rows become image tokens: "default" drops the CLS row, "full" keeps it.
enum class FeatureSelect { default_, full };

struct LlavaConfig {
  int64_t image_token_index = 32000;
  int32_t projector_hidden_act = MMRT_ACT_GELU_ERF;
  FeatureSelect vision_feature_select_strategy = FeatureSelect::default_;
  std::vector<int64_t> vision_feature_layer = {-2};  // hidden_states indices; several are concatenated
  bool multimodal_projector_bias = true;
  sdk::blocks::ClipVisionConfig vision_config;
  sdk::blocks::LlamaConfig text_config;

  // vision_feature_layer as non-negative hidden_states indices (0 = embeddings, k = after layer k).
  std::vector<int64_t> hidden_state_indices() const;
  // Layers the tower must run: the deepest selected index.
  int64_t n_vision_layers_used() const;
  // Embedding rows per image: (image_size / patch_size)², plus the CLS row for "full".
  int64_t image_seq_length() const;
  // Width of the projector input: vision hidden size × number of selected layers.
  int64_t projector_in() const;
};

// Parses config.json text; errors name the key ("text_config.rope_parameters.rope_type: ...").
LlavaConfig parse_llava_config(std::string_view config_json);

}  // namespace mmrt::llava

#endif  // MMRT_PLUGINS_LLAVA_CONFIG_HPP_
