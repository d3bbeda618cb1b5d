// The weight table against the tensor names Transformers saved in each fixture layout (v4, v4.52, v5).
#include <doctest/doctest.h>

#include <string>

#include "config.hpp"
#include "fixture.hpp"
#include "model.hpp"

using mmrt::llava::LlavaConfig;
using mmrt::llava::LlavaModel;
using mmrt::sdk::Error;
using mmrt::test::FakeWeights;

namespace {

struct Loaded {
  LlavaConfig config;
  FakeWeights weights;
};

Loaded fixture(const std::string& folder) {
  const std::string dir = mmrt::test::fixture_path("llava/" + folder);
  return {mmrt::llava::parse_llava_config(mmrt::test::read_text(dir + "/config.json")),
          mmrt::test::safetensors_shapes(dir + "/model.safetensors")};
}

// Builds the model from `weights` and audits leftovers; returns the error message or "".
std::string load(const LlavaConfig& config, FakeWeights& weights) {
  try {
    mmrt::sdk::Weights w(FakeWeights::api(), weights.handle(), weights.dtype,
                         mmrt::llava::checkpoint_layouts());
    LlavaModel model(config, w, mmrt::sdk::kCpu);
    w.finish();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("llava weights: every fixture layout loads completely") {
  for (const char* folder : {"llava_default", "llava_gqa_full", "llava_layers_list"}) {
    CAPTURE(folder);
    Loaded f = fixture(folder);
    CHECK(load(f.config, f.weights) == "");
    for (const std::string& name : f.weights.ignored) {
      CAPTURE(name);  // only the unused vision layers and post_layernorm are skipped
      CHECK((name.find("post_layernorm") != std::string::npos ||
             name.find("encoder.layers.") != std::string::npos));
    }
  }
}

TEST_CASE("llava weights: vision layers past the selected hidden state are skipped") {
  Loaded f = fixture("llava_default");  // 2 layers, vision_feature_layer -2: layer 1 never runs
  REQUIRE(load(f.config, f.weights) == "");
  CHECK(f.weights.ignored.count("vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight") == 1);
  CHECK(f.weights.ignored.count("vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight") == 0);
}

TEST_CASE("llava weights: mismatches fail with the tensor named") {
  SUBCASE("a missing tensor") {
    Loaded f = fixture("llava_gqa_full");
    f.weights.shapes.erase("model.language_model.layers.2.mlp.up_proj.weight");
    CHECK(load(f.config, f.weights) ==
          "checkpoint lacks tensor language_model.model.layers.2.mlp.up_proj.weight (also tried "
          "model.language_model.layers.2.mlp.up_proj.weight)");
  }
  SUBCASE("a tensor nobody claims") {
    Loaded f = fixture("llava_default");
    f.weights.shapes["language_model.model.layers.9.mlp.up_proj.weight"] = {128, 64};
    CHECK(load(f.config, f.weights).find("language_model.model.layers.9.mlp.up_proj.weight") !=
          std::string::npos);
  }
  SUBCASE("a config that disagrees with the checkpoint") {
    Loaded f = fixture("llava_gqa_full");
    f.config.text_config.num_key_value_heads = 4;
    CHECK(
        load(f.config, f.weights) ==
        "tensor model.language_model.layers.0.self_attn.k_proj.weight has shape [32, 64], the config implies "
        "[64, 64]");
  }
  SUBCASE("an untied config without lm_head") {
    Loaded f = fixture("llava_layers_list");
    f.config.text_config.tie_word_embeddings = false;
    CHECK(load(f.config, f.weights).find("checkpoint lacks tensor language_model.lm_head.weight") == 0);
  }
}
