// The plugin's processor, composed from the real host image primitives (the host's own table, as a loaded
// plugin gets it), against Transformers' Qwen2VLImageProcessorPil on every Qwen2-VL case of the image
// fixtures (tests/fixtures/images, written by tools/fixtures/make_image_goldens.py): pixel_values, the grid
// and the token count. Also smart_resize's rounding and limits.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/backend/image_service.hpp"
#include "core/image/decode.hpp"
#include "core/plugin/host_api.hpp"
#include "mmrt/host.hpp"
#include "processor.hpp"
#include "tests/core/image/fixtures.hpp"

using mmrt::qwen2_vl::ImageProcessorConfig;
using mmrt::qwen2_vl::Qwen2VLProcessor;
using mmrt::qwen2_vl::smart_resize;
using mmrt::qwen2_vl::VisionConfig;

namespace {

// Collects what the processor writes through MmrtProcessorOutput.
struct Outputs {
  MmrtProcessorOutput out{};
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, std::vector<char>> data;

  Outputs() {
    out.struct_size = MMRT_SIZEOF(MmrtProcessorOutput, n_tokens);
    out.host_ctx = this;
    out.alloc_tensor = &Outputs::alloc;
  }
  static MmrtStatus* alloc(void* ctx, const char* name, MmrtDataType dtype, int32_t ndim,
                           const int64_t* shape, void** data) {
    auto* self = static_cast<Outputs*>(ctx);
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; ++i) n *= shape[i];
    self->shapes[name] = std::vector<int64_t>(shape, shape + ndim);
    self->data[name].assign(static_cast<size_t>(n) * dtype.bits / 8, 0);
    *data = self->data[name].data();
    return nullptr;
  }
};

// The processor config of tests/fixtures/images/configs/<name>.json with a tower of the same geometry.
ImageProcessorConfig config_named(const std::string& name) {
  const std::vector<uint8_t> bytes =
      mmrt::image::test::read_bytes(mmrt::image::test::fixture_dir() / "configs" / (name + ".json"));
  return mmrt::qwen2_vl::parse_image_processor_config(std::string(bytes.begin(), bytes.end()),
                                                      VisionConfig{});
}

}  // namespace

TEST_CASE("qwen2_vl processor: Transformers' pixel_values and grids on the image fixtures") {
  mmrt::plugin::register_host_extension(MMRT_IMAGE_EXTENSION, mmrt::backend::image_service());
  mmrt::sdk::set_host(mmrt::plugin::host_api());
  int n_cases = 0, n_exact = 0;
  double worst = 0;
  for (const auto& value : mmrt::image::test::manifest().at("process").as_array()) {
    const auto& entry = value.as_object();
    const std::string config(entry.at("config").as_string());
    if (!config.starts_with("qwen2_vl")) continue;
    const std::string name(entry.at("case").as_string());
    CAPTURE(name);
    Qwen2VLProcessor processor(config_named(config));
    const mmrt::image::Image image = mmrt::image::decode_image(mmrt::image::test::read_bytes(
        mmrt::image::test::fixture_dir() / "sources" / std::string(entry.at("image").as_string())));
    MmrtImage view{};
    view.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
    view.width = image.width;
    view.height = image.height;
    view.rgb = image.rgb.data();
    view.alpha = image.has_alpha() ? image.alpha.data() : nullptr;
    Outputs outputs;
    processor.process(view, outputs.out);

    std::vector<int64_t> shape, grid;
    for (const auto& d : entry.at("shape").as_array()) shape.push_back(d.as_int64());
    for (const auto& d : entry.at("grid_thw").as_array()) grid.push_back(d.as_int64());
    CHECK(outputs.shapes["pixel_values"] == shape);
    REQUIRE(outputs.data["image_grid_thw"].size() == 3 * sizeof(int64_t));
    std::vector<int64_t> got_grid(3);
    std::memcpy(got_grid.data(), outputs.data["image_grid_thw"].data(), 3 * sizeof(int64_t));
    CHECK(got_grid == grid);
    CHECK(outputs.out.n_tokens == grid[0] * grid[1] * grid[2] / 4);

    const std::vector<float> want =
        mmrt::image::test::read_floats(mmrt::image::test::fixture_dir() / "processed" / (name + ".f32"));
    const auto& bytes = outputs.data["pixel_values"];
    REQUIRE(bytes.size() == want.size() * sizeof(float));
    std::vector<float> got(want.size());
    std::memcpy(got.data(), bytes.data(), bytes.size());
    double max_diff = 0, sum_diff = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double d = std::abs(static_cast<double>(got[i]) - want[i]);
      max_diff = std::max(max_diff, d);
      sum_diff += d;
    }
    CHECK(max_diff <= 0.02);
    CHECK(sum_diff / static_cast<double>(want.size()) <= 0.002);
    n_exact += max_diff == 0.0;
    worst = std::max(worst, max_diff);
    ++n_cases;
  }
  CHECK(n_cases >= 8);
  MESSAGE("qwen2_vl processor: " << n_exact << "/" << n_cases << " cases bit-exact, worst max |diff| "
                                 << worst);
}

TEST_CASE("qwen2_vl smart_resize: half-to-even rounding, limits, aspect ratio") {
  using Size = std::pair<int64_t, int64_t>;
  CHECK(smart_resize(45, 61, 28, 3136, 12845056) == Size{56, 56});
  CHECK(smart_resize(42, 42, 28, 784, 12845056) == Size{56, 56});    // 1.5 rounds to 2
  CHECK(smart_resize(70, 70, 28, 784, 12845056) == Size{56, 56});    // 2.5 rounds to 2, not 3
  CHECK(smart_resize(90, 30, 28, 3136, 12845056) == Size{112, 56});  // grown to min_pixels
  CHECK(smart_resize(130, 150, 28, 6272, 12544) == Size{84, 112});   // shrunk to max_pixels
  CHECK_THROWS_WITH_AS(smart_resize(1, 201, 28, 3136, 12845056), doctest::Contains("aspect ratio"),
                       mmrt::sdk::Error);
}
