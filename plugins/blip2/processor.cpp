#include "processor.hpp"

#include <cstring>
#include <optional>

#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::require;
using sdk::str;

namespace {

sdk::image::ResizeCropNormalize make_pipeline(const std::string& preprocessor_config_json) {
  const sdk::json::Value config = sdk::json::parse(preprocessor_config_json, "preprocessor_config.json");
  return sdk::image::ResizeCropNormalize(
      sdk::image::Primitives::from_host(),
      sdk::image::ResizeCropNormalizeConfig::parse(sdk::json::Reader(config, "preprocessor_config")));
}

// The vision tower takes image_size × image_size pixels only, so the pipeline must end at that fixed size
// (padded, cropped or squashed to it); anything else fails at load, not on every request.
void require_output_size(const sdk::image::ResizeCropNormalizeConfig& c, int64_t image_size) {
  std::optional<sdk::image::SizeDict> last;
  const char* key = "size";
  if (c.do_pad) {
    last = c.pad_size, key = "pad_size";
  } else if (c.do_center_crop) {
    last = c.crop_size, key = "crop_size";
  } else if (c.do_resize) {
    last = c.size;
  }
  const bool fixed = last && last->height && last->width;
  require(fixed && *last->height == image_size && *last->width == image_size, MMRT_STATUS_INVALID_ARGUMENT,
          str("preprocessor_config.", key, ": the processor must yield ", image_size, "x", image_size,
              " pixels (vision_config.image_size), got ",
              fixed ? last->to_string() : "a size that follows the image"));
}

}  // namespace

Blip2Processor::Blip2Processor(const Blip2Config& config, const std::string& preprocessor_config_json)
    : pipeline_(make_pipeline(preprocessor_config_json)), n_tokens_(config.num_query_tokens) {
  require_output_size(pipeline_.config(), config.vision_config.image_size);
  fingerprint_ = str(pipeline_.fingerprint(), ";blip2.num_query_tokens=", n_tokens_);
}

void Blip2Processor::process(const MmrtImage& image, MmrtProcessorOutput& out) {
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

}  // namespace mmrt::blip2
