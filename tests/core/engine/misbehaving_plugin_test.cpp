// A plugin that fails, throws or returns garbage in the middle of serving must end the affected requests
// with an error that carries its message, free their KV blocks, and leave the engine able to serve.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/engine/engine.hpp"
#include "core/engine/prompt.hpp"
#include "core/plugin/plugin_registry.hpp"

namespace fs = std::filesystem;
using namespace mmrt;

namespace {

// A checkpoint folder for the test plugin: config.json, the fixture tokenizer, and an empty safetensors.
fs::path make_model(const std::string& mode) {
  const fs::path dir = fs::temp_directory_path() / ("mmrt_misbehaving_" + mode);
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"architectures": ["MisbehavingForCausalLM"], "misbehave": ")"
                                     << mode << R"(", "eos_token_id": 2})";
  const fs::path tokenizer = fs::path(MMRT_SOURCE_DIR) / "tests" / "fixtures" / "llava" / "tokenizer";
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(tokenizer / f, dir / f, fs::copy_options::overwrite_existing);
  }
  std::ofstream st(dir / "model.safetensors", std::ios::binary);
  const char header[] = "{}      ";  // 8 bytes of JSON, space-padded
  const uint64_t len = 8;
  st.write(reinterpret_cast<const char*>(&len), 8);
  st.write(header, 8);
  return dir;
}

struct Loaded {
  plugin::PluginRegistry registry;
  std::unique_ptr<engine::Model> model;
};

Loaded load(const std::string& mode) {
  plugin::PluginSearch search;
  search.dirs = {MISBEHAVING_PLUGIN_DIR};
  search.use_env = false;
  Loaded out{plugin::PluginRegistry::scan(search), nullptr};
  out.model = engine::Model::load({make_model(mode), "cpu"}, out.registry);
  return out;
}

struct Outcome {
  std::vector<int32_t> tokens;
  engine::FinishReason finish = engine::FinishReason::none;
  std::string error;
};

void submit(engine::Engine& eng, engine::Model& model, const std::string& id,
            std::map<std::string, Outcome>& out) {
  engine::PreparedPrompt p = engine::prepare_prompt(model, "hello there", {});
  engine::SamplingParams params;
  params.max_tokens = 4;
  params.ignore_eos = true;
  eng.submit({id, std::move(p.prompt), {}, params}, [&out, id](const engine::RequestEvent& ev) {
    for (const auto& s : ev.samples) out[id].tokens.push_back(s.token);
    if (ev.finish != engine::FinishReason::none) {
      out[id].finish = ev.finish;
      out[id].error = ev.error;
    }
  });
}

void drain(engine::Engine& eng) {
  for (int i = 0; i < 1000 && eng.step(); ++i) {
  }
}

}  // namespace

TEST_CASE("an error status from forward fails that batch's requests and the next request still works") {
  Loaded m = load("fail_second_forward");
  engine::Engine eng(*m.model, {});
  std::map<std::string, Outcome> out;
  submit(eng, *m.model, "a", out);
  submit(eng, *m.model, "b", out);
  drain(eng);
  for (const char* id : {"a", "b"}) {
    CAPTURE(id);
    CHECK(out[id].finish == engine::FinishReason::error);
    CHECK(out[id].error.find("deliberate failure in forward call 2") != std::string::npos);
    CHECK(out[id].tokens.size() == 1);  // the first step worked
  }
  CHECK(eng.stats().kv_blocks_held == 0);
  CHECK(eng.stats().failed == 2);

  submit(eng, *m.model, "c", out);
  drain(eng);
  CHECK(out["c"].finish == engine::FinishReason::length);
  CHECK(out["c"].tokens.size() == 4);
  CHECK(eng.stats().kv_blocks_held == 0);
}

TEST_CASE("an exception thrown inside the plugin becomes an error, not a crash") {
  Loaded m = load("throw_in_forward");
  engine::Engine eng(*m.model, {});
  std::map<std::string, Outcome> out;
  submit(eng, *m.model, "a", out);
  drain(eng);
  CHECK(out["a"].finish == engine::FinishReason::error);
  CHECK(out["a"].error.find("deliberate exception in forward") != std::string::npos);
  CHECK(eng.stats().kv_blocks_held == 0);
}

TEST_CASE("non-finite logits end the request with an error instead of a garbage token") {
  Loaded m = load("nan_logits");
  engine::Engine eng(*m.model, {});
  std::map<std::string, Outcome> out;
  submit(eng, *m.model, "a", out);
  drain(eng);
  CHECK(out["a"].finish == engine::FinishReason::error);
  CHECK(out["a"].error.find("non-finite") != std::string::npos);
  CHECK(out["a"].tokens.empty());
  CHECK(eng.stats().kv_blocks_held == 0);
}
