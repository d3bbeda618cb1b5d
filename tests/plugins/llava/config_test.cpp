#include <doctest/doctest.h>

#include <string>

#include "config.hpp"
#include "fixture.hpp"

using mmrt::llava::FeatureSelect;
using mmrt::llava::LlavaConfig;
using mmrt::llava::parse_llava_config;
using mmrt::sdk::Error;
using mmrt::sdk::blocks::RopeType;
using mmrt::test::fixture_path;
using mmrt::test::read_text;

namespace {

LlavaConfig load(const std::string& folder) {
  return parse_llava_config(read_text(fixture_path(folder + "/config.json")));
}

}  // namespace

// Expected values: the fixture README's table and the image_seq_length Transformers wrote into each file.
TEST_CASE("llava config: the fixture checkpoints") {
  SUBCASE("llava_default: v4 layout, layer -2, default") {
    LlavaConfig c = load("llava/llava_default");
    CHECK(c.image_token_index == 600);
    CHECK(c.vision_feature_select_strategy == FeatureSelect::default_);
    CHECK(c.vision_feature_layer == std::vector<int64_t>{-2});
    CHECK(c.hidden_state_indices() == std::vector<int64_t>{1});  // 2 layers: hidden_states[1]
    CHECK(c.n_vision_layers_used() == 1);
    CHECK(c.image_seq_length() == 16);
    CHECK(c.projector_in() == 32);
    CHECK(c.projector_hidden_act == MMRT_ACT_GELU_ERF);
    CHECK(c.vision_config.hidden_size == 32);
    CHECK(c.vision_config.intermediate_size == 64);
    CHECK(c.vision_config.num_hidden_layers == 2);
    CHECK(c.vision_config.num_attention_heads == 2);
    CHECK(c.vision_config.image_size == 32);
    CHECK(c.vision_config.patch_size == 8);
    CHECK(c.vision_config.hidden_act == MMRT_ACT_QUICK_GELU);
    CHECK(c.text_config.num_hidden_layers == 2);
    CHECK(c.text_config.num_attention_heads == 4);
    CHECK(c.text_config.num_key_value_heads == 4);
    CHECK(c.text_config.vocab_size == 640);
    CHECK(c.text_config.rms_norm_eps == 1e-05);
    CHECK(c.text_config.head_dim == 16);
    CHECK(c.text_config.hidden_size == 64);
    CHECK(c.text_config.intermediate_size == 128);
    CHECK(c.text_config.max_position_embeddings == 512);
    CHECK(c.text_config.rope.type == RopeType::default_);
    CHECK(c.text_config.rope.theta == 10000.0);
    CHECK_FALSE(c.text_config.tie_word_embeddings);
  }
  SUBCASE("llava_gqa_full: GQA, layer -1, full keeps CLS") {
    LlavaConfig c = load("llava/llava_gqa_full");
    CHECK(c.vision_feature_select_strategy == FeatureSelect::full);
    CHECK(c.hidden_state_indices() == std::vector<int64_t>{2});
    CHECK(c.image_seq_length() == 17);
    CHECK(c.text_config.num_hidden_layers == 3);
    CHECK(c.text_config.num_key_value_heads == 2);
    CHECK(c.text_config.vocab_size == 608);
    CHECK(c.text_config.rms_norm_eps == 1e-06);
    CHECK(c.vision_config.hidden_size == 48);
    CHECK(c.vision_config.num_attention_heads == 4);
  }
  SUBCASE("llava_layers_list: two feature layers, linear rope, tied head") {
    LlavaConfig c = load("llava/llava_layers_list");
    CHECK(c.vision_feature_layer == std::vector<int64_t>{-3, -1});
    CHECK(c.hidden_state_indices() == std::vector<int64_t>{1, 3});
    CHECK(c.n_vision_layers_used() == 3);
    CHECK(c.image_seq_length() == 16);
    CHECK(c.projector_in() == 128);
    CHECK(c.text_config.rope.type == RopeType::linear);
    CHECK(c.text_config.rope.factor == 2.0);
    CHECK(c.text_config.rope.theta == 500000.0);
    CHECK(c.text_config.tie_word_embeddings);
  }
  for (const char* folder : {"llava/llava_default", "llava/llava_gqa_full", "llava/llava_layers_list"}) {
    CAPTURE(folder);
    mmrt::sdk::json::Value raw =
        mmrt::sdk::json::parse(read_text(fixture_path(std::string(folder) + "/config.json")));
    CHECK(load(folder).image_seq_length() == raw.find("image_seq_length")->as_int());
  }
}

