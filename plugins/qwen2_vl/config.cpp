#include "config.hpp"

#include <string>
#include <vector>

#include "mmrt/blocks/activation.hpp"
#include "mmrt/image/processor_config.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::qwen2_vl {

using sdk::Error;
using sdk::require;
using sdk::str;

namespace {

void require_positive(const sdk::json::Reader& r, const char* key, int64_t v) {
  require(v > 0, MMRT_STATUS_INVALID_ARGUMENT, str(r.where(key), "must be positive, got ", v));
}

VisionConfig parse_vision_config(const sdk::json::Reader& vision) {
  VisionConfig c;
  c.depth = vision.get_int("depth", c.depth);
  c.embed_dim = vision.get_int("embed_dim", c.embed_dim);
  c.hidden_size = vision.get_int("hidden_size", c.hidden_size);
  c.hidden_act = sdk::blocks::parse_activation(vision, "hidden_act", "quick_gelu");
  c.mlp_ratio = vision.get_int("mlp_ratio", c.mlp_ratio);
  c.num_heads = vision.get_int("num_heads", c.num_heads);
  c.in_channels = vision.get_int("in_channels", vision.get_int("in_chans", c.in_channels));
  c.patch_size = vision.get_int("patch_size", vision.get_int("spatial_patch_size", c.patch_size));
  c.spatial_merge_size = vision.get_int("spatial_merge_size", c.spatial_merge_size);
  c.temporal_patch_size = vision.get_int("temporal_patch_size", c.temporal_patch_size);
  c.rope_theta = vision.child("rope_parameters").get_double("rope_theta", c.rope_theta);
  require(c.rope_theta > 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(vision.where("rope_parameters"), "rope_theta must be positive"));
  for (auto [key, v] : {std::pair{"depth", c.depth},
                        {"embed_dim", c.embed_dim},
                        {"hidden_size", c.hidden_size},
                        {"mlp_ratio", c.mlp_ratio},
                        {"num_heads", c.num_heads},
                        {"in_channels", c.in_channels},
                        {"patch_size", c.patch_size},
                        {"spatial_merge_size", c.spatial_merge_size},
                        {"temporal_patch_size", c.temporal_patch_size}}) {
    require_positive(vision, key, v);
  }
  // The 2-D rotary embedding gives each of h and w a quarter of the head's dims.
  require(c.embed_dim % c.num_heads == 0 && c.head_dim() % 4 == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str(vision.where("num_heads"), "embed_dim ", c.embed_dim, " / num_heads ", c.num_heads,
              " must be a head size divisible by 4"));
  return c;
}

// Qwen2VLTextConfig's defaults where they differ from LlamaConfig's.
sdk::blocks::LlamaConfig qwen2_text_defaults() {
  sdk::blocks::LlamaConfig c;
  c.vocab_size = 152064;
  c.hidden_size = 8192;
  c.intermediate_size = 29568;
  c.num_hidden_layers = 80;
  c.num_attention_heads = 64;
  c.num_key_value_heads = 8;
  c.max_position_embeddings = 32768;
  c.rms_norm_eps = 1e-5;
  c.qkv_bias = true;
  c.rope.theta = 1000000.0;
  return c;
}

}  // namespace

Qwen2VLConfig parse_qwen2_vl_config(std::string_view config_json) {
  const sdk::json::Value root = sdk::json::parse(config_json, "config.json");
  const sdk::json::Reader top(root, "");
  Qwen2VLConfig c;
  c.image_token_id = top.get_int("image_token_id", c.image_token_id);
  require(c.image_token_id >= 0 && c.image_token_id <= INT32_MAX, MMRT_STATUS_INVALID_ARGUMENT,
          str(top.where("image_token_id"), c.image_token_id, " is not a valid token id"));

  c.vision_config = parse_vision_config(top.child("vision_config"));

  // Transformers 5 nests the text settings; the hub's files keep them at top level.
  const sdk::json::Reader text = top.has("text_config") ? top.child("text_config") : top;
  c.text_config = sdk::blocks::parse_llama_config(text, qwen2_text_defaults());
  // Qwen2VLConfig ties when its own flag or the text config's says so.
  c.text_config.tie_word_embeddings =
      top.get_bool("tie_word_embeddings", false) || text.get_bool("tie_word_embeddings", false);
  require(!text.get_bool("use_sliding_window", false), MMRT_STATUS_UNIMPLEMENTED,
          str(text.where("use_sliding_window"), "sliding-window attention is not supported"));
  const sdk::blocks::RopeConfig& rope = c.text_config.rope;
  require(rope.type == sdk::blocks::RopeType::default_ && rope.partial_rotary_factor == 1.0,
          MMRT_STATUS_UNIMPLEMENTED,
          str(text.where("rope_scaling"), "only the default (mrope) RoPE is supported"));
  require(rope.mrope_section.size() == 3, MMRT_STATUS_INVALID_ARGUMENT,
          str(text.where("rope_scaling"), "has no mrope_section"));
  sdk::blocks::rope_inv_freq(rope, c.text_config.head_dim);  // checks the section against head_dim
  require(c.vision_config.hidden_size == c.text_config.hidden_size, MMRT_STATUS_INVALID_ARGUMENT,
          str(top.where("vision_config"), "hidden_size ", c.vision_config.hidden_size,
              " differs from the language model's ", c.text_config.hidden_size));
  return c;
}

