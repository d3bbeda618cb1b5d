#include "config.hpp"

#include <string>

#include "mmrt/blocks/activation.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::nougat {

using sdk::require;
using sdk::str;

namespace {

void require_positive(const sdk::json::Reader& r, const char* key, int64_t v) {
  require(v > 0, MMRT_STATUS_INVALID_ARGUMENT, str(r.where(key), "must be positive, got ", v));
}

SwinConfig parse_swin_config(const sdk::json::Reader& enc) {
  const std::string type = enc.get_string("model_type", "donut-swin");
  require(type == "donut-swin", MMRT_STATUS_UNIMPLEMENTED,
          str(enc.where("model_type"), "encoder '", type, "' is not supported (donut-swin)"));
  SwinConfig c;
  c.patch_size = enc.get_int("patch_size", c.patch_size);
  c.num_channels = enc.get_int("num_channels", c.num_channels);
  c.embed_dim = enc.get_int("embed_dim", c.embed_dim);
  c.depths = enc.get_int_list("depths", c.depths);
  c.num_heads = enc.get_int_list("num_heads", c.num_heads);
  c.window_size = enc.get_int("window_size", c.window_size);
  c.mlp_ratio = enc.get_double("mlp_ratio", c.mlp_ratio);
  c.qkv_bias = enc.get_bool("qkv_bias", c.qkv_bias);
  c.hidden_act = sdk::blocks::parse_activation(enc, "hidden_act", "gelu");
  c.layer_norm_eps = enc.get_double("layer_norm_eps", c.layer_norm_eps);
  require(!enc.get_bool("use_absolute_embeddings", false), MMRT_STATUS_UNIMPLEMENTED,
          str(enc.where("use_absolute_embeddings"), "absolute position embeddings are not supported"));
  require_positive(enc, "patch_size", c.patch_size);
  require_positive(enc, "num_channels", c.num_channels);
  require_positive(enc, "embed_dim", c.embed_dim);
  require_positive(enc, "window_size", c.window_size);
  require(!c.depths.empty() && c.depths.size() == c.num_heads.size(), MMRT_STATUS_INVALID_ARGUMENT,
          str(enc.where("depths"), "has ", c.depths.size(), " stages, num_heads has ", c.num_heads.size()));
  for (size_t s = 0; s < c.depths.size(); ++s) {
    require_positive(enc, "depths", c.depths[s]);
    require_positive(enc, "num_heads", c.num_heads[s]);
    require(c.stage_dim(static_cast<int64_t>(s)) % c.num_heads[s] == 0, MMRT_STATUS_INVALID_ARGUMENT,
            str(enc.where("num_heads"), "stage ", s, " has ", c.stage_dim(static_cast<int64_t>(s)),
                " channels, not divisible by ", c.num_heads[s], " heads"));
  }
  require(c.mlp_ratio > 0, MMRT_STATUS_INVALID_ARGUMENT, str(enc.where("mlp_ratio"), "must be positive"));
  return c;
}

MBartDecoderConfig parse_mbart_config(const sdk::json::Reader& dec) {
  const std::string type = dec.get_string("model_type", "mbart");
  require(type == "mbart", MMRT_STATUS_UNIMPLEMENTED,
          str(dec.where("model_type"), "decoder '", type, "' is not supported (mbart)"));
  require(dec.get_bool("add_cross_attention", false), MMRT_STATUS_INVALID_ARGUMENT,
          str(dec.where("add_cross_attention"), "must be true: the decoder attends to the image"));
  require(!dec.has("cross_attention_hidden_size"), MMRT_STATUS_UNIMPLEMENTED,
          str(dec.where("cross_attention_hidden_size"), "is not supported"));
  MBartDecoderConfig c;
  c.vocab_size = dec.get_int("vocab_size", c.vocab_size);
  c.d_model = dec.get_int("d_model", c.d_model);
  c.decoder_layers = dec.get_int("decoder_layers", c.decoder_layers);
  c.decoder_attention_heads = dec.get_int("decoder_attention_heads", c.decoder_attention_heads);
  c.decoder_ffn_dim = dec.get_int("decoder_ffn_dim", c.decoder_ffn_dim);
  c.activation_function = sdk::blocks::parse_activation(dec, "activation_function", "gelu");
  c.max_position_embeddings = dec.get_int("max_position_embeddings", c.max_position_embeddings);
  c.scale_embedding = dec.get_bool("scale_embedding", c.scale_embedding);
  c.tie_word_embeddings = dec.get_bool("tie_word_embeddings", c.tie_word_embeddings);
  c.bos_token_id = dec.get_int("bos_token_id", c.bos_token_id);
  c.eos_token_id = dec.get_int("eos_token_id", c.eos_token_id);
  require_positive(dec, "vocab_size", c.vocab_size);
  require_positive(dec, "d_model", c.d_model);
  require_positive(dec, "decoder_layers", c.decoder_layers);
  require_positive(dec, "decoder_attention_heads", c.decoder_attention_heads);
  require_positive(dec, "decoder_ffn_dim", c.decoder_ffn_dim);
  require_positive(dec, "max_position_embeddings", c.max_position_embeddings);
  require(c.d_model % c.decoder_attention_heads == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(dec.where("d_model"), c.d_model, " is not divisible by decoder_attention_heads ",
              c.decoder_attention_heads));
  return c;
}

}  // namespace

NougatConfig parse_nougat_config(std::string_view config_json) {
  const sdk::json::Value root = sdk::json::parse(config_json, "config.json");
  const sdk::json::Reader top(root, "");
  NougatConfig c;
  c.encoder = parse_swin_config(top.child("encoder"));
  const sdk::json::Reader dec = top.child("decoder");
  c.decoder = parse_mbart_config(dec);
  const int64_t start = top.get_int("decoder_start_token_id",
                                    dec.get_int("decoder_start_token_id", dec.get_int("bos_token_id", 0)));
  require(start >= 0 && start < c.decoder.vocab_size, MMRT_STATUS_INVALID_ARGUMENT,
          str(top.where("decoder_start_token_id"), start, " is not an id of the ", c.decoder.vocab_size,
              "-token vocabulary"));
  c.decoder_start_token_id = static_cast<int32_t>(start);
  return c;
}

}  // namespace mmrt::nougat
