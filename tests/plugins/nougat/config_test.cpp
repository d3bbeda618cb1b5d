// Config parsing against the fixture checkpoints, the weight table against the tensor names Transformers
// saved, and the padder's contract; none of these needs a host.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "fake_weights.hpp"
#include "mmrt/json.hpp"
#include "model.hpp"
#include "padder.hpp"
#include "processor.hpp"
#include "swin.hpp"

using mmrt::nougat::NougatConfig;
using mmrt::sdk::Error;
using mmrt::test::FakeWeights;

namespace {

std::string fixture(const std::string& relative) {
  std::ifstream in(std::string(MMRT_SOURCE_DIR) + "/tests/fixtures/nougat/" + relative, std::ios::binary);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The tensor names and shapes of a safetensors file (its JSON header), as f32 fake weights.
FakeWeights safetensors_shapes(const std::string& relative) {
  const std::string bytes = fixture(relative);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);  // little-endian u64
  const mmrt::sdk::json::Value header = mmrt::sdk::json::parse(bytes.substr(8, n), relative);
  FakeWeights w;
  for (const auto& [name, info] : header.as_object()) {
    if (name == "__metadata__") continue;
    std::vector<int64_t> shape;
    for (const mmrt::sdk::json::Value& d : info.find("shape")->as_array()) shape.push_back(d.as_int());
    w.shapes[name] = shape;
  }
  return w;
}

std::string load(const NougatConfig& config, FakeWeights& weights) {
  try {
    mmrt::sdk::Weights w(FakeWeights::api(), weights.handle(), weights.dtype,
                         mmrt::nougat::checkpoint_layouts());
    mmrt::nougat::NougatModel model(config, w, mmrt::sdk::kCpu);
    w.finish();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string parse_error(const std::string& json) {
  try {
    mmrt::nougat::parse_nougat_config(json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("nougat config: the fixture checkpoints") {
  const NougatConfig a = mmrt::nougat::parse_nougat_config(fixture("nougat_a/config.json"));
  CHECK(a.encoder.embed_dim == 16);
  CHECK(a.encoder.depths == std::vector<int64_t>{2, 2, 2});
  CHECK(a.encoder.num_heads == std::vector<int64_t>{2, 4, 8});
  CHECK(a.encoder.window_size == 3);
  CHECK(a.encoder.patch_size == 4);
  CHECK(a.encoder.hidden_size() == 64);
  CHECK(a.encoder.stage_mlp_dim(1) == 128);
  CHECK(a.decoder.d_model == 64);
  CHECK(a.decoder.decoder_layers == 2);
  CHECK(a.decoder.vocab_size == 320);
  CHECK(a.decoder.max_position_embeddings == 64);
  CHECK(a.decoder.scale_embedding);
  CHECK_FALSE(a.decoder.tie_word_embeddings);
  CHECK(a.decoder_start_token_id == 0);
  CHECK_FALSE(a.has_enc_to_dec_proj());
  // 64x48 pages: grids 16x12, 8x6, 4x3.
  const auto grids = mmrt::nougat::swin_stage_grids(a.encoder, 64, 48);
  REQUIRE(grids.size() == 3);
  CHECK(grids[1].height == 8);
  CHECK(grids[2].width == 3);
  CHECK(mmrt::nougat::swin_output_rows(a.encoder, 64, 48) == 12);

  const NougatConfig b = mmrt::nougat::parse_nougat_config(fixture("nougat_b/config.json"));
  CHECK(b.encoder.hidden_size() == 32);
  CHECK(b.decoder.d_model == 48);
  CHECK(b.has_enc_to_dec_proj());
  CHECK(b.decoder.tie_word_embeddings);
  CHECK_FALSE(b.decoder.scale_embedding);
  // 72x56 pages: 18x14 -> 9x7 -> 5x4 (odd grids padded by the merging).
  CHECK(mmrt::nougat::swin_output_rows(b.encoder, 72, 56) == 20);
  // nougat-base's geometry: 896x672 -> 224x168, 112x84, 56x42, 28x21: 588 memory rows.
  const NougatConfig base = mmrt::nougat::parse_nougat_config(fixture("nougat_base_geometry/config.json"));
  CHECK(base.encoder.window_size == 7);
  CHECK(mmrt::nougat::swin_stage_grids(base.encoder, 896, 672)[2].width == 42);
  CHECK(mmrt::nougat::swin_output_rows(base.encoder, 896, 672) == 588);
}

TEST_CASE("nougat config: unsupported or inconsistent settings name the key") {
  CHECK(parse_error(R"({"encoder": {"model_type": "swin"}, "decoder": {"add_cross_attention": true}})") ==
        "encoder.model_type: encoder 'swin' is not supported (donut-swin)");
  CHECK(parse_error(R"({"decoder": {"add_cross_attention": true, "model_type": "bart"}})") ==
        "decoder.model_type: decoder 'bart' is not supported (mbart)");
  CHECK(parse_error(R"({"decoder": {}})") ==
        "decoder.add_cross_attention: must be true: the decoder attends to the image");
  CHECK(parse_error(
            R"({"encoder": {"use_absolute_embeddings": true}, "decoder": {"add_cross_attention": true}})") ==
        "encoder.use_absolute_embeddings: absolute position embeddings are not supported");
  CHECK(
      parse_error(
          R"({"encoder": {"depths": [2, 2], "num_heads": [3]}, "decoder": {"add_cross_attention": true}})") ==
      "encoder.depths: has 2 stages, num_heads has 1");
  CHECK(parse_error(R"({"decoder": {"add_cross_attention": true, "activation_function": "mish"}})") ==
        "decoder.activation_function: activation 'mish' is not supported");
  CHECK(parse_error(R"({"decoder_start_token_id": 99999, "decoder": {"add_cross_attention": true}})") ==
        "decoder_start_token_id: 99999 is not an id of the 50265-token vocabulary");
}

TEST_CASE("nougat weights: both fixture checkpoints load completely") {
  for (const char* folder : {"nougat_a", "nougat_b", "nougat_base_geometry"}) {
    CAPTURE(folder);
    const NougatConfig config =
        mmrt::nougat::parse_nougat_config(fixture(std::string(folder) + "/config.json"));
    FakeWeights w = safetensors_shapes(std::string(folder) + "/model.safetensors");
    CHECK(load(config, w) == "");
    for (const std::string& name : w.ignored) {
      CAPTURE(name);  // only the integer relative position index buffers are skipped
      CHECK(name.find("attention.self.relative_position_index") != std::string::npos);
    }
    int64_t n_blocks = 0;
    for (int64_t d : config.encoder.depths) n_blocks += d;
    CHECK(static_cast<int64_t>(w.ignored.size()) == n_blocks);
  }
}

TEST_CASE("nougat weights: mismatches fail with the tensor named") {
  const NougatConfig a = mmrt::nougat::parse_nougat_config(fixture("nougat_a/config.json"));
  SUBCASE("a missing tensor") {
    FakeWeights w = safetensors_shapes("nougat_a/model.safetensors");
    w.shapes.erase("decoder.model.decoder.layers.1.encoder_attn.k_proj.weight");
    CHECK(load(a, w) == "checkpoint lacks tensor decoder.model.decoder.layers.1.encoder_attn.k_proj.weight");
  }
  SUBCASE("a tensor nobody claims") {
    FakeWeights w = safetensors_shapes("nougat_a/model.safetensors");
    w.shapes["encoder.layernorm.weight"] = {64};
    CHECK(load(a, w).find("encoder.layernorm.weight") != std::string::npos);
  }
  SUBCASE("a config that disagrees with the checkpoint") {
    FakeWeights w = safetensors_shapes("nougat_a/model.safetensors");
    NougatConfig wrong = a;
    wrong.encoder.window_size = 7;
    CHECK(load(wrong, w) ==
          "tensor encoder.encoder.layers.0.blocks.0.attention.self.relative_position_bias_table has shape "
          "[25, 2], "
          "the config implies [169, 2]");
  }
  SUBCASE("a tied config of an untied checkpoint") {
    FakeWeights w = safetensors_shapes("nougat_a/model.safetensors");
    NougatConfig tied = a;
    tied.decoder.tie_word_embeddings = true;
    CHECK(load(tied, w) == "");  // the stored head is then ignored, as Transformers ties over it
    CHECK(w.ignored.count("decoder.lm_head.weight") == 1);
  }
}

TEST_CASE("nougat processor config: the fixture files and a bad size") {
  const mmrt::nougat::NougatProcessorConfig a =
      mmrt::nougat::parse_nougat_processor_config(fixture("nougat_a/preprocessor_config.json"));
  CHECK(a.height == 64);
  CHECK(a.width == 48);
  CHECK(a.resample == MMRT_RESAMPLE_BILINEAR);
  CHECK(a.do_crop_margin);
  CHECK_FALSE(a.do_align_long_axis);
  CHECK(a.image_std[2] == doctest::Approx(0.225));
  CHECK_THROWS_WITH_AS(mmrt::nougat::parse_nougat_processor_config(R"({"size": {"shortest_edge": 5}})"),
                       "size: expected {\"height\": ..., \"width\": ...}", Error);
}

TEST_CASE("nougat padder: one page and no text give an empty decoder prompt") {
  struct Sink {
    int calls = 0;
    int64_t n_ids = -1, n_ranges = -1;
  } sink;
  auto emit = [](void* ctx, const int32_t*, int64_t n_ids, const MmrtPlaceholderRange*, int64_t n_ranges) {
    auto* s = static_cast<Sink*>(ctx);
    ++s->calls;
    s->n_ids = n_ids;
    s->n_ranges = n_ranges;
    return static_cast<MmrtStatus*>(nullptr);
  };
  const int64_t n_tokens[2] = {12, 12};
  const int32_t empty_text[2] = {0, 2};  // the tokenizer's <s> </s> around an empty text
  const int32_t text[3] = {0, 130, 2};
  MmrtPadArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtPadArgs, emit);
  args.item_n_tokens = n_tokens;
  args.n_items = 1;
  args.host_ctx = &sink;
  args.emit = emit;
  mmrt::nougat::NougatPadder padder(0, 2);
  padder.expand(args);
  CHECK(sink.calls == 1);
  CHECK(sink.n_ids == 0);
  CHECK(sink.n_ranges == 0);
  args.ids = empty_text;
  args.n_ids = 2;
  padder.expand(args);
  CHECK(sink.calls == 2);
  CHECK(sink.n_ids == 0);

  args.n_items = 2;
  CHECK_THROWS_WITH_AS(padder.expand(args), "Nougat reads exactly one page per request, 2 were given", Error);
  args.n_items = 1;
  args.ids = text;
  args.n_ids = 3;
  CHECK_THROWS_WITH_AS(padder.expand(args),
                       "Nougat takes no text prompt (the prompt has 1 text token(s)); send the page alone",
                       Error);
  CHECK(sink.calls == 2);
}