ImageProcessorConfig parse_image_processor_config(std::string_view json, const VisionConfig& vision) {
  const sdk::json::Value root = sdk::json::parse(json, "image processor config");
  const sdk::json::Reader r(root, "");
  ImageProcessorConfig c;
  const std::string type = sdk::image::processor_type(r);
  require(type.empty() || type == "Qwen2VLImageProcessor", MMRT_STATUS_UNIMPLEMENTED,
          str(r.where("image_processor_type"), "'", type, "' is not Qwen2VLImageProcessor"));
  c.do_convert_rgb = r.get_bool("do_convert_rgb", c.do_convert_rgb);
  c.do_resize = r.get_bool("do_resize", c.do_resize);
  // Older files carry size {min_pixels, max_pixels} next to top-level min_pixels / max_pixels, newer ones
  // size {shortest_edge, longest_edge}; the top-level keys win, as in Qwen2VLImageProcessor.__init__.
  const sdk::json::Reader size = r.child("size");
  c.min_pixels = size.get_int("shortest_edge", size.get_int("min_pixels", c.min_pixels));
  c.max_pixels = size.get_int("longest_edge", size.get_int("max_pixels", c.max_pixels));
  c.min_pixels = r.get_int("min_pixels", c.min_pixels);
  c.max_pixels = r.get_int("max_pixels", c.max_pixels);
  c.resample = sdk::image::parse_resample(r, c.resample);
  c.normalize = sdk::image::parse_normalize_spec(r, sdk::image::kOpenaiClipMean, sdk::image::kOpenaiClipStd);
  c.patch_size = r.get_int("patch_size", c.patch_size);
  c.temporal_patch_size = r.get_int("temporal_patch_size", c.temporal_patch_size);
  c.merge_size = r.get_int("merge_size", c.merge_size);

  require(c.min_pixels > 0 && c.max_pixels >= c.min_pixels, MMRT_STATUS_INVALID_ARGUMENT,
          str(r.where("max_pixels"), "need 0 < min_pixels <= max_pixels, got ", c.min_pixels, " and ",
              c.max_pixels));
  for (float s : c.normalize.std) {
    require(s != 0.0f, MMRT_STATUS_INVALID_ARGUMENT, str(r.where("image_std"), "has a zero entry"));
  }
  // The processor's patch geometry must be the tower's, or pixel_values would not fit patch_embed.
  auto same_as_tower = [&](const char* key, int64_t mine, int64_t tower) {
    require(mine == tower, MMRT_STATUS_INVALID_ARGUMENT,
            str(r.where(key), mine, " differs from the vision tower's ", tower));
  };
  same_as_tower("patch_size", c.patch_size, vision.patch_size);
  same_as_tower("temporal_patch_size", c.temporal_patch_size, vision.temporal_patch_size);
  same_as_tower("merge_size", c.merge_size, vision.spatial_merge_size);
  require(vision.in_channels == 3, MMRT_STATUS_UNIMPLEMENTED,
          str("vision_config.in_channels: ", vision.in_channels, " (the processor makes RGB patches)"));
  return c;
}

std::string ImageProcessorConfig::fingerprint() const {
  return str("Qwen2VLImageProcessor(pil;convert_rgb=", do_convert_rgb, ";resize=", do_resize,
             ";min_pixels=", min_pixels, ";max_pixels=", max_pixels,
             ";resample=", sdk::image::resample_name(resample), ";", sdk::image::to_string(normalize),
             ";patch_size=", patch_size, ";temporal_patch_size=", temporal_patch_size,
             ";merge_size=", merge_size, ")");
}

}  // namespace mmrt::qwen2_vl
