#include "processor.hpp"

#include <cstring>

#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::llava {

using sdk::require;
using sdk::str;

namespace {

sdk::image::ResizeCropNormalize make_pipeline(const std::string& preprocessor_config_json) {
  const sdk::json::Value config = sdk::json::parse(preprocessor_config_json, "preprocessor_config.json");
  return sdk::image::ResizeCropNormalize(
      sdk::image::Primitives::from_host(),
      sdk::image::ResizeCropNormalizeConfig::parse(sdk::json::Reader(config, "preprocessor_config")));
}

}  // namespace

LlavaProcessor::LlavaProcessor(const LlavaConfig& config, const std::string& preprocessor_config_json)
    : pipeline_(make_pipeline(preprocessor_config_json)), n_tokens_(config.image_seq_length()) {
  fingerprint_ = str(pipeline_.fingerprint(), ";llava.image_seq_length=", n_tokens_);
}

void LlavaProcessor::process(const MmrtImage& image, MmrtProcessorOutput& out) {
  require(out.struct_size >= MMRT_SIZEOF(MmrtProcessorOutput, n_tokens), MMRT_STATUS_INVALID_ARGUMENT,
          "MmrtProcessorOutput has no n_tokens field");
  const sdk::image::ProcessedPixels pixels = pipeline_.process(image);
  void* data = nullptr;
  sdk::check(out.alloc_tensor(out.host_ctx, "pixel_values", MmrtDataType{MMRT_DTYPE_FLOAT, 32, 1},
                              int32_t(pixels.shape.size()), pixels.shape.data(), &data),
             str("pixel_values for a ", image.width, "x", image.height, " image"));
  std::memcpy(data, pixels.values.data(), pixels.values.size() * sizeof(float));
  out.n_tokens = n_tokens_;
}

}  // namespace mmrt::llava
