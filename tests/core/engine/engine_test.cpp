// The engine against Transformers' greedy goldens (LLaVA, and BLIP-2 under batching) under the conditions
// serving creates: many requests in one batch, prompts prefilled in small chunks, a KV cache too small for
// everyone (preemption), repeated images (prefix and encoder cache reuse), cancellation and refusal. Every
// answer must stay identical to the single-request golden, and every KV block must come back.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/engine/engine.hpp"
#include "core/engine/prompt.hpp"
#include "core/image/decode.hpp"
#include "core/plugin/plugin_registry.hpp"

namespace fs = std::filesystem;
using namespace mmrt;

namespace {

const fs::path kFixtures = fs::path(MMRT_SOURCE_DIR) / "tests" / "fixtures";

// "llava/llava_default" -> tests/fixtures/llava, whose goldens.json and images/ the model's cases use.
fs::path family_dir(const std::string& model) {
  return kFixtures / fs::path(model).parent_path();
}

struct Golden {
  std::string name;
  std::vector<image::Image> images;
  std::string prompt;
  bool chat;
  int32_t max_tokens;
  std::vector<int32_t> token_ids;
  std::string text;
};

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<Golden> goldens_for(const std::string& model) {
  const fs::path dir = family_dir(model);
  std::ifstream in(dir / "goldens.json");
  std::stringstream s;
  s << in.rdbuf();
  const boost::json::value all = boost::json::parse(s.str());
  std::vector<Golden> out;
  for (const auto& v : all.as_array()) {
    const auto& c = v.as_object();
    if (c.at("model").as_string() != fs::path(model).filename().string()) continue;
    Golden g;
    g.name = std::string(c.at("name").as_string());
    g.chat = c.at("chat").as_bool();
    g.prompt = std::string(g.chat ? c.at("chat_messages_text").as_string() : c.at("prompt").as_string());
    g.max_tokens = int32_t(c.at("max_tokens").as_int64());
    g.token_ids = boost::json::value_to<std::vector<int32_t>>(c.at("token_ids"));
    g.text = std::string(c.at("text").as_string());
    for (const auto& img : c.at("images").as_array()) {
      g.images.push_back(image::decode_image(read_bytes(dir / std::string(img.as_string()))));
    }
    out.push_back(std::move(g));
  }
  return out;
}

struct Loaded {
  plugin::PluginRegistry registry;
  std::unique_ptr<engine::Model> model;
};

// A model folder under tests/fixtures, e.g. "llava/llava_default".
Loaded load(const std::string& model) {
  plugin::PluginSearch search;
  search.dirs = {fs::path(MMRT_BINARY_DIR) / "lib" / "mmrt" / "plugins"};
  search.use_env = false;
  Loaded out{plugin::PluginRegistry::scan(search), nullptr};
  out.model = engine::Model::load({kFixtures / model, "cpu"}, out.registry);
  return out;
}

engine::RequestInput make_input(const engine::Model& model, const Golden& g, const std::string& id) {
  std::string text =
      g.chat ? engine::render_chat(model, engine::single_turn_messages(g.prompt, g.images.size())) : g.prompt;
  engine::PreparedPrompt p = engine::prepare_prompt(model, text, g.images);
  engine::SamplingParams params;
  params.max_tokens = g.max_tokens;
  return {id, std::move(p.prompt), std::move(p.items), params};
}

struct Outcome {
  std::vector<int32_t> tokens;
  std::string text;
  engine::FinishReason finish = engine::FinishReason::none;
  int64_t cached_tokens = 0;
};

// Submits every request at once and steps the engine until all are done.
std::map<std::string, Outcome> run_all(engine::Engine& eng, std::vector<engine::RequestInput> inputs) {
  std::map<std::string, Outcome> out;
  for (auto& in : inputs) {
    const std::string id = in.id;
    eng.submit(std::move(in), [&out, id](const engine::RequestEvent& ev) {
      Outcome& o = out[id];
      for (const auto& s : ev.samples) o.tokens.push_back(s.token);
      o.text += ev.text_delta;
      if (ev.finish != engine::FinishReason::none) {
        o.finish = ev.finish;
        o.cached_tokens = ev.cached_tokens;
      }
    });
  }
  int guard = 0;
  while (eng.step() && ++guard < 10000) {
  }
  return out;
}

void check_against_goldens(const std::vector<Golden>& goldens, const std::map<std::string, Outcome>& got,
                           int copies) {
  for (const auto& g : goldens) {
    for (int c = 0; c < copies; ++c) {
      const std::string id = g.name + "#" + std::to_string(c);
      CAPTURE(id);
      REQUIRE(got.count(id));
      CHECK(got.at(id).tokens == g.token_ids);
      CHECK(got.at(id).text == g.text);
      CHECK(got.at(id).finish != engine::FinishReason::none);
    }
  }
}

std::vector<engine::RequestInput> inputs_for(const engine::Model& model, const std::vector<Golden>& goldens,
                                             int copies) {
  std::vector<engine::RequestInput> inputs;
  for (int c = 0; c < copies; ++c) {
    for (const auto& g : goldens) inputs.push_back(make_input(model, g, g.name + "#" + std::to_string(c)));
  }
  return inputs;
}

}  // namespace

