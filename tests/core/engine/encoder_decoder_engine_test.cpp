// The engine driving an encoder-decoder model (the toy plugin in toy_encoder_decoder_plugin.cpp): requests
// with different images and prompts batched together answer exactly as each does alone; a repeated request
// reuses its cross-attention K/V by content without running the encoder; prefix caching off runs it again;
// after cancellations and a full cache every self and cross block is free again.
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

fs::path make_model() {
  const fs::path dir = fs::temp_directory_path() / "mmrt_toy_encoder_decoder";
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"architectures": ["ToyEncoderDecoder"], "eos_token_id": 2})";
  const fs::path tokenizer = fs::path(MMRT_SOURCE_DIR) / "tests" / "fixtures" / "llava" / "tokenizer";
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(tokenizer / f, dir / f, fs::copy_options::overwrite_existing);
  std::ofstream st(dir / "model.safetensors", std::ios::binary);
  const char header[] = "{}      ";
  const uint64_t len = 8;
  st.write(reinterpret_cast<const char*>(&len), 8);
  st.write(header, 8);
  return dir;
}

struct Loaded {
  plugin::PluginRegistry registry;
  std::unique_ptr<engine::Model> model;
};

Loaded load() {
  plugin::PluginSearch search;
  search.dirs = {TOY_PLUGIN_DIR};
  search.use_env = false;
  Loaded out{plugin::PluginRegistry::scan(search), nullptr};
  out.model = engine::Model::load({make_model(), "cpu"}, out.registry);
  return out;
}

image::Image solid(int32_t w, int32_t h, uint8_t red) {
  image::Image img = image::make_image(w, h);
  for (size_t i = 0; i < img.rgb.size(); i += 3) img.rgb[i] = red;
  return img;
}

struct Request {
  std::string prompt;
  std::vector<image::Image> images;
};

struct Outcome {
  std::vector<int32_t> tokens;
  engine::FinishReason finish = engine::FinishReason::none;
  std::string error;
};

void submit(engine::Engine& eng, engine::Model& model, const std::string& id, const Request& r, int32_t n,
            std::map<std::string, Outcome>& out) {
  engine::PreparedPrompt p = engine::prepare_prompt(model, r.prompt, r.images);
  engine::SamplingParams params;
  params.max_tokens = n;
  params.ignore_eos = true;
  eng.submit({id, std::move(p.prompt), std::move(p.items), params},
             [&out, id](const engine::RequestEvent& ev) {
               for (const auto& s : ev.samples) out[id].tokens.push_back(s.token);
               if (ev.finish != engine::FinishReason::none) {
                 out[id].finish = ev.finish;
                 out[id].error = ev.error;
               }
             });
}

std::vector<Request> eight_requests() {
  std::vector<Request> rs;
  for (int i = 0; i < 8; ++i) {
    Request r;
    r.prompt = "what is " + std::string(size_t(i + 1), 'a') + " here";
    r.images.push_back(solid(10 + i, 7, uint8_t(30 * i)));
    if (i % 3 == 0) r.images.push_back(solid(5, 5, uint8_t(200 - i)));
    rs.push_back(std::move(r));
  }
  return rs;
}

std::vector<int32_t> alone(engine::Model& model, const Request& r, int32_t n) {
  engine::EngineConfig config;
  config.block_size = 4;
  engine::Engine eng(model, config);
  std::map<std::string, Outcome> out;
  submit(eng, model, "alone", r, n, out);
  while (eng.step()) {
  }
  REQUIRE_MESSAGE(out["alone"].finish == engine::FinishReason::length, out["alone"].error);
  return out["alone"].tokens;
}

}  // namespace

TEST_CASE("encoder-decoder requests batch together exactly as they run alone") {
  Loaded m = load();
  REQUIRE(m.model->is_encoder_decoder());
  const std::vector<Request> rs = eight_requests();
  std::vector<std::vector<int32_t>> expected;
  for (const Request& r : rs) expected.push_back(alone(*m.model, r, 6));
  // Different requests must give different answers, or the comparison below would prove nothing.
  CHECK(expected[0] != expected[1]);

  engine::EngineConfig config;
  config.block_size = 4;
  config.max_batched_tokens = 64;
  engine::Engine eng(*m.model, config);
  std::map<std::string, Outcome> out;
  for (size_t i = 0; i < rs.size(); ++i) submit(eng, *m.model, "r" + std::to_string(i), rs[i], 6, out);
  while (eng.step()) {
  }
  for (size_t i = 0; i < rs.size(); ++i) {
    CAPTURE(i);
    CHECK(out["r" + std::to_string(i)].tokens == expected[i]);
  }
  const engine::EngineStats stats = eng.stats();
  CHECK(stats.kv_blocks_held == 0);
  CHECK(stats.cross_blocks_held == 0);
  CHECK(stats.cross_fills == 8);
}

TEST_CASE("a repeated encoder-decoder request reuses its cross K/V by content") {
  Loaded m = load();
  const Request r = eight_requests()[3];
  const std::vector<int32_t> expected = alone(*m.model, r, 5);
  for (const bool reuse : {true, false}) {
    CAPTURE(reuse);
    engine::EngineConfig config;
    config.block_size = 4;
    config.prefix_caching = reuse;
    engine::Engine eng(*m.model, config);
    std::map<std::string, Outcome> out;
    submit(eng, *m.model, "first", r, 5, out);
    while (eng.step()) {
    }
    const int64_t encoder_runs = eng.stats().encoder_runs;
    submit(eng, *m.model, "again", r, 5, out);
    Request other_question = r;
    other_question.prompt = "and what else";
    submit(eng, *m.model, "other", other_question, 5, out);
    while (eng.step()) {
    }
    CHECK(out["first"].tokens == expected);
    CHECK(out["again"].tokens == expected);
    CHECK(out["other"].tokens != expected);
    const engine::EngineStats stats = eng.stats();
    CHECK(stats.cross_cache_hits == (reuse ? 1 : 0));
    CHECK(stats.cross_fills == (reuse ? 2 : 3));
    // The vision encoder never runs again: a cross hit needs no memory at all, and the same image with
    // another question takes its embeddings from the encoder cache.
    CHECK(stats.encoder_runs == encoder_runs);
    const int64_t n_images = int64_t(r.images.size());
    CHECK(stats.encoder_cache_hits == n_images * (reuse ? 1 : 2));
    CHECK(stats.cross_blocks_held == 0);
  }
}

TEST_CASE("cancelled and refused encoder-decoder requests free every self and cross block") {
  Loaded m = load();
  engine::EngineConfig config;
  config.block_size = 4;
  config.kv_cache_bytes = 40 * 2 * 4 * 4 * 4;  // 20 cross blocks and 20 self blocks of 4 slots
  engine::Engine eng(*m.model, config);
  const std::vector<Request> rs = eight_requests();
  std::map<std::string, Outcome> out;
  for (size_t i = 0; i < rs.size(); ++i) submit(eng, *m.model, "r" + std::to_string(i), rs[i], 12, out);
  eng.step();
  eng.cancel("r1");
  eng.cancel("r6");
  while (eng.step()) {
  }
  CHECK(out["r1"].finish == engine::FinishReason::abort);
  CHECK(out["r6"].finish == engine::FinishReason::abort);
  int finished = 0;
  for (const auto& [id, o] : out) finished += o.finish == engine::FinishReason::length;
  CHECK(finished == 6);
  const engine::EngineStats stats = eng.stats();
  CHECK(stats.kv_blocks_held == 0);
  CHECK(stats.cross_blocks_held == 0);
  CHECK(stats.cross_blocks_total == 20);
}
