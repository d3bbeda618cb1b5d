// The weight table against the tensor names of both fixture layouts (hub: visual.*, model.*; v5:
// model.visual.*, model.language_model.*, tied head left out).
#include <doctest/doctest.h>

#include <string>

#include "config.hpp"
#include "fixture.hpp"
#include "model.hpp"

using mmrt::qwen2_vl::Qwen2VLConfig;
using mmrt::qwen2_vl::Qwen2VLModel;
using mmrt::sdk::Error;
using mmrt::test::FakeWeights;

namespace {

struct Loaded {
  Qwen2VLConfig config;
  FakeWeights weights;
};

Loaded fixture(const std::string& folder) {
  const std::string dir = mmrt::test::qwen2_vl_path(folder);
  return {mmrt::qwen2_vl::parse_qwen2_vl_config(mmrt::test::read_text(dir + "/config.json")),
          mmrt::test::safetensors_shapes(dir + "/model.safetensors")};
}

// Builds the model from `weights` and audits leftovers; returns the error message or "".
std::string load(const Qwen2VLConfig& config, FakeWeights& weights) {
  try {
    mmrt::sdk::Weights w(FakeWeights::api(), weights.handle(), weights.dtype,
                         mmrt::qwen2_vl::checkpoint_layouts());
    Qwen2VLModel model(config, w, mmrt::sdk::kCpu);
    w.finish();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("qwen2_vl weights: both fixture layouts load completely") {
  for (const char* folder : {"qwen2_vl_hub", "qwen2_vl_v5_tied"}) {
    CAPTURE(folder);
    Loaded f = fixture(folder);
    CHECK(load(f.config, f.weights) == "");
  }
  CHECK(fixture("qwen2_vl_hub").weights.shapes.count("visual.patch_embed.proj.weight") == 1);
  CHECK(fixture("qwen2_vl_v5_tied").weights.shapes.count("model.visual.patch_embed.proj.weight") == 1);
}

TEST_CASE("qwen2_vl weights: a missing, misshapen or stray tensor fails naming it") {
  SUBCASE("missing") {
    Loaded f = fixture("qwen2_vl_hub");
    f.weights.shapes.erase("visual.blocks.1.attn.qkv.bias");
    const std::string error = load(f.config, f.weights);
    CHECK(error.find("model.visual.blocks.1.attn.qkv.bias") != std::string::npos);
    CHECK(error.find("also tried visual.blocks.1.attn.qkv.bias") != std::string::npos);
  }
  SUBCASE("o_proj has no bias in Qwen2: a stray one is refused") {
    Loaded f = fixture("qwen2_vl_hub");
    f.weights.shapes["model.layers.0.self_attn.o_proj.bias"] = {32};
    CHECK(load(f.config, f.weights).find("model.layers.0.self_attn.o_proj.bias") != std::string::npos);
  }
  SUBCASE("the merger's width follows embed_dim and spatial_merge_size") {
    Loaded f = fixture("qwen2_vl_v5_tied");
    f.weights.shapes["model.visual.merger.mlp.0.weight"] = {96, 96};
    CHECK(load(f.config, f.weights).find("model.visual.merger.mlp.0.weight has shape [96, 96]") !=
          std::string::npos);
  }
  SUBCASE("an untied config needs lm_head") {
    Loaded f = fixture("qwen2_vl_hub");
    f.weights.shapes.erase("lm_head.weight");
    CHECK(load(f.config, f.weights).find("lm_head.weight") != std::string::npos);
  }
}