TEST_CASE("llava config: a v4 hub file and its Transformers v5 re-save agree") {
  LlavaConfig v4 = load("model_configs/llava_v4");  // rope_theta + rope_scaling {type}, no defaults written
  LlavaConfig v5 = load("model_configs/llava_v5");  // rope_parameters, every default written
  CHECK(v4.image_token_index == v5.image_token_index);
  CHECK(v4.image_seq_length() == v5.image_seq_length());
  CHECK(v4.image_seq_length() == 9);  // (30 / 10)²
  CHECK(v4.projector_in() == v5.projector_in());
  CHECK(v4.multimodal_projector_bias == v5.multimodal_projector_bias);
  const auto& a = v4.text_config;
  const auto& b = v5.text_config;
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.num_key_value_heads == b.num_key_value_heads);
  CHECK(a.head_dim == b.head_dim);
  CHECK(a.max_position_embeddings == b.max_position_embeddings);
  CHECK(a.rms_norm_eps == b.rms_norm_eps);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  CHECK(a.rope.type == RopeType::linear);
  CHECK(b.rope.type == RopeType::linear);
  CHECK(a.rope.theta == b.rope.theta);
  CHECK(a.rope.factor == b.rope.factor);
  const auto& va = v4.vision_config;
  const auto& vb = v5.vision_config;
  CHECK(va.num_channels == vb.num_channels);
  CHECK(va.layer_norm_eps == vb.layer_norm_eps);
  CHECK(va.hidden_act == vb.hidden_act);
  CHECK(va.n_positions() == vb.n_positions());
}

TEST_CASE("llava config: missing sub-configs take LlavaConfig's defaults (llava-1.5-7b sizes)") {
  LlavaConfig c = parse_llava_config("{}");
  CHECK(c.image_token_index == 32000);
  CHECK(c.vision_config.hidden_size == 1024);
  CHECK(c.vision_config.num_hidden_layers == 24);
  CHECK(c.image_seq_length() == 576);
  CHECK(c.hidden_state_indices() == std::vector<int64_t>{23});
  CHECK(c.text_config.hidden_size == 4096);
  CHECK(c.text_config.rms_norm_eps == 1e-6);
  CHECK(c.text_config.head_dim == 128);
  // A present vision_config fills gaps from CLIPVisionConfig instead (224 px, patch 32).
  CHECK(parse_llava_config(R"({"vision_config": {}})").image_seq_length() == 49);
  CHECK(parse_llava_config(R"({"image_token_id": 5})").image_token_index == 5);  // v5 spelling
}

TEST_CASE("llava config: bad values name their key") {
  CHECK_THROWS_WITH_AS(parse_llava_config(R"({"vision_feature_select_strategy": "cls"})"),
                       "vision_feature_select_strategy: 'cls' is neither 'default' nor 'full'", Error);
  CHECK_THROWS_WITH_AS(parse_llava_config(R"({"vision_config": {"model_type": "siglip_vision_model"}})"),
                       "vision_config.model_type: vision tower 'siglip_vision_model' is not supported "
                       "(clip_vision_model)",
                       Error);
  CHECK_THROWS_WITH_AS(parse_llava_config(R"({"vision_feature_layer": -30})"),
                       "vision_feature_layer: selects hidden state -5 of a tower with 24 layers", Error);
  CHECK_THROWS_WITH_AS(parse_llava_config(R"({"text_config": {"hidden_size": "big"}})"),
                       "text_config.hidden_size: expected an integer, got string", Error);
  CHECK_THROWS_WITH_AS(parse_llava_config(R"({"text_config": {"num_key_value_heads": 5}})"),
                       "text_config.num_key_value_heads: 5 does not divide num_attention_heads 32", Error);
  CHECK_THROWS_WITH_AS(parse_llava_config(R"({"projector_hidden_act": "mish"})"),
                       "projector_hidden_act: activation 'mish' is not supported", Error);
  CHECK_THROWS_AS(parse_llava_config("{"), Error);
}
