// Both checkpoint layouts parse into the configs the fixture README lists; bad settings fail naming the key.
#include <doctest/doctest.h>

#include <string>

#include "config.hpp"
#include "fixture.hpp"

using mmrt::qwen2_vl::ImageProcessorConfig;
using mmrt::qwen2_vl::parse_image_processor_config;
using mmrt::qwen2_vl::parse_qwen2_vl_config;
using mmrt::qwen2_vl::Qwen2VLConfig;
using mmrt::sdk::Error;
using mmrt::test::qwen2_vl_path;
using mmrt::test::read_text;

namespace {

Qwen2VLConfig load(const std::string& folder) {
  return parse_qwen2_vl_config(read_text(qwen2_vl_path(folder + "/config.json")));
}

std::string error_of(const std::string& config_json) {
  try {
    parse_qwen2_vl_config(config_json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The hub config.json with `from` replaced by `to` (the text must occur).
std::string hub_config_with(const std::string& from, const std::string& to) {
  std::string text = read_text(qwen2_vl_path("qwen2_vl_hub/config.json"));
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// The text of the object under `key` in `json` (brace matching; the fixtures have no braces in strings).
std::string object_text(const std::string& json, const std::string& key) {
  const size_t open = json.find('{', json.find("\"" + key + "\""));
  REQUIRE(open != std::string::npos);
  int depth = 0;
  for (size_t i = open; i < json.size(); ++i) {
    depth += json[i] == '{' ? 1 : json[i] == '}' ? -1 : 0;
    if (depth == 0) return json.substr(open, i + 1 - open);
  }
  FAIL("unbalanced braces");
  return "";
}

}  // namespace

TEST_CASE("qwen2_vl config: the hub layout (flat text settings, rope_scaling mrope)") {
  const Qwen2VLConfig c = load("qwen2_vl_hub");
  CHECK(c.image_token_id == 1512);
  CHECK(c.text_config.vocab_size == 1536);
  CHECK(c.text_config.hidden_size == 32);
  CHECK(c.text_config.intermediate_size == 64);
  CHECK(c.text_config.num_hidden_layers == 2);
  CHECK(c.text_config.num_attention_heads == 2);
  CHECK(c.text_config.num_key_value_heads == 1);
  CHECK(c.text_config.head_dim == 16);
  CHECK(c.text_config.rms_norm_eps == 1e-6);
  CHECK(c.text_config.rope.theta == 1000000.0);
  CHECK(c.text_config.rope.mrope_section == std::vector<int32_t>{2, 3, 3});
  CHECK(c.text_config.qkv_bias);
  CHECK_FALSE(c.text_config.attention_bias);
  CHECK_FALSE(c.text_config.tie_word_embeddings);
  const auto& v = c.vision_config;
  CHECK(v.depth == 2);
  CHECK(v.embed_dim == 32);
  CHECK(v.num_heads == 2);
  CHECK(v.head_dim() == 16);
  CHECK(v.mlp_dim() == 64);
  CHECK(v.hidden_size == 32);
  CHECK(v.patch_dim() == 1176);
  CHECK(v.hidden_act == MMRT_ACT_QUICK_GELU);
  CHECK(v.rope_theta == 10000.0);
}

TEST_CASE("qwen2_vl config: the Transformers 5 layout (text_config, rope_parameters, top-level tie)") {
  const Qwen2VLConfig c = load("qwen2_vl_v5_tied");
  CHECK(c.text_config.hidden_size == 64);
  CHECK(c.text_config.num_attention_heads == 4);
  CHECK(c.text_config.num_key_value_heads == 2);
  CHECK(c.text_config.rope.theta == 10000.0);
  CHECK(c.text_config.rope.mrope_section == std::vector<int32_t>{2, 3, 3});
  CHECK(c.text_config.tie_word_embeddings);
  CHECK(c.vision_config.embed_dim == 48);
  CHECK(c.vision_config.num_heads == 3);
  CHECK(c.vision_config.hidden_size == 64);
}

TEST_CASE("qwen2_vl config: unsupported or inconsistent settings name the key") {
  CHECK(error_of(hub_config_with("\"use_sliding_window\": false", "\"use_sliding_window\": true"))
            .find("use_sliding_window") != std::string::npos);
  CHECK(error_of(hub_config_with("\"mrope_section\": [\n      2,\n      3,\n      3\n    ]",
                                 "\"mrope_section\": [2, 3, 4]"))
            .find("mrope_section sums to 9") != std::string::npos);
  CHECK(error_of(hub_config_with("\"type\": \"mrope\",", "\"type\": \"yarn\",")).find("rope_type") !=
        std::string::npos);
  CHECK(error_of(hub_config_with("\"num_heads\": 2", "\"num_heads\": 3")).find("vision_config.num_heads") !=
        std::string::npos);
}

TEST_CASE("qwen2_vl image processor config: preprocessor_config.json and processor_config.json") {
  const Qwen2VLConfig hub = load("qwen2_vl_hub");
  const ImageProcessorConfig a = parse_image_processor_config(
      read_text(qwen2_vl_path("qwen2_vl_hub/preprocessor_config.json")), hub.vision_config);
  CHECK(a.min_pixels == 3136);
  CHECK(a.max_pixels == 12845056);
  CHECK(a.resample == MMRT_RESAMPLE_BICUBIC);
  CHECK(a.normalize.mean[1] == 0.4578275f);

  // The host hands over processor_config.json's image_processor entry when that is all the folder has.
  const ImageProcessorConfig b = parse_image_processor_config(
      object_text(read_text(qwen2_vl_path("qwen2_vl_v5_tied/processor_config.json")), "image_processor"),
      load("qwen2_vl_v5_tied").vision_config);
  CHECK(b.min_pixels == 6272);
  CHECK(b.max_pixels == 12544);
  CHECK(a.fingerprint() != b.fingerprint());

  // Top-level min_pixels/max_pixels win over size, as in Qwen2VLImageProcessor.__init__.
  const ImageProcessorConfig c = parse_image_processor_config(
      R"({"size": {"shortest_edge": 100, "longest_edge": 200}, "max_pixels": 5000})", hub.vision_config);
  CHECK(c.min_pixels == 100);
  CHECK(c.max_pixels == 5000);
  CHECK_THROWS_WITH_AS(parse_image_processor_config(R"({"patch_size": 16})", hub.vision_config),
                       doctest::Contains("patch_size: 16 differs from the vision tower's 14"), Error);
  CHECK_THROWS_WITH_AS(
      parse_image_processor_config(R"({"min_pixels": 10, "max_pixels": 5})", hub.vision_config),
      doctest::Contains("max_pixels"), Error);
  CHECK_THROWS_WITH_AS(
      parse_image_processor_config(R"({"image_processor_type": "CLIPImageProcessor"})", hub.vision_config),
      doctest::Contains("image_processor_type"), Error);
}
