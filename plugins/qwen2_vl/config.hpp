// Qwen2VLConfig and the image processor settings, parsed once into typed fields (HF key names verbatim).
//
// config.json comes in two layouts: the hub's flat one (text settings at top level, vision_config nested)
// and Transformers 5's (text_config nested too); both read into the same struct. Missing keys take the
// defaults of Qwen2VLTextConfig / Qwen2VLVisionConfig. The image settings come from preprocessor_config.json
// or processor_config.json's "image_processor" entry (the host hands over whichever the folder has).
#ifndef MMRT_PLUGINS_QWEN2_VL_CONFIG_HPP_
#define MMRT_PLUGINS_QWEN2_VL_CONFIG_HPP_

#include <cstdint>
#include <string>
#include <string_view>

#include "mmrt/blocks/llama.hpp"
#include "mmrt/image/primitives.hpp"

namespace mmrt::qwen2_vl {

// Qwen2VLVisionConfig.
struct VisionConfig {
  int64_t depth = 32;
  int64_t embed_dim = 1280;
  int64_t hidden_size = 3584;  // the merger's output width: the language model's hidden size
  int32_t hidden_act = MMRT_ACT_QUICK_GELU;
  int64_t mlp_ratio = 4;
  int64_t num_heads = 16;
  int64_t in_channels = 3;
  int64_t patch_size = 14;
  int64_t spatial_merge_size = 2;
  int64_t temporal_patch_size = 2;
  double rope_theta = 10000.0;  // rope_parameters.rope_theta of the 2-D ("axial") rotary embedding

  int64_t head_dim() const { return embed_dim / num_heads; }
  int64_t mlp_dim() const { return embed_dim * mlp_ratio; }
  // Width of one flattened patch: (channel, t, py, px).
  int64_t patch_dim() const { return in_channels * temporal_patch_size * patch_size * patch_size; }
  int64_t merge_unit() const { return spatial_merge_size * spatial_merge_size; }
};

struct Qwen2VLConfig {
  int64_t image_token_id = 151655;  // <|image_pad|>
  VisionConfig vision_config;
  sdk::blocks::LlamaConfig text_config;  // Qwen2: q/k/v bias, M-RoPE
};

// Parses config.json text; errors name the key ("vision_config.embed_dim: ...").
Qwen2VLConfig parse_qwen2_vl_config(std::string_view config_json);

// Qwen2VLImageProcessor's settings (PIL backend).
struct ImageProcessorConfig {
  bool do_convert_rgb = true;
  bool do_resize = true;
  int64_t min_pixels = 56 * 56;         // size.shortest_edge; a top-level min_pixels overrides it
  int64_t max_pixels = 28 * 28 * 1280;  // size.longest_edge; a top-level max_pixels overrides it
  int32_t resample = MMRT_RESAMPLE_BICUBIC;
  sdk::image::NormalizeSpec normalize;  // OPENAI_CLIP mean and std unless the file sets them
  int64_t patch_size = 14;
  int64_t temporal_patch_size = 2;
  int64_t merge_size = 2;

  // Canonical text of every setting, for the host's cache keys.
  std::string fingerprint() const;
};

// Parses the image processor JSON; settings that must agree with the vision tower are checked against it.
ImageProcessorConfig parse_image_processor_config(std::string_view json, const VisionConfig& vision);

}  // namespace mmrt::qwen2_vl

#endif  // MMRT_PLUGINS_QWEN2_VL_CONFIG_HPP_
