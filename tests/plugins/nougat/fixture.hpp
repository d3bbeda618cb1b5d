// Shared by the Nougat plugin tests: fixture files, the host tables a test process registers, and one
// page through the plugin's processor.
#ifndef MMRT_TESTS_PLUGINS_NOUGAT_FIXTURE_HPP_
#define MMRT_TESTS_PLUGINS_NOUGAT_FIXTURE_HPP_

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/backend/image_service.hpp"
#include "core/backend/kernels_dispatch.hpp"
#include "core/image/decode.hpp"
#include "core/plugin/host_api.hpp"
#include "mmrt/host.hpp"
#include "processor.hpp"

namespace mmrt::test {

inline const std::filesystem::path kFixtureRoot =
    std::filesystem::path(MMRT_SOURCE_DIR) / "tests" / "fixtures";

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open " << p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The host's table as plugins see it, with its kernel and image extensions, registered once per process.
inline void register_host() {
  static const bool done = [] {
    sdk::set_host(plugin::host_api());
    plugin::register_host_extension(MMRT_KERNELS_EXTENSION, backend::dispatch_kernels());
    plugin::register_host_extension(MMRT_IMAGE_EXTENSION, backend::image_service());
    return true;
  }();
  (void)done;
}

// A checkpoint folder's image processor settings: the hub's flat preprocessor_config.json, or the
// "image_processor" object of Transformers 5's processor_config.json.
inline std::string processor_settings(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "preprocessor_config.json"))
    return read_file(dir / "preprocessor_config.json");
  const boost::json::value file = boost::json::parse(read_file(dir / "processor_config.json"));
  return boost::json::serialize(file.at("image_processor"));
}

// What the processor wrote for one page.
struct ProcessedPage {
  std::vector<int64_t> shape;
  std::vector<float> values;
  int64_t n_tokens = 0;
};

inline ProcessedPage process_page(nougat::NougatProcessor& processor,
                                  const std::filesystem::path& image_file) {
  const std::string bytes = read_file(image_file);
  const image::Image decoded =
      image::decode_image({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  MmrtImage img{};
  img.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
  img.width = decoded.width;
  img.height = decoded.height;
  img.rgb = decoded.rgb.data();
  img.alpha = decoded.has_alpha() ? decoded.alpha.data() : nullptr;
  ProcessedPage out;
  MmrtProcessorOutput sink{};
  sink.struct_size = MMRT_SIZEOF(MmrtProcessorOutput, n_tokens);
  sink.host_ctx = &out;
  sink.alloc_tensor = [](void* ctx, const char* name, MmrtDataType, int32_t ndim, const int64_t* shape,
                         void** data) -> MmrtStatus* {
    auto* o = static_cast<ProcessedPage*>(ctx);
    REQUIRE(std::string(name) == "pixel_values");
    o->shape.assign(shape, shape + ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    o->values.resize(static_cast<size_t>(n));
    *data = o->values.data();
    return nullptr;
  };
  processor.process(img, sink);
  out.n_tokens = sink.n_tokens;
  return out;
}

}  // namespace mmrt::test

#endif  // MMRT_TESTS_PLUGINS_NOUGAT_FIXTURE_HPP_
