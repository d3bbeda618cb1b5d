#include "config.hpp"

#include <algorithm>
#include <string>

#include "mmrt/blocks/activation.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::llava {

using sdk::Error;
using sdk::require;
using sdk::str;

std::vector<int64_t> LlavaConfig::hidden_state_indices() const {
  std::vector<int64_t> out;
  const int64_t n_states = vision_config.num_hidden_layers + 1;  // embeddings + one per layer
  for (int64_t layer : vision_feature_layer) out.push_back(layer < 0 ? n_states + layer : layer);
  return out;
}

int64_t LlavaConfig::n_vision_layers_used() const {
  std::vector<int64_t> indices = hidden_state_indices();
  return *std::max_element(indices.begin(), indices.end());
}

int64_t LlavaConfig::image_seq_length() const {
  switch (vision_feature_select_strategy) {
    case FeatureSelect::default_:
      return vision_config.n_patches();
    case FeatureSelect::full:
      return vision_config.n_patches() + 1;
  }
  return 0;
}

int64_t LlavaConfig::projector_in() const {
  return vision_config.hidden_size * static_cast<int64_t>(vision_feature_layer.size());
}

namespace {

// LlavaConfig's vision tower when config.json has no vision_config: CLIP ViT-L/14 at 336 px.
sdk::blocks::ClipVisionConfig default_llava_vision() {
  sdk::blocks::ClipVisionConfig c;
  c.hidden_size = 1024;
  c.intermediate_size = 4096;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 16;
  c.image_size = 336;
  c.patch_size = 14;
  return c;
}

}  // namespace

LlavaConfig parse_llava_config(std::string_view config_json) {
  const sdk::json::Value root = sdk::json::parse(config_json, "config.json");
  const sdk::json::Reader top(root, "");
  LlavaConfig c;

  c.image_token_index = top.get_int("image_token_index", top.get_int("image_token_id", c.image_token_index));
  c.projector_hidden_act = sdk::blocks::parse_activation(top, "projector_hidden_act", "gelu");
  const std::string strategy = top.get_string("vision_feature_select_strategy", "default");
  if (strategy == "default") {
    c.vision_feature_select_strategy = FeatureSelect::default_;
  } else if (strategy == "full") {
    c.vision_feature_select_strategy = FeatureSelect::full;
  } else {
    throw Error(MMRT_STATUS_INVALID_ARGUMENT, str(top.where("vision_feature_select_strategy"), "'", strategy,
                                                  "' is neither 'default' nor 'full'"));
  }
  c.vision_feature_layer = top.get_int_list("vision_feature_layer", c.vision_feature_layer);
  c.multimodal_projector_bias = top.get_bool("multimodal_projector_bias", c.multimodal_projector_bias);

  const sdk::json::Reader vision = top.child("vision_config");
  const std::string vision_type = vision.get_string("model_type", "clip_vision_model");
  require(vision_type == "clip_vision_model", MMRT_STATUS_UNIMPLEMENTED,
          str(vision.where("model_type"), "vision tower '", vision_type,
              "' is not supported (clip_vision_model)"));
  c.vision_config =
      top.has("vision_config") ? sdk::blocks::parse_clip_vision_config(vision) : default_llava_vision();

  const sdk::json::Reader text = top.child("text_config");
  const std::string text_type = text.get_string("model_type", "llama");
  require(text_type == "llama", MMRT_STATUS_UNIMPLEMENTED,
          str(text.where("model_type"), "language model '", text_type, "' is not supported (llama)"));
  c.text_config = sdk::blocks::parse_llama_config(text);
  // Tying follows the language model's own config (LlamaConfig default: untied), as Transformers ties
  // through the text config; a top-level tie_word_embeddings is PretrainedConfig's generic default.
  require(!c.vision_feature_layer.empty(), MMRT_STATUS_INVALID_ARGUMENT,
          str(top.where("vision_feature_layer"), "is an empty list"));
  for (int64_t index : c.hidden_state_indices()) {
    require(index >= 0 && index <= c.vision_config.num_hidden_layers, MMRT_STATUS_INVALID_ARGUMENT,
            str(top.where("vision_feature_layer"), "selects hidden state ", index, " of a tower with ",
                c.vision_config.num_hidden_layers, " layers"));
  }
  require(c.image_token_index >= 0 && c.image_token_index <= INT32_MAX, MMRT_STATUS_INVALID_ARGUMENT,
          str(top.where("image_token_index"), c.image_token_index, " is not a valid token id"));
  return c;
}

}  // namespace mmrt::llava
