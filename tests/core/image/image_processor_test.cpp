// Image processors against transformers' PIL-backend processors (pixel_values and image_grid_thw).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include "core/image/decode.hpp"
#include "core/image/image_processor.hpp"
#include "core/image/qwen2_vl_image_processor.hpp"
#include "core/util/json.hpp"
#include "fixtures.hpp"

namespace mmrt::image {
namespace {

boost::json::object config_named(const std::string& name) {
  return util::read_json_object(test::fixture_dir() / "configs" / (name + ".json"));
}

TEST_CASE("processors match transformers' pixel_values on every fixture") {
  const auto& cases = test::manifest().at("process").as_array();
  REQUIRE(cases.size() > 40);
  std::map<std::string, std::unique_ptr<ImageProcessor>> processors;
  double worst_max = 0.0, worst_mean = 0.0;
  size_t n_exact = 0;
  for (const auto& value : cases) {
    const auto& entry = value.as_object();
    const std::string name(entry.at("case").as_string()), config(entry.at("config").as_string());
    CAPTURE(name);
    auto& processor = processors[config];
    if (!processor) processor = make_image_processor(config_named(config));
    const Image image = decode_image(
        test::read_bytes(test::fixture_dir() / "sources" / std::string(entry.at("image").as_string())));
    const ProcessedImage out = processor->process(image);

    std::vector<int64_t> shape;
    for (const auto& d : entry.at("shape").as_array()) shape.push_back(d.as_int64());
    CHECK(out.shape == shape);
    std::vector<int64_t> grid;
    if (entry.contains("grid_thw")) {
      for (const auto& d : entry.at("grid_thw").as_array()) grid.push_back(d.as_int64());
    }
    CHECK(out.grid_thw == grid);
    const std::vector<float> expected =
        test::read_floats(test::fixture_dir() / "processed" / (name + ".f32"));
    REQUIRE(out.pixel_values.size() == expected.size());
    double max_diff = 0.0, sum_diff = 0.0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const double diff = std::abs(static_cast<double>(out.pixel_values[i]) - expected[i]);
      max_diff = std::max(max_diff, diff);
      sum_diff += diff;
    }
    const double mean_diff = sum_diff / expected.size();
    CHECK(max_diff <= 0.02);
    CHECK(mean_diff <= 0.002);
    n_exact += max_diff == 0.0;
    worst_max = std::max(worst_max, max_diff);
    worst_mean = std::max(worst_mean, mean_diff);
  }
  MESSAGE("processor parity: " << n_exact << "/" << cases.size() << " cases bit-exact; worst max |diff| "
                               << worst_max << ", worst mean |diff| " << worst_mean);
}

TEST_CASE("fingerprints name every setting and differ between configs") {
  const auto clip = make_image_processor(config_named("clip_336"));
  const auto clip_small = make_image_processor(config_named("clip_32"));
  CHECK(clip->fingerprint() != clip_small->fingerprint());
  CHECK(clip->fingerprint().find("shortest_edge=336") != std::string::npos);
  CHECK(clip->fingerprint() == make_image_processor(config_named("clip_336"))->fingerprint());
  const auto qwen = make_image_processor(config_named("qwen2_vl_small"));
  CHECK(qwen->fingerprint().find("max_pixels=4704") != std::string::npos);
}

TEST_CASE("processor type selection and config errors") {
  boost::json::object config = config_named("clip_32");
  config["image_processor_type"] = "CLIPImageProcessorFast";
  CHECK(make_image_processor(config)->fingerprint().starts_with("CLIPImageProcessor("));
  config.erase("image_processor_type");
  config["feature_extractor_type"] = "CLIPFeatureExtractor";
  CHECK(make_image_processor(config)->fingerprint().starts_with("CLIPImageProcessor("));
  config["feature_extractor_type"] = "SiglipImageProcessor";
  CHECK_THROWS_WITH_AS(make_image_processor(config), doctest::Contains("SiglipImageProcessor"), ImageError);
  config["feature_extractor_type"] = "CLIPImageProcessor";
  config["resample"] = "bicubic";
  CHECK_THROWS_WITH_AS(make_image_processor(config), doctest::Contains("resample"), util::JsonError);
  config["resample"] = 3;
  config["image_mean"] = boost::json::array{0.5, 0.5};
  CHECK_THROWS_WITH_AS(make_image_processor(config), doctest::Contains("image_mean"), util::JsonError);
}

TEST_CASE("load_preprocessor_config reads both hub layouts") {
  const auto dir = std::filesystem::temp_directory_path() / "mmrt_image_processor_config_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  CHECK_THROWS_AS(load_preprocessor_config(dir), util::JsonError);
  std::ofstream(dir / "processor_config.json")
      << R"({"processor_class": "LlavaProcessor", "image_processor": {"image_processor_type": "BlipImageProcessor"}})";
  CHECK(load_preprocessor_config(dir).at("image_processor_type").as_string() == "BlipImageProcessor");
  std::ofstream(dir / "preprocessor_config.json") << R"({"image_processor_type": "CLIPImageProcessor"})";
  CHECK(load_preprocessor_config(dir).at("image_processor_type").as_string() == "CLIPImageProcessor");
  std::filesystem::remove_all(dir);
}

TEST_CASE("smart_resize rounds half to even and clamps to the pixel range") {
  // 42 / 28 = 1.5 rounds to 2 (even), 70 / 28 = 2.5 rounds to 2 (even): Python's round().
  CHECK(smart_resize(42, 70, 28, 56 * 56, 28 * 28 * 1280) == std::pair<int64_t, int64_t>{56, 56});
  // Too many pixels: beta = sqrt(1000 * 1000 / 50000), floor(1000 / beta / 28) * 28 = 196.
  CHECK(smart_resize(1000, 1000, 28, 3136, 50000) == std::pair<int64_t, int64_t>{196, 196});
  CHECK_THROWS_AS(smart_resize(1, 300, 28, 3136, 50000), ImageError);
}

}  // namespace
}  // namespace mmrt::image