TEST_CASE("one batch of many requests gives each its single-request answer") {
  Loaded m = load("llava/llava_default");
  const auto goldens = goldens_for("llava/llava_default");
  REQUIRE(goldens.size() >= 4);
  engine::Engine eng(*m.model, {});
  const auto got = run_all(eng, inputs_for(*m.model, goldens, 3));
  check_against_goldens(goldens, got, 3);
  CHECK(eng.stats().kv_blocks_held == 0);
}

TEST_CASE("chunked prefill with a tiny token budget changes nothing") {
  Loaded m = load("llava/llava_gqa_full");
  const auto goldens = goldens_for("llava/llava_gqa_full");
  engine::EngineConfig config;
  config.max_batched_tokens = 5;
  config.block_size = 4;
  engine::Engine eng(*m.model, config);
  const auto got = run_all(eng, inputs_for(*m.model, goldens, 1));
  check_against_goldens(goldens, got, 1);
  CHECK(eng.stats().kv_blocks_held == 0);
}

TEST_CASE(
    "BLIP-2: many requests in one batch, prefilled in small chunks, give their single-request answers") {
  for (const char* name : {"blip2_opt", "blip2_opt_tied"}) {
    CAPTURE(name);
    Loaded m = load(std::string("blip2/") + name);
    const auto goldens = goldens_for(std::string("blip2/") + name);
    REQUIRE(goldens.size() >= 3);
    engine::EngineConfig config;
    config.max_batched_tokens = 7;  // query rows and text split across chunks, decode steps mixed in
    config.block_size = 4;
    engine::Engine eng(*m.model, config);
    const auto got = run_all(eng, inputs_for(*m.model, goldens, 2));
    check_against_goldens(goldens, got, 2);
    CHECK(eng.stats().kv_blocks_held == 0);
  }
}

TEST_CASE("a KV cache too small for everyone preempts and still answers correctly") {
  Loaded m = load("llava/llava_default");
  const auto goldens = goldens_for("llava/llava_default");
  engine::EngineConfig config;
  config.block_size = 4;
  config.n_blocks = 24;  // the longest request needs ~15 blocks; six requests cannot run together
  config.prefix_caching = false;
  engine::Engine eng(*m.model, config);
  const auto got = run_all(eng, inputs_for(*m.model, goldens, 2));
  check_against_goldens(goldens, got, 2);
  const auto stats = eng.stats();
  CHECK(stats.preempted > 0);
  CHECK(stats.kv_blocks_held == 0);
}

TEST_CASE("a repeated image and prompt reuses cached blocks and encodings; a different image does not") {
  Loaded m = load("llava/llava_default");
  const auto goldens = goldens_for("llava/llava_default");
  const Golden& g = goldens.at(0);
  REQUIRE(g.images.size() == 1);
  engine::EngineConfig config;
  config.block_size = 4;
  engine::Engine eng(*m.model, config);

  auto first = run_all(eng, {make_input(*m.model, g, "first")});
  CHECK(first["first"].tokens == g.token_ids);
  CHECK(first["first"].cached_tokens == 0);
  auto second = run_all(eng, {make_input(*m.model, g, "second")});
  CHECK(second["second"].tokens == g.token_ids);
  const int64_t prompt_len = int64_t(make_input(*m.model, g, "x").prompt.ids.size());
  CHECK(second["second"].cached_tokens == (prompt_len - 1) / 4 * 4);
  CHECK(eng.stats().encoder_cache_hits == 0);  // the whole image was inside cached blocks: no encoding needed

  Golden other = g;
  other.images = goldens.at(4).images;  // another picture, same text
  REQUIRE(other.images.size() == 1);
  auto third = run_all(eng, {make_input(*m.model, other, "third")});
  // Only the block before the image (BOS, "USER", ":") could match; the image's blocks must not.
  CHECK(third["third"].cached_tokens == 0);
  CHECK(eng.stats().kv_blocks_held == 0);
}

