#include <doctest/doctest.h>

#include <string>

#include "config.hpp"
#include "fixture.hpp"

using mmrt::blip2::Blip2Config;
using mmrt::blip2::parse_blip2_config;
using mmrt::sdk::Error;
using mmrt::test::fixture_path;
using mmrt::test::read_text;

namespace {

Blip2Config load(const std::string& folder) {
  return parse_blip2_config(read_text(fixture_path("blip2/" + folder + "/config.json")));
}

// The message parse_blip2_config throws for `json`, or "".
std::string error_of(const std::string& json) {
  try {
    parse_blip2_config(json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// Expected values: the fixture README and tools/fixtures/make_blip2_fixtures.py's MODEL_SPECS.
TEST_CASE("blip2 config: the fixture checkpoints") {
  SUBCASE("blip2_opt: post-LN OPT, untied, cross-attention every 2nd layer") {
    const Blip2Config c = load("blip2_opt");
    CHECK(c.num_query_tokens == 8);
    REQUIRE(c.image_token_index.has_value());
    CHECK(*c.image_token_index == 360);
    CHECK(c.query_placeholder_id() == 360);
    CHECK(c.vision_config.hidden_size == 32);
    CHECK(c.vision_config.num_hidden_layers == 2);
    CHECK(c.vision_config.image_size == 32);
    CHECK(c.vision_config.patch_size == 8);
    CHECK(c.vision_config.n_positions() == 17);
    CHECK(c.vision_config.layer_norm_eps == doctest::Approx(1e-6));
    CHECK(c.vision_config.hidden_act == MMRT_ACT_GELU_ERF);
    CHECK(c.qformer_config.hidden_size == 32);
    CHECK(c.qformer_config.encoder_hidden_size == 32);  // forced to the vision width
    CHECK(c.qformer_config.has_cross_attention(0));
    CHECK_FALSE(c.qformer_config.has_cross_attention(1));
    CHECK(c.qformer_config.layer_norm_eps == doctest::Approx(1e-12));
    CHECK(c.text_config.hidden_size == 64);
    CHECK(c.text_config.vocab_size == 376);
    CHECK(c.text_config.num_hidden_layers == 2);
    CHECK(c.text_config.max_position_embeddings == 128);
    CHECK_FALSE(c.text_config.do_layer_norm_before);
    CHECK_FALSE(c.text_config.has_final_layer_norm());
    CHECK_FALSE(c.text_config.tie_word_embeddings);
    CHECK(c.text_config.activation_function == MMRT_ACT_RELU);
  }
  SUBCASE("blip2_opt_tied: pre-LN OPT, tied, cross-attention in every layer") {
    const Blip2Config c = load("blip2_opt_tied");
    CHECK(c.vision_config.hidden_size == 48);
    CHECK(c.qformer_config.encoder_hidden_size == 48);
    CHECK(c.qformer_config.has_cross_attention(1));
    CHECK(c.qformer_config.has_cross_attention(2));
    CHECK(c.text_config.do_layer_norm_before);
    CHECK(c.text_config.has_final_layer_norm());
    CHECK(c.text_config.tie_word_embeddings);
  }
}

TEST_CASE("blip2 config: defaults, older checkpoints and what is refused") {
  SUBCASE("an empty config is blip2-opt-2.7b's shape with OPTConfig's text defaults") {
    const Blip2Config c = parse_blip2_config("{}");
    CHECK(c.num_query_tokens == 32);
    CHECK(c.vision_config.hidden_size == 1408);
    CHECK(c.vision_config.num_hidden_layers == 39);
    CHECK(c.vision_config.n_positions() == 257);
    CHECK(c.qformer_config.hidden_size == 768);
    CHECK(c.qformer_config.encoder_hidden_size == 1408);
    CHECK(c.text_config.hidden_size == 768);
  }
  SUBCASE("image_token_id is the v5 spelling") {
    CHECK(*parse_blip2_config(R"({"image_token_id": 50265})").image_token_index == 50265);
  }
  SUBCASE("without image_token_index the query rows hold the text pad id") {
    const Blip2Config c = parse_blip2_config(R"({"text_config": {"pad_token_id": 1}})");
    CHECK_FALSE(c.image_token_index.has_value());
    CHECK(c.query_placeholder_id() == 1);
  }
  CHECK(error_of(R"({"text_config": {"model_type": "t5"}})").find("text_config.model_type") !=
        std::string::npos);
  CHECK(error_of(R"({"text_config": {"word_embed_proj_dim": 512}})").find("word_embed_proj_dim") !=
        std::string::npos);
  CHECK(error_of(R"({"qformer_config": {"use_qformer_text_input": true}})").find("use_qformer_text_input") !=
        std::string::npos);
  CHECK(error_of(R"({"vision_config": {"image_size": 30, "patch_size": 14}})")
            .find("vision_config.image_size") != std::string::npos);
  CHECK(error_of(R"({"num_query_tokens": 0})").find("num_query_tokens") != std::string::npos);
  CHECK(error_of(R"({"image_token_index": -1})").find("image_token_index") != std::string::npos);
  CHECK(error_of(R"({"text_config": {"activation_function": "mish"}})").find("activation_function") !=
        std::string::npos);
}
