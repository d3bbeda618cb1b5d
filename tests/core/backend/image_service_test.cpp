// The host's image extension: each ABI 1.1 primitive against the core function it wraps (and Pillow through
// the image fixtures), bad arguments as statuses, and the SDK's resize/crop/normalize composition over the
// primitives against Transformers' CLIP and BLIP processors on every fixture that uses them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/backend/image_service.hpp"
#include "core/image/decode.hpp"
#include "core/image/resize.hpp"
#include "core/image/transforms.hpp"
#include "core/plugin/host_api.hpp"
#include "core/plugin/status.hpp"
#include "mmrt/image/resize_crop_normalize.hpp"
#include "tests/core/image/fixtures.hpp"

namespace mmrt::backend {
namespace {

namespace fixtures = image::test;

MmrtImage view_of(const image::Image& img) {
  MmrtImage v{};
  v.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
  v.width = img.width;
  v.height = img.height;
  v.rgb = img.rgb.data();
  v.alpha = img.alpha.empty() ? nullptr : img.alpha.data();
  return v;
}

image::Image gradient(int32_t w, int32_t h, bool alpha) {
  image::Image img = image::make_image(w, h);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t((i * 37) % 251);
  if (alpha) {
    img.alpha.resize(size_t(w) * h);
    for (size_t i = 0; i < img.alpha.size(); ++i) img.alpha[i] = uint8_t((i * 11) % 256);
  }
  return img;
}

// The status a slot returned: its code, or OK; freed here.
int32_t code_of(MmrtStatus* st) {
  if (!st) return MMRT_STATUS_OK;
  plugin::StatusPtr owned(st);
  return owned->code;
}

TEST_CASE("image primitives equal the core functions they offer") {
  const MmrtImageApi& api = *image_service();
  REQUIRE(MMRT_HAS_FIELD(&api, MmrtImageApi, normalize));
  const image::Image src = gradient(13, 9, true);
  const MmrtImage v = view_of(src);

  std::vector<uint8_t> out(13 * 9 * 3);
  REQUIRE(code_of(api.to_rgb(&v, out.data())) == MMRT_STATUS_OK);
  CHECK(out == image::composite_over_white(src).rgb);

  image::Image no_alpha = src;
  no_alpha.alpha.clear();
  for (int32_t filter = 0; filter <= 5; ++filter) {
    CAPTURE(filter);
    std::vector<uint8_t> resized(7 * 5 * 3);
    REQUIRE(code_of(api.resize(&v, 7, 5, filter, 0.0, resized.data())) == MMRT_STATUS_OK);
    CHECK(resized == image::resize(no_alpha, 7, 5, image::resample_filter_from_pil(filter)).rgb);
  }
  std::vector<uint8_t> reduced(3 * 2 * 3);
  REQUIRE(code_of(api.resize(&v, 3, 2, MMRT_RESAMPLE_BICUBIC, 2.0, reduced.data())) == MMRT_STATUS_OK);
  CHECK(reduced == image::resize_with_reducing_gap(no_alpha, 3, 2, image::ResampleFilter::bicubic, 2.0).rgb);

  std::vector<uint8_t> cropped(20 * 4 * 3);
  REQUIRE(code_of(api.crop(&v, -3, 2, 20, 4, cropped.data())) == MMRT_STATUS_OK);
  CHECK(cropped == image::crop(no_alpha, -3, 2, 20, 4).rgb);

  image::Image turned = no_alpha;
  for (int32_t turns = 1; turns <= 3; ++turns) {
    turned = image::rotate_clockwise(turned);
    std::vector<uint8_t> rotated(out.size());
    REQUIRE(code_of(api.rotate(&v, turns, rotated.data())) == MMRT_STATUS_OK);
    CHECK(rotated == turned.rgb);
  }

  std::vector<uint8_t> grey(13 * 9);
  REQUIRE(code_of(api.to_grey(&v, grey.data())) == MMRT_STATUS_OK);
  CHECK(grey == image::to_grey(no_alpha));

  const float mean[3] = {0.5f, 0.25f, 0.125f}, std[3] = {0.2f, 0.3f, 0.4f};
  image::NormalizeSpec spec;
  spec.rescale_factor = 1.0 / 255.0;
  spec.mean = {mean[0], mean[1], mean[2]};
  spec.std = {std[0], std[1], std[2]};
  const std::vector<float> chw = image::to_normalized_chw(no_alpha, spec);
  std::vector<float> got(chw.size()), hwc(chw.size());
  REQUIRE(code_of(api.normalize(&v, 1.0 / 255.0, mean, std, MMRT_LAYOUT_CHW, got.data())) == MMRT_STATUS_OK);
  CHECK(got == chw);
  REQUIRE(code_of(api.normalize(&v, 1.0 / 255.0, mean, std, MMRT_LAYOUT_HWC, hwc.data())) == MMRT_STATUS_OK);
  const size_t plane = 13 * 9;
  for (size_t i = 0; i < plane; ++i) {
    for (size_t c = 0; c < 3; ++c) CHECK(hwc[i * 3 + c] == chw[c * plane + i]);
  }
  std::vector<float> raw(chw.size());
  REQUIRE(code_of(api.normalize(&v, 0.0, nullptr, nullptr, MMRT_LAYOUT_CHW, raw.data())) == MMRT_STATUS_OK);
  CHECK(raw[0] == float(src.rgb[0]));
}

TEST_CASE("image primitives refuse bad arguments with a status") {
  const MmrtImageApi& api = *image_service();
  const image::Image src = gradient(4, 4, false);
  const MmrtImage v = view_of(src);
  std::vector<uint8_t> out(64 * 64 * 3);
  CHECK(code_of(api.resize(&v, 0, 4, MMRT_RESAMPLE_BILINEAR, 0, out.data())) == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(code_of(api.resize(&v, 4, 4, 9, 0, out.data())) == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(code_of(api.resize(&v, 1, 300000, MMRT_RESAMPLE_BICUBIC, 0, nullptr)) ==
        MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(code_of(api.crop(&v, 0, 0, -1, 2, out.data())) == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(code_of(api.rotate(&v, 4, out.data())) == MMRT_STATUS_INVALID_ARGUMENT);
  const float m[3] = {0, 0, 0};
  CHECK(code_of(api.normalize(&v, 1.0, m, nullptr, MMRT_LAYOUT_CHW, reinterpret_cast<float*>(out.data()))) ==
        MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(code_of(api.to_grey(nullptr, out.data())) == MMRT_STATUS_INVALID_ARGUMENT);
  MmrtImage empty = v;
  empty.width = 0;
  CHECK(code_of(api.to_rgb(&empty, out.data())) == MMRT_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("the SDK resize/crop/normalize composition matches transformers' CLIP and BLIP processors") {
  sdk::set_host(plugin::host_api());
  const sdk::image::Primitives px(image_service());
  const auto& cases = fixtures::manifest().at("process").as_array();
  int n_checked = 0;
  for (const auto& value : cases) {
    const auto& entry = value.as_object();
    const std::string name(entry.at("case").as_string()), config_name(entry.at("config").as_string());
    const std::vector<uint8_t> bytes =
        fixtures::read_bytes(fixtures::fixture_dir() / "configs" / (config_name + ".json"));
    const std::string text(bytes.begin(), bytes.end());
    const sdk::json::Value config = sdk::json::parse(text, config_name);
    const sdk::json::Reader reader(config, "preprocessor_config");
    const std::string type = sdk::image::processor_type(reader);
    if (type != "CLIPImageProcessor" && type != "BlipImageProcessor") continue;
    CAPTURE(name);
    const sdk::image::ResizeCropNormalize pipeline(px, sdk::image::ResizeCropNormalizeConfig::parse(reader));
    const image::Image img = image::decode_image(fixtures::read_bytes(
        fixtures::fixture_dir() / "sources" / std::string(entry.at("image").as_string())));
    const sdk::image::ProcessedPixels out = pipeline.process(view_of(img));
    std::vector<int64_t> shape;
    for (const auto& d : entry.at("shape").as_array()) shape.push_back(d.as_int64());
    CHECK(out.shape == shape);
    const std::vector<float> expected =
        fixtures::read_floats(fixtures::fixture_dir() / "processed" / (name + ".f32"));
    REQUIRE(out.values.size() == expected.size());
    double max_diff = 0.0, sum_diff = 0.0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const double diff = std::abs(double(out.values[i]) - expected[i]);
      max_diff = std::max(max_diff, diff);
      sum_diff += diff;
    }
    CHECK(max_diff <= 0.02);
    CHECK(sum_diff / double(expected.size()) <= 0.002);
    ++n_checked;
  }
  CHECK(n_checked >= 20);
}

TEST_CASE("the 1.0 preprocess slot serves resize/crop/normalize processors and refuses the others") {
  const MmrtImageApi& api = *image_service();
  const image::Image img = gradient(40, 30, false);
  const MmrtImage v = view_of(img);
  struct Sink {
    std::vector<float> pixels;
    std::vector<int64_t> shape;
    static MmrtStatus* alloc(void* ctx, const char* name, MmrtDataType, int32_t ndim, const int64_t* shape,
                             void** data) {
      auto* self = static_cast<Sink*>(ctx);
      CHECK(std::string(name) == "pixel_values");
      self->shape.assign(shape, shape + ndim);
      int64_t n = 1;
      for (int32_t i = 0; i < ndim; ++i) n *= shape[i];
      self->pixels.resize(size_t(n));
      *data = self->pixels.data();
      return nullptr;
    }
  } sink;
  MmrtProcessorOutput out{};
  out.struct_size = MMRT_SIZEOF(MmrtProcessorOutput, n_tokens);
  out.host_ctx = &sink;
  out.alloc_tensor = &Sink::alloc;
  const std::string clip = R"({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 16},
                              "crop_size": {"height": 16, "width": 16}})";
  REQUIRE(code_of(api.preprocess(clip.data(), clip.size(), &v, &out)) == MMRT_STATUS_OK);
  CHECK(sink.shape == std::vector<int64_t>{3, 16, 16});
  char fp[256];
  uint64_t len = 0;
  REQUIRE(code_of(api.fingerprint(clip.data(), clip.size(), fp, sizeof fp, &len)) == MMRT_STATUS_OK);
  CHECK(std::string(fp).starts_with("CLIPImageProcessor("));
  const std::string other = R"({"image_processor_type": "SomeOtherImageProcessor"})";
  CHECK(code_of(api.preprocess(other.data(), other.size(), &v, &out)) == MMRT_STATUS_INVALID_ARGUMENT);
  const std::string broken = "{not json";
  CHECK(code_of(api.preprocess(broken.data(), broken.size(), &v, &out)) == MMRT_STATUS_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace mmrt::backend

namespace mmrt::backend {
namespace {

sdk::image::ResizeCropNormalizeConfig parse_config(const std::string& text) {
  const sdk::json::Value config = sdk::json::parse(text, "preprocessor_config");
  return sdk::image::ResizeCropNormalizeConfig::parse(sdk::json::Reader(config, "preprocessor_config"));
}

TEST_CASE("the composition's fingerprint names every setting; legacy names select it; bad keys are named") {
  sdk::set_host(plugin::host_api());
  const sdk::image::Primitives px(image_service());
  const auto fingerprint = [&](const std::string& text) {
    return sdk::image::ResizeCropNormalize(px, parse_config(text)).fingerprint();
  };
  const std::string clip336 =
      R"({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 336},
                                  "crop_size": {"height": 336, "width": 336}})";
  const std::string clip32 = R"({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 32},
                                 "crop_size": {"height": 32, "width": 32}})";
  CHECK(fingerprint(clip336) != fingerprint(clip32));
  CHECK(fingerprint(clip336).find("shortest_edge=336") != std::string::npos);
  CHECK(fingerprint(clip336) == fingerprint(clip336));
  CHECK(fingerprint(R"({"image_processor_type": "CLIPImageProcessorFast"})")
            .starts_with("CLIPImageProcessor("));
  CHECK(fingerprint(R"({"feature_extractor_type": "CLIPFeatureExtractor"})")
            .starts_with("CLIPImageProcessor("));
  CHECK(fingerprint(R"({"image_processor_type": "BlipImageProcessor"})").find("height=384,width=384") !=
        std::string::npos);
  CHECK_THROWS_WITH_AS(parse_config(R"({"image_processor_type": "SiglipImageProcessor"})"),
                       doctest::Contains("SiglipImageProcessor"), sdk::Error);
  CHECK_THROWS_WITH_AS(
      parse_config(R"({"image_processor_type": "CLIPImageProcessor", "resample": "bicubic"})"),
      doctest::Contains("resample"), sdk::Error);
  CHECK_THROWS_WITH_AS(
      parse_config(R"({"image_processor_type": "CLIPImageProcessor", "image_mean": [0.5, 0.5]})"),
      doctest::Contains("image_mean"), sdk::Error);
  CHECK_THROWS_WITH_AS(parse_config(R"({"image_processor_type": "CLIPImageProcessor", "do_center_crop": true,
                                        "crop_size": {"height": 5}})"),
                       doctest::Contains("crop_size"), sdk::Error);
}

}  // namespace
}  // namespace mmrt::backend
