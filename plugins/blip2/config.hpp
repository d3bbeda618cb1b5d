// Blip2Config, parsed once from config.json into typed fields (HF key names kept verbatim).
//
// Three sub-configs, each filled over its Transformers class defaults: vision_config (Blip2VisionConfig),
// qformer_config (Blip2QFormerConfig) and text_config (OPTConfig; the only language model this plugin runs
// so far). The vision and Q-Former parts know nothing about the language model, so a T5 text_config can be
// added beside OPT without touching them.
//
// `image_token_index` (v5 also spells it `image_token_id`) is optional: older checkpoints have none, and
// then the padder uses the processor's fallback rule (padder.hpp).
#ifndef MMRT_PLUGINS_BLIP2_CONFIG_HPP_
#define MMRT_PLUGINS_BLIP2_CONFIG_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace mmrt::blip2 {

// Blip2VisionConfig defaults (EVA ViT-g/14 at 224 px).
struct VisionConfig {
  int64_t hidden_size = 1408;
  int64_t intermediate_size = 6144;
  int64_t num_hidden_layers = 39;
  int64_t num_attention_heads = 16;
  int64_t image_size = 224;
  int64_t patch_size = 14;
  int32_t hidden_act = MMRT_ACT_GELU_ERF;
  double layer_norm_eps = 1e-6;
  bool qkv_bias = true;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  int64_t n_positions() const { return n_patches() + 1; }  // patches + the class token
};

// Blip2QFormerConfig defaults (BERT-base shaped).
struct QFormerConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int32_t hidden_act = MMRT_ACT_GELU_ERF;
  double layer_norm_eps = 1e-12;
  int64_t cross_attention_frequency = 2;
  int64_t encoder_hidden_size = 1408;  // Blip2Config forces it to vision_config.hidden_size

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool has_cross_attention(int64_t layer) const { return layer % cross_attention_frequency == 0; }
};

// OPTConfig defaults (opt-350m's class defaults; checkpoints override them).
struct OptConfig {
  int64_t vocab_size = 50272;
  int64_t hidden_size = 768;
  int64_t ffn_dim = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 2048;
  int64_t word_embed_proj_dim = 768;
  int32_t activation_function = MMRT_ACT_RELU;
  bool do_layer_norm_before = true;
  bool enable_bias = true;
  bool remove_final_layer_norm = false;  // `_remove_final_layer_norm`
  bool tie_word_embeddings = true;
  int64_t pad_token_id = 1;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // The decoder's final LayerNorm exists only for pre-LN stacks that kept it.
  bool has_final_layer_norm() const { return do_layer_norm_before && !remove_final_layer_norm; }
};

// OPTLearnedPositionalEmbedding: position p reads row p + 2 of embed_positions.
inline constexpr int64_t kOptPositionOffset = 2;

struct Blip2Config {
  int64_t num_query_tokens = 32;
  std::optional<int64_t> image_token_index;  // absent in older checkpoints
  VisionConfig vision_config;
  QFormerConfig qformer_config;
  OptConfig text_config;

  // The id the padder writes in the query rows: image_token_index, or the pad id for older checkpoints.
  int32_t query_placeholder_id() const;
};

// Parses config.json text; errors name the key ("text_config.word_embed_proj_dim: ...").
Blip2Config parse_blip2_config(std::string_view config_json);

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_CONFIG_HPP_
