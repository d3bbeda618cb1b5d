// The weight table against the tensor names of each fixture layout (hub, Transformers 5 save_pretrained).
#include <doctest/doctest.h>

#include <string>

#include "config.hpp"
#include "fixture.hpp"
#include "model.hpp"

using mmrt::blip2::Blip2Config;
using mmrt::blip2::Blip2Model;
using mmrt::sdk::Error;
using mmrt::test::FakeWeights;

namespace {

struct Loaded {
  Blip2Config config;
  FakeWeights weights;
};

Loaded fixture(const std::string& folder) {
  const std::string dir = mmrt::test::fixture_path("blip2/" + folder);
  return {mmrt::blip2::parse_blip2_config(mmrt::test::read_text(dir + "/config.json")),
          mmrt::test::safetensors_shapes(dir + "/model.safetensors")};
}

// Builds the model from `weights` and audits leftovers; returns the error message or "".
std::string load(const Blip2Config& config, FakeWeights& weights) {
  try {
    mmrt::sdk::Weights w(FakeWeights::api(), weights.handle(), weights.dtype, mmrt::sdk::NameMapper());
    Blip2Model model(config, w);
    w.finish();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool is_text_branch(const std::string& name) {
  return name.find(".intermediate.dense.") != std::string::npos ||
         name.find(".output.dense.") != std::string::npos ||
         name.find(".output.LayerNorm.") != std::string::npos;
}

}  // namespace

TEST_CASE("blip2 weights: both fixture layouts load completely") {
  SUBCASE("hub layout: only the Q-Former text branch is skipped") {
    Loaded f = fixture("blip2_opt");
    CHECK(load(f.config, f.weights) == "");
    CHECK(f.weights.ignored.size() == 12);  // 2 layers × intermediate.dense + output.{dense,LayerNorm}
    for (const std::string& name : f.weights.ignored) {
      CAPTURE(name);
      CHECK(name.starts_with("qformer.encoder.layer."));
      CHECK(is_text_branch(name));
    }
  }
  SUBCASE("Transformers 5 layout, tied head left out of the file") {
    Loaded f = fixture("blip2_opt_tied");
    CHECK(f.weights.shapes.count("language_model.lm_head.weight") == 0);
    CHECK(load(f.config, f.weights) == "");
    CHECK(f.weights.ignored.empty());
  }
}

TEST_CASE("blip2 weights: the original uploads' q_bias / v_bias stand for the fused qkv.bias") {
  Loaded f = fixture("blip2_opt");
  for (int layer = 0; layer < 2; ++layer) {
    const std::string attn = "vision_model.encoder.layers." + std::to_string(layer) + ".self_attn.";
    REQUIRE(f.weights.shapes.erase(attn + "qkv.bias") == 1);
    f.weights.shapes[attn + "q_bias"] = {32};
    f.weights.shapes[attn + "v_bias"] = {32};
  }
  CHECK(load(f.config, f.weights) == "");
}

TEST_CASE("blip2 weights: mismatches fail with the tensor named") {
  SUBCASE("a missing vision tensor") {
    Loaded f = fixture("blip2_opt");
    f.weights.shapes.erase("vision_model.encoder.layers.1.self_attn.qkv.bias");
    CHECK(load(f.config, f.weights) ==
          "checkpoint lacks tensor vision_model.encoder.layers.1.self_attn.q_bias");
  }
  SUBCASE("a cross-attention layer the config does not have") {
    Loaded f = fixture("blip2_opt");
    f.weights.shapes["qformer.encoder.layer.1.crossattention.attention.query.weight"] = {32, 32};
    CHECK(load(f.config, f.weights).find("qformer.encoder.layer.1.crossattention.attention.query.weight") !=
          std::string::npos);
  }
  SUBCASE("a config that disagrees with the checkpoint") {
    Loaded f = fixture("blip2_opt_tied");
    f.config.num_query_tokens = 4;
    CHECK(load(f.config, f.weights) ==
          "tensor query_tokens has shape [1, 8, 48], the config implies [1, 4, 48]");
  }
  SUBCASE("an untied config without lm_head") {
    Loaded f = fixture("blip2_opt_tied");
    f.config.text_config.tie_word_embeddings = false;
    CHECK(load(f.config, f.weights) == "checkpoint lacks tensor language_model.lm_head.weight");
  }
  SUBCASE("a post-LN config on a pre-LN checkpoint leaves the final norm unclaimed") {
    Loaded f = fixture("blip2_opt_tied");
    f.config.text_config.do_layer_norm_before = false;
    CHECK(load(f.config, f.weights).find("language_model.model.decoder.final_layer_norm.weight") !=
          std::string::npos);
  }
}
