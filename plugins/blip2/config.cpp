#include "config.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "mmrt/blocks/activation.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::require;
using sdk::str;

namespace {

void require_positive(const sdk::json::Reader& r,
                      std::initializer_list<std::pair<const char*, int64_t>> values) {
  for (auto [key, v] : values) {
    require(v > 0, MMRT_STATUS_INVALID_ARGUMENT, str(r.where(key), "must be positive, got ", v));
  }
}

void require_heads_divide(const sdk::json::Reader& r, int64_t hidden, int64_t heads) {
  require(hidden % heads == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(r.where("hidden_size"), hidden, " is not divisible by num_attention_heads ", heads));
}

VisionConfig parse_vision(const sdk::json::Reader& v) {
  VisionConfig c;
  c.hidden_size = v.get_int("hidden_size", c.hidden_size);
  c.intermediate_size = v.get_int("intermediate_size", c.intermediate_size);
  c.num_hidden_layers = v.get_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = v.get_int("num_attention_heads", c.num_attention_heads);
  c.image_size = v.get_int("image_size", c.image_size);
  c.patch_size = v.get_int("patch_size", c.patch_size);
  c.hidden_act = sdk::blocks::parse_activation(v, "hidden_act", "gelu");
  c.layer_norm_eps = v.get_double("layer_norm_eps", c.layer_norm_eps);
  c.qkv_bias = v.get_bool("qkv_bias", c.qkv_bias);
  require_positive(v, {{"hidden_size", c.hidden_size},
                       {"intermediate_size", c.intermediate_size},
                       {"num_hidden_layers", c.num_hidden_layers},
                       {"num_attention_heads", c.num_attention_heads},
                       {"image_size", c.image_size},
                       {"patch_size", c.patch_size}});
  require_heads_divide(v, c.hidden_size, c.num_attention_heads);
  require(c.image_size % c.patch_size == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(v.where("image_size"), c.image_size, " is not a multiple of patch_size ", c.patch_size));
  require(v.get_int("num_channels", 3) == 3, MMRT_STATUS_UNIMPLEMENTED,
          str(v.where("num_channels"), "only 3-channel (RGB) towers are supported"));
  return c;
}

QFormerConfig parse_qformer(const sdk::json::Reader& q, int64_t vision_hidden) {
  QFormerConfig c;
  c.hidden_size = q.get_int("hidden_size", c.hidden_size);
  c.intermediate_size = q.get_int("intermediate_size", c.intermediate_size);
  c.num_hidden_layers = q.get_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = q.get_int("num_attention_heads", c.num_attention_heads);
  c.hidden_act = sdk::blocks::parse_activation(q, "hidden_act", "gelu");
  c.layer_norm_eps = q.get_double("layer_norm_eps", c.layer_norm_eps);
  c.cross_attention_frequency = q.get_int("cross_attention_frequency", c.cross_attention_frequency);
  // Blip2Config overwrites the Q-Former's encoder_hidden_size with the vision width, whatever the file says.
  c.encoder_hidden_size = vision_hidden;
  require_positive(q, {{"hidden_size", c.hidden_size},
                       {"intermediate_size", c.intermediate_size},
                       {"num_hidden_layers", c.num_hidden_layers},
                       {"num_attention_heads", c.num_attention_heads},
                       {"cross_attention_frequency", c.cross_attention_frequency}});
  require_heads_divide(q, c.hidden_size, c.num_attention_heads);
  require(!q.get_bool("use_qformer_text_input", false), MMRT_STATUS_UNIMPLEMENTED,
          str(q.where("use_qformer_text_input"),
              "the instruction-aware Q-Former (InstructBLIP) is not supported"));
  return c;
}

OptConfig parse_opt(const sdk::json::Reader& t) {
  OptConfig c;
  c.vocab_size = t.get_int("vocab_size", c.vocab_size);
  c.hidden_size = t.get_int("hidden_size", c.hidden_size);
  c.ffn_dim = t.get_int("ffn_dim", c.ffn_dim);
  c.num_hidden_layers = t.get_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = t.get_int("num_attention_heads", c.num_attention_heads);
  c.max_position_embeddings = t.get_int("max_position_embeddings", c.max_position_embeddings);
  c.word_embed_proj_dim = t.get_int("word_embed_proj_dim", c.hidden_size);
  c.activation_function = sdk::blocks::parse_activation(t, "activation_function", "relu");
  c.do_layer_norm_before = t.get_bool("do_layer_norm_before", c.do_layer_norm_before);
  c.enable_bias = t.get_bool("enable_bias", c.enable_bias);
  c.remove_final_layer_norm = t.get_bool("_remove_final_layer_norm", c.remove_final_layer_norm);
  c.tie_word_embeddings = t.get_bool("tie_word_embeddings", c.tie_word_embeddings);
  c.pad_token_id = t.get_int("pad_token_id", c.pad_token_id);
  require_positive(t, {{"vocab_size", c.vocab_size},
                       {"hidden_size", c.hidden_size},
                       {"ffn_dim", c.ffn_dim},
                       {"num_hidden_layers", c.num_hidden_layers},
                       {"num_attention_heads", c.num_attention_heads},
                       {"max_position_embeddings", c.max_position_embeddings}});
  require_heads_divide(t, c.hidden_size, c.num_attention_heads);
  require(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, MMRT_STATUS_INVALID_ARGUMENT,
          str(t.where("pad_token_id"), c.pad_token_id, " is outside the vocabulary of ", c.vocab_size));
  // BLIP-2 writes the projected queries into the word-embedding rows, which OPT's project_in would then
  // map; Transformers' masked_scatter only lines up when both widths agree, and every BLIP-2 OPT does.
  require(c.word_embed_proj_dim == c.hidden_size, MMRT_STATUS_UNIMPLEMENTED,
          str(t.where("word_embed_proj_dim"), c.word_embed_proj_dim, " differs from hidden_size ",
              c.hidden_size, " (OPT project_in/project_out under BLIP-2 is not supported)"));
  require(t.get_bool("layer_norm_elementwise_affine", true), MMRT_STATUS_UNIMPLEMENTED,
          str(t.where("layer_norm_elementwise_affine"), "LayerNorms without weights are not supported"));
  return c;
}

}  // namespace

