#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fake_weights.hpp"
#include "mmrt/weights.hpp"

using mmrt::sdk::Error;
using mmrt::sdk::NameMapper;
using mmrt::sdk::Weights;
using mmrt::test::FakeWeights;

namespace {

NameMapper v5_mapper() {
  return NameMapper({{"language_model.model.", "model.language_model."},
                     {"language_model.lm_head.", "lm_head."},
                     {"vision_tower.vision_model.", "model.vision_tower.vision_model."},
                     {"vision_tower.vision_model.", "model.vision_tower."}});
}

std::string message_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("weights: layer_name and glob_match") {
  CHECK(mmrt::sdk::layer_name("model.layers.{i}.mlp.{i}", 12) == "model.layers.12.mlp.12");
  CHECK(mmrt::sdk::glob_match("a.*", "a.b.c"));
  CHECK(mmrt::sdk::glob_match("*.inv_freq", "x.layers.3.inv_freq"));
  CHECK(mmrt::sdk::glob_match("layers.*.rotary_emb.inv_freq", "layers.10.rotary_emb.inv_freq"));
  CHECK(mmrt::sdk::glob_match("exact", "exact"));
  CHECK_FALSE(mmrt::sdk::glob_match("exact", "exactly"));
  CHECK_FALSE(mmrt::sdk::glob_match("layers.2.*", "layers.23.w"));
  CHECK(mmrt::sdk::glob_match("*", ""));
}

TEST_CASE("weights: the mapper translates both ways, longest alternative first") {
  NameMapper m = v5_mapper();
  auto c = m.candidates("vision_tower.vision_model.pre_layrnorm.weight");
  REQUIRE(c.size() == 3);
  CHECK(c[0] == "vision_tower.vision_model.pre_layrnorm.weight");
  CHECK(c[1] == "model.vision_tower.vision_model.pre_layrnorm.weight");
  CHECK(c[2] == "model.vision_tower.pre_layrnorm.weight");
  CHECK(m.candidates("language_model.lm_head.weight")[1] == "lm_head.weight");
  CHECK(m.candidates("unrelated.weight").size() == 1);
  CHECK(m.canonical("model.vision_tower.vision_model.x") == "vision_tower.vision_model.x");
  CHECK(m.canonical("model.vision_tower.x") == "vision_tower.vision_model.x");
  CHECK(m.canonical("model.language_model.norm.weight") == "language_model.model.norm.weight");
  CHECK(m.canonical("lm_head.weight") == "language_model.lm_head.weight");
  CHECK(m.canonical("language_model.model.norm.weight") == "language_model.model.norm.weight");
}

TEST_CASE("weights: get resolves layouts and checks shapes") {
  FakeWeights fake;
  fake.shapes["model.language_model.norm.weight"] = {64};
  fake.shapes["model.vision_tower.embeddings.patch_embedding.weight"] = {32, 3, 8, 8};
  fake.shapes["lm_head.weight"] = {640, 64};
  Weights w(FakeWeights::api(), fake.handle(), fake.dtype, v5_mapper());

  auto patch = w.get("vision_tower.vision_model.embeddings.patch_embedding.weight", {32, 3, 8, 8});
  CHECK(patch.dim(1) == 3);
  CHECK(w.contains("language_model.model.norm.weight"));
  CHECK_FALSE(w.contains("language_model.model.absent"));
  CHECK_FALSE(w.get_optional("language_model.model.absent", {1}).has_value());

  CHECK(message_of([&] { w.get("language_model.model.norm.weight", {65}); }) ==
        "tensor model.language_model.norm.weight has shape [64], the config implies [65]");
  CHECK(message_of([&] { w.get("language_model.lm_head.weight", {640}); }) ==
        "tensor lm_head.weight has shape [640, 64], the config implies [640]");
  CHECK(message_of([&] { w.get("language_model.model.missing", {1}); }) ==
        "checkpoint lacks tensor language_model.model.missing (also tried model.language_model.missing)");

  FakeWeights bf16 = fake;
  bf16.dtype = mmrt::sdk::kBF16;
  Weights wb(FakeWeights::api(), bf16.handle(), mmrt::sdk::kF32, v5_mapper());
  CHECK(message_of([&] { wb.get("language_model.model.norm.weight", {64}); }) ==
        "tensor model.language_model.norm.weight is bf16, expected f32");
}

TEST_CASE("weights: finish fails on tensors nobody claimed unless ignored") {
  FakeWeights fake;
  fake.shapes["model.language_model.norm.weight"] = {64};
  fake.shapes["model.vision_tower.post_layernorm.weight"] = {32};
  fake.shapes["model.vision_tower.post_layernorm.bias"] = {32};
  fake.shapes["model.language_model.layers.0.self_attn.rotary_emb.inv_freq"] = {8};
  fake.shapes["stray.tensor"] = {1};

  Weights w(FakeWeights::api(), fake.handle(), fake.dtype, v5_mapper());
  w.get("language_model.model.norm.weight", {64});
  w.ignore("vision_tower.vision_model.post_layernorm.*");  // canonical names, matched after mapping
  w.ignore("language_model.model.layers.*.self_attn.rotary_emb.inv_freq");
  std::string message = message_of([&] { w.finish(); });
  CHECK(message.find("checkpoint has 1 tensor(s) the model does not use: stray.tensor") == 0);
  CHECK(message.find("stray.tensor") != std::string::npos);
  CHECK(message.find("post_layernorm") == std::string::npos);
  CHECK(fake.ignored.count("model.vision_tower.post_layernorm.weight") == 1);
  CHECK(fake.ignored.count("model.language_model.layers.0.self_attn.rotary_emb.inv_freq") == 1);

  fake.shapes.erase("stray.tensor");
  Weights clean(FakeWeights::api(), fake.handle(), fake.dtype, v5_mapper());
  clean.get("language_model.model.norm.weight", {64});
  clean.ignore("vision_tower.vision_model.post_layernorm.*");
  clean.ignore("language_model.model.layers.*.self_attn.rotary_emb.inv_freq");
  CHECK_NOTHROW(clean.finish());
  CHECK(clean.n_claimed() == 1);
}

TEST_CASE("weights: matmul_weight takes the stored dtype on a 1.1 CPU host, the compute dtype otherwise") {
  const MmrtDataType f32{MMRT_DTYPE_FLOAT, 32, 1}, bf16{MMRT_DTYPE_BFLOAT, 16, 1};
  FakeWeights fake;
  fake.shapes = {{"model.language_model.embed_tokens.weight", {10, 4}}, {"norm.weight", {4}}};

  Weights on_cpu(FakeWeights::api_1_1(), fake.handle(), f32, v5_mapper(), {MMRT_DEVICE_CPU, 0});
  auto table = on_cpu.matmul_weight("language_model.model.embed_tokens.weight", {10, 4});
  CHECK(mmrt::sdk::same(table.dtype(), bf16));
  CHECK(fake.stored_requests == std::vector<std::string>{"model.language_model.embed_tokens.weight"});
  CHECK(mmrt::sdk::same(on_cpu.get("norm.weight", {4}).dtype(), f32));  // get() stays in the compute dtype
  CHECK(message_of([&] {
          on_cpu.matmul_weight("language_model.model.embed_tokens.weight", {10, 5});
        }).find("has shape [10, 4]") != std::string::npos);
  CHECK(message_of([&] { on_cpu.matmul_weight("absent.weight", {1}); }).find("lacks tensor") !=
        std::string::npos);

  // A stored dtype linear cannot read (here an integer buffer) falls back to the compute dtype.
  fake.stored_dtype = {MMRT_DTYPE_INT, 64, 1};
  CHECK(mmrt::sdk::same(on_cpu.matmul_weight("norm.weight", {4}).dtype(), f32));

  fake.stored_requests.clear();
  Weights old_host(FakeWeights::api(), fake.handle(), f32, v5_mapper(), {MMRT_DEVICE_CPU, 0});
  CHECK(mmrt::sdk::same(old_host.matmul_weight("language_model.model.embed_tokens.weight", {10, 4}).dtype(),
                        f32));
  Weights on_cuda(FakeWeights::api_1_1(), fake.handle(), f32, v5_mapper(), {MMRT_DEVICE_CUDA, 0});
  CHECK(mmrt::sdk::same(on_cuda.matmul_weight("language_model.model.embed_tokens.weight", {10, 4}).dtype(),
                        f32));
  CHECK(fake.stored_requests.empty());
}