// Qwen2-VL's three-row M-RoPE positions come from the padder for prompt tokens and from index + delta for
// generated ones; batching, tiny prefill chunks and cached prefixes must all hand the decoder the same rows.
TEST_CASE("Qwen2-VL: M-RoPE positions survive batching, chunked prefill and prefix reuse") {
  Loaded m = load("qwen2_vl/qwen2_vl_hub");
  const auto goldens = goldens_for("qwen2_vl/qwen2_vl_hub");
  REQUIRE(goldens.size() >= 5);
  engine::EngineConfig config;
  config.max_batched_tokens = 7;
  config.block_size = 4;
  engine::Engine eng(*m.model, config);
  check_against_goldens(goldens, run_all(eng, inputs_for(*m.model, goldens, 2)), 2);

  const Golden& g = goldens.at(3);  // two images
  REQUIRE(g.images.size() == 2);
  auto again = run_all(eng, {make_input(*m.model, g, "again")});
  CHECK(again["again"].tokens == g.token_ids);
  CHECK(again["again"].cached_tokens > 0);
  CHECK(eng.stats().kv_blocks_held == 0);
}

TEST_CASE("a cancelled request ends with abort and frees its blocks") {
  Loaded m = load("llava/llava_default");
  const auto goldens = goldens_for("llava/llava_default");
  engine::Engine eng(*m.model, {});
  engine::RequestInput in = make_input(*m.model, goldens.at(0), "c");
  in.params.max_tokens = 200;
  engine::FinishReason finish = engine::FinishReason::none;
  int64_t produced = 0;
  eng.submit(std::move(in), [&](const engine::RequestEvent& ev) {
    produced += int64_t(ev.samples.size());
    if (ev.finish != engine::FinishReason::none) finish = ev.finish;
  });
  eng.step();
  eng.step();
  eng.cancel("c");
  while (eng.step()) {
  }
  CHECK(finish == engine::FinishReason::abort);
  CHECK(produced < 200);
  CHECK(eng.stats().kv_blocks_held == 0);
}

TEST_CASE("stop strings cut the text where they first appear") {
  Loaded m = load("llava/llava_default");
  const Golden g = goldens_for("llava/llava_default").at(0);
  REQUIRE(g.text.size() > 6);
  const std::string stop = g.text.substr(4, 3);
  engine::Engine eng(*m.model, {});
  engine::RequestInput in = make_input(*m.model, g, "s");
  in.params.stop = {stop};
  auto got = run_all(eng, {});
  got.clear();
  std::vector<engine::RequestInput> inputs;
  inputs.push_back(std::move(in));
  got = run_all(eng, std::move(inputs));
  CHECK(got["s"].finish == engine::FinishReason::stop);
  CHECK(got["s"].text == g.text.substr(0, g.text.find(stop)));
}

TEST_CASE("requests that can never fit, or are malformed, are refused at submit") {
  Loaded m = load("llava/llava_default");
  const Golden g = goldens_for("llava/llava_default").at(0);
  engine::EngineConfig config;
  config.block_size = 4;
  config.n_blocks = 8;
  engine::Engine eng(*m.model, config);
  engine::RequestInput big = make_input(*m.model, g, "big");
  big.params.max_tokens = 100;
  CHECK_THROWS_AS(eng.submit(std::move(big), [](const engine::RequestEvent&) {}), engine::EngineError);
  engine::RequestInput bad = make_input(*m.model, g, "bad");
  bad.prompt.ids[1] = 1 << 20;
  CHECK_THROWS_AS(eng.submit(std::move(bad), [](const engine::RequestEvent&) {}), engine::EngineError);
  engine::RequestInput empty = make_input(*m.model, g, "empty");
  empty.params.top_p = 2.0f;
  CHECK_THROWS_AS(eng.submit(std::move(empty), [](const engine::RequestEvent&) {}), engine::EngineError);
  CHECK(eng.stats().kv_blocks_held == 0);
}
