#include "processor.hpp"

#include <utility>
#include <vector>

#include "mmrt/host.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::require;
using sdk::str;

namespace {

const MmrtImageApi* host_image_api() {
  const auto* api = static_cast<const MmrtImageApi*>(sdk::host_extension(MMRT_IMAGE_EXTENSION));
  require(api != nullptr && MMRT_SDK_HAS_SLOT(api, MmrtImageApi, preprocess) &&
              MMRT_SDK_HAS_SLOT(api, MmrtImageApi, fingerprint),
          MMRT_STATUS_UNIMPLEMENTED, "host lacks the extension " MMRT_IMAGE_EXTENSION);
  return api;
}

// The host processor's canonical settings; retried once with the length the host reports.
std::string host_fingerprint(const MmrtImageApi* api, const std::string& preprocessor_config_json) {
  std::vector<char> buf(512);
  uint64_t len = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    sdk::check(api->fingerprint(preprocessor_config_json.data(), preprocessor_config_json.size(), buf.data(),
                                buf.size(), &len),
               "image processor fingerprint");
    if (len < buf.size()) return std::string(buf.data(), len);
    buf.resize(len + 1);
  }
  throw sdk::Error(MMRT_STATUS_INTERNAL, "image processor fingerprint kept growing");
}

// The vision tower takes image_size × image_size pixels only; a processor resizing elsewhere fails at load,
// not on every request.
void require_processor_size(const std::string& preprocessor_config_json, int64_t image_size) {
  const sdk::json::Value root = sdk::json::parse(preprocessor_config_json, "preprocessor config");
  const sdk::json::Reader size = sdk::json::Reader(root, "").child("size");
  for (const char* key : {"height", "width"}) {
    const int64_t v = size.get_int(key, image_size);
    require(v == image_size, MMRT_STATUS_INVALID_ARGUMENT,
            str(size.where(key), v, " differs from vision_config.image_size ", image_size));
  }
}

}  // namespace

Blip2Processor::Blip2Processor(const Blip2Config& config, std::string preprocessor_config_json)
    : image_api_(host_image_api()),
      preprocessor_config_json_(std::move(preprocessor_config_json)),
      n_tokens_(config.num_query_tokens) {
  require_processor_size(preprocessor_config_json_, config.vision_config.image_size);
  fingerprint_ =
      str(host_fingerprint(image_api_, preprocessor_config_json_), ";blip2.num_query_tokens=", n_tokens_);
}

void Blip2Processor::process(const MmrtImage& image, MmrtProcessorOutput& out) {
  require(out.struct_size >= MMRT_SIZEOF(MmrtProcessorOutput, n_tokens), MMRT_STATUS_INVALID_ARGUMENT,
          "MmrtProcessorOutput has no n_tokens field");
  sdk::check(image_api_->preprocess(preprocessor_config_json_.data(), preprocessor_config_json_.size(),
                                    &image, &out),
             str("preprocessing a ", image.width, "x", image.height, " image"));
  out.n_tokens = n_tokens_;
}

}  // namespace mmrt::blip2
