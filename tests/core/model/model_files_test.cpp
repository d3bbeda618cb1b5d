// ModelFiles and normalize_rope over tests/fixtures/model_configs
// (tools/fixtures/make_model_config_fixtures.py): one tiny LLaVA written by Transformers v5 and the same
// settings in the v4 layout must read the same.
#include "core/model/model_files.hpp"

#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include "core/model/model_error.hpp"

namespace {

using mmrt::model::ModelError;
using mmrt::model::ModelFiles;
using mmrt::model::normalize_rope;

const std::filesystem::path kFixtures =
    std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/model_configs";

// A scratch model folder under the build tree, emptied on creation.
std::filesystem::path scratch_dir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(MMRT_BINARY_DIR) / "test_scratch/model_files" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file) << text;
}

}  // namespace

TEST_CASE("v4 and v5 layouts of one model give the same normalised view") {
  ModelFiles v4 = ModelFiles::load(kFixtures / "llava_v4");
  ModelFiles v5 = ModelFiles::load(kFixtures / "llava_v5");
  for (const ModelFiles* files : {&v4, &v5}) {
    CAPTURE(files->dir);
    CHECK(files->architectures == std::vector<std::string>{"LlavaForConditionalGeneration"});
    CHECK(files->model_type == "llava");
    CHECK(files->has_processor_config);
    CHECK(files->has_tokenizer_config);
    CHECK(files->processor_config.at("patch_size") == 10);
  }

  boost::json::object text_v4 = normalize_rope(v4.sub_config("text_config"));
  boost::json::object text_v5 = normalize_rope(v5.sub_config("text_config"));
  for (const boost::json::object* text : {&text_v4, &text_v5}) {
    CHECK(text->at("rope_theta") == 1000000.0);
    CHECK(text->at("rope_scaling") == boost::json::object{{"rope_type", "linear"}, {"factor", 2.0}});
    CHECK_FALSE(text->contains("rope_parameters"));
    CHECK(text->at("hidden_size") == 64);
  }

  // v4: preprocessor_config.json; v5: processor_config.json["image_processor"]. Same settings either way.
  CHECK(v4.preprocessor_config_file == kFixtures / "llava_v4/preprocessor_config.json");
  CHECK(v5.preprocessor_config_file == kFixtures / "llava_v5/processor_config.json");
  CHECK(v4.preprocessor_config == v5.preprocessor_config);
  CHECK(v5.preprocessor_config.at("crop_size") == boost::json::object{{"height", 30}, {"width", 30}});
  CHECK(v5.preprocessor_config.at("image_processor_type") == "CLIPImageProcessor");
}

TEST_CASE("eos_token_ids: generation_config.json list, else config.json top level, else text_config") {
  CHECK(ModelFiles::load(kFixtures / "llava_v5").eos_token_ids == std::vector<int32_t>{2, 7});
  CHECK(ModelFiles::load(kFixtures / "llava_v4").eos_token_ids == std::vector<int32_t>{2});
  ModelFiles flat = ModelFiles::load(kFixtures / "flat_v4");
  CHECK(flat.eos_token_ids == std::vector<int32_t>{151645});
  CHECK(flat.generation_config.empty());
  CHECK(flat.preprocessor_config.empty());
  CHECK(flat.preprocessor_config_file.empty());
  CHECK_FALSE(flat.has_processor_config);
  CHECK_FALSE(flat.has_tokenizer_config);
  CHECK(flat.sub_config("text_config").empty());
  CHECK(flat.sub_config("vision_config").at("spatial_patch_size") == 14);
}

