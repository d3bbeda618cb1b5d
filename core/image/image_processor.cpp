#include "core/image/image_processor.hpp"

#include <string_view>

#include "core/image/nougat_image_processor.hpp"
#include "core/image/processor_config.hpp"
#include "core/image/qwen2_vl_image_processor.hpp"
#include "core/image/resize_crop_normalize_processor.hpp"
#include "core/util/json.hpp"

namespace mmrt::image {
namespace {

// "CLIPImageProcessorFast" -> "CLIPImageProcessor"; "CLIPFeatureExtractor" -> "CLIPImageProcessor".
std::string canonical_type(std::string type) {
  for (std::string_view suffix : {"Fast", "Pil"}) {
    if (type.size() > suffix.size() && type.ends_with(suffix)) type.resize(type.size() - suffix.size());
  }
  constexpr std::string_view kLegacySuffix = "FeatureExtractor";
  if (type.ends_with(kLegacySuffix))
    type = type.substr(0, type.size() - kLegacySuffix.size()) + "ImageProcessor";
  return type;
}

}  // namespace

std::unique_ptr<ImageProcessor> make_image_processor(const boost::json::object& preprocessor_config) {
  const util::JsonObjectView config(preprocessor_config, std::string(kPreprocessorConfigOrigin));
  const char* key =
      config.contains("image_processor_type") ? "image_processor_type" : "feature_extractor_type";
  if (!config.contains(key)) {
    throw ImageError("preprocessor_config: no image_processor_type (or feature_extractor_type) key");
  }
  const std::string type = canonical_type(config.get_string(key));
  if (type == "CLIPImageProcessor") {
    return std::make_unique<ResizeCropNormalizeProcessor>(parse_clip_image_processor_config(config));
  }
  if (type == "BlipImageProcessor") {
    return std::make_unique<ResizeCropNormalizeProcessor>(parse_blip_image_processor_config(config));
  }
  if (type == "Qwen2VLImageProcessor") {
    return std::make_unique<Qwen2VLImageProcessor>(parse_qwen2_vl_image_processor_config(config));
  }
  if (type == "NougatImageProcessor") {
    return std::make_unique<NougatImageProcessor>(parse_nougat_image_processor_config(config));
  }
  throw ImageError("preprocessor_config: unsupported " + std::string(key) + " \"" + config.get_string(key) +
                   "\" (supported: CLIPImageProcessor, BlipImageProcessor, Qwen2VLImageProcessor, "
                   "NougatImageProcessor)");
}

boost::json::object load_preprocessor_config(const std::filesystem::path& model_dir) {
  const std::filesystem::path preprocessor = model_dir / "preprocessor_config.json";
  if (std::filesystem::exists(preprocessor)) return util::read_json_object(preprocessor);
  const std::filesystem::path processor = model_dir / "processor_config.json";
  if (std::filesystem::exists(processor)) {
    boost::json::object whole = util::read_json_object(processor);
    const util::JsonObjectView view(whole, processor.string());
    if (!view.contains("image_processor") || !whole.at("image_processor").is_object()) {
      view.fail("image_processor", "expected an object with the image processor settings");
    }
    return whole.at("image_processor").get_object();
  }
  throw util::JsonError(model_dir.string() +
                        ": neither preprocessor_config.json nor processor_config.json exists");
}

}  // namespace mmrt::image