int32_t Blip2Config::query_placeholder_id() const {
  return static_cast<int32_t>(image_token_index.value_or(text_config.pad_token_id));
}

Blip2Config parse_blip2_config(std::string_view config_json) {
  const sdk::json::Value root = sdk::json::parse(config_json, "config.json");
  const sdk::json::Reader top(root, "");
  Blip2Config c;
  c.num_query_tokens = top.get_int("num_query_tokens", c.num_query_tokens);
  require(c.num_query_tokens > 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(top.where("num_query_tokens"), "must be positive, got ", c.num_query_tokens));
  if (top.has("image_token_index")) {
    c.image_token_index = top.get_int("image_token_index", 0);
  } else if (top.has("image_token_id")) {
    c.image_token_index = top.get_int("image_token_id", 0);
  }
  if (c.image_token_index) {
    require(*c.image_token_index >= 0 && *c.image_token_index <= INT32_MAX, MMRT_STATUS_INVALID_ARGUMENT,
            str(top.where("image_token_index"), *c.image_token_index, " is not a valid token id"));
  }

  c.vision_config = parse_vision(top.child("vision_config"));
  c.qformer_config = parse_qformer(top.child("qformer_config"), c.vision_config.hidden_size);

  const sdk::json::Reader text = top.child("text_config");
  const std::string text_type = text.get_string("model_type", "opt");
  require(text_type == "opt", MMRT_STATUS_UNIMPLEMENTED,
          str(text.where("model_type"), "language model '", text_type, "' is not supported (opt)"));
  c.text_config = parse_opt(text);
  return c;
}

}  // namespace mmrt::blip2