TEST_CASE("normalize_rope on flat and default configs") {
  boost::json::object flat = normalize_rope(ModelFiles::load(kFixtures / "flat_v4").config);
  CHECK(flat.at("rope_theta") == 1000000.0);
  CHECK(flat.at("rope_scaling").is_null());

  SUBCASE("no RoPE keys at all take HF's default theta") {
    boost::json::object result = normalize_rope({{"hidden_size", 8}});
    CHECK(result.at("rope_theta") == 10000.0);
    CHECK(result.at("rope_scaling").is_null());
  }
  SUBCASE("v5 default rope_parameters become null rope_scaling, integer theta becomes a double") {
    boost::json::object result =
        normalize_rope({{"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 500000}}}});
    CHECK(result.at("rope_theta").is_double());
    CHECK(result.at("rope_theta") == 500000.0);
    CHECK(result.at("rope_scaling").is_null());
  }
  SUBCASE("partial_rotary_factor moves out of rope_parameters") {
    boost::json::object result =
        normalize_rope({{"rope_parameters",
                         {{"rope_type", "default"}, {"rope_theta", 1e4}, {"partial_rotary_factor", 0.5}}}});
    CHECK(result.at("partial_rotary_factor") == 0.5);
    CHECK(result.at("rope_scaling").is_null());
  }
  SUBCASE("v4 mrope keeps its section, with type renamed") {
    boost::json::object result = normalize_rope(
        {{"rope_theta", 1e6}, {"rope_scaling", {{"type", "mrope"}, {"mrope_section", {16, 24, 24}}}}});
    CHECK(result.at("rope_scaling") ==
          boost::json::object{{"rope_type", "mrope"}, {"mrope_section", {16, 24, 24}}});
  }
  SUBCASE("wrong types and per-layer-type parameters are errors") {
    CHECK_THROWS_WITH_AS(normalize_rope({{"rope_scaling", "linear"}}, "cfg.json"),
                         "cfg.json: \"rope_scaling\" must be an object or null", ModelError);
    CHECK_THROWS_WITH_AS(normalize_rope({{"rope_theta", "big"}}, "cfg.json"),
                         "cfg.json: rope_theta: expected a number, got string", ModelError);
    CHECK_THROWS_AS(normalize_rope({{"rope_parameters",
                                     {{"full_attention", {{"rope_type", "default"}}},
                                      {"sliding_attention", {{"rope_type", "default"}}}}}}),
                    ModelError);
  }
}

TEST_CASE("a missing or broken config.json fails naming the file") {
  std::filesystem::path dir = scratch_dir("broken_config");
  CHECK_THROWS_WITH_AS(ModelFiles::load(dir), ((dir / "config.json").string() + ": file not found").c_str(),
                       ModelError);
  write_file(dir / "config.json", "{\"model_type\": ");
  CHECK_THROWS_WITH_AS(ModelFiles::load(dir),
                       doctest::Contains(((dir / "config.json").string() + ": invalid JSON").c_str()),
                       ModelError);
  write_file(dir / "config.json", "[1]");
  CHECK_THROWS_WITH_AS(
      ModelFiles::load(dir),
      ((dir / "config.json").string() + ": expected a JSON object at the top level, got array").c_str(),
      ModelError);
  write_file(dir / "config.json", R"({"model_type": 7})");
  CHECK_THROWS_WITH_AS(
      ModelFiles::load(dir),
      ((dir / "config.json").string() + ": model_type: expected a string, got int64").c_str(), ModelError);
  write_file(dir / "config.json", R"({"text_config": [1]})");
  CHECK_THROWS_WITH_AS(ModelFiles::load(dir).sub_config("text_config"),
                       ((dir / "config.json").string() + ": \"text_config\" is not an object").c_str(),
                       ModelError);
}

TEST_CASE("optional files that exist must be valid too") {
  std::filesystem::path dir = scratch_dir("broken_optional");
  write_file(dir / "config.json", R"({"model_type": "llava"})");
  write_file(dir / "generation_config.json", R"({"eos_token_id": "two"})");
  CHECK_THROWS_WITH_AS(ModelFiles::load(dir),
                       ((dir / "generation_config.json").string() +
                        ": eos_token_id must be a token id or a list of them, got \"two\"")
                           .c_str(),
                       ModelError);
  write_file(dir / "generation_config.json", R"({"eos_token_id": null})");
  write_file(dir / "processor_config.json", R"({"image_processor": 3})");
  CHECK_THROWS_WITH_AS(
      ModelFiles::load(dir),
      ((dir / "processor_config.json").string() + ": \"image_processor\" is not an object").c_str(),
      ModelError);
  write_file(dir / "processor_config.json", "not json");
  CHECK_THROWS_WITH_AS(
      ModelFiles::load(dir),
      doctest::Contains(((dir / "processor_config.json").string() + ": invalid JSON").c_str()), ModelError);
}

TEST_CASE("config_view reads typed fields with the file and key path in errors") {
  ModelFiles files = ModelFiles::load(kFixtures / "llava_v4");
  mmrt::util::JsonObjectView config = files.config_view();
  CHECK(config.get_int("image_token_index") == 3);
  CHECK(config.get_object("text_config").get_double("rms_norm_eps") == 1e-6);
  CHECK(config.get_object("vision_config").get_int("patch_size", 14) == 10);
  CHECK(config.get_object("text_config").get_int("head_dim", 16) == 16);
  CHECK_THROWS_WITH_AS(config.get_object("text_config").get_string("hidden_size"),
                       ((kFixtures / "llava_v4/config.json").string() +
                        ": text_config.hidden_size: expected a string, got int64")
                           .c_str(),
                       mmrt::util::JsonError);
}
