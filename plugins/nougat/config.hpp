// NougatConfig: the VisionEncoderDecoderModel config.json of Nougat, parsed once into typed fields (HF key
// names kept verbatim).
//
//   encoder  DonutSwinConfig  (model_type "donut-swin")
//   decoder  MBartConfig      (model_type "mbart", is_decoder, add_cross_attention)
//   decoder_start_token_id    top level, else the decoder's, else the decoder's bos_token_id, as
//                             Transformers' generate() falls back
//
// A key missing from a sub-config takes that class's default, as Transformers does. Settings this plugin
// does not implement (absolute position embeddings, activations the kernels lack, an encoder or a decoder
// of another kind) are refused with the key named.
#ifndef MMRT_PLUGINS_NOUGAT_CONFIG_HPP_
#define MMRT_PLUGINS_NOUGAT_CONFIG_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace mmrt::nougat {

// DonutSwinConfig; defaults are that class's.
struct SwinConfig {
  int64_t patch_size = 4;
  int64_t num_channels = 3;
  int64_t embed_dim = 96;
  std::vector<int64_t> depths = {2, 2, 6, 2};
  std::vector<int64_t> num_heads = {3, 6, 12, 24};
  int64_t window_size = 7;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  int32_t hidden_act = MMRT_ACT_GELU_ERF;
  double layer_norm_eps = 1e-5;

  int64_t n_stages() const { return static_cast<int64_t>(depths.size()); }
  // Channels of stage s: embed_dim doubles at every patch merging.
  int64_t stage_dim(int64_t s) const { return embed_dim << s; }
  int64_t stage_mlp_dim(int64_t s) const {
    return static_cast<int64_t>(mlp_ratio * static_cast<double>(stage_dim(s)));
  }
  // Width of the encoder's last_hidden_state.
  int64_t hidden_size() const { return stage_dim(n_stages() - 1); }
};

// MBartConfig, decoder side; defaults are that class's.
struct MBartDecoderConfig {
  int64_t vocab_size = 50265;
  int64_t d_model = 1024;
  int64_t decoder_layers = 12;
  int64_t decoder_attention_heads = 16;
  int64_t decoder_ffn_dim = 4096;
  int32_t activation_function = MMRT_ACT_GELU_ERF;
  int64_t max_position_embeddings = 1024;
  bool scale_embedding = false;
  bool tie_word_embeddings = true;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 2;

  int64_t head_dim() const { return d_model / decoder_attention_heads; }
};

struct NougatConfig {
  SwinConfig encoder;
  MBartDecoderConfig decoder;
  int32_t decoder_start_token_id = 0;

  // VisionEncoderDecoderModel projects the encoder output when its width differs from d_model.
  bool has_enc_to_dec_proj() const { return encoder.hidden_size() != decoder.d_model; }
};

// Parses config.json text; errors name the key ("encoder.window_size: must be positive, got 0").
NougatConfig parse_nougat_config(std::string_view config_json);

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_CONFIG_HPP_
