// Image processors: one decoded image -> the pixel_values tensor a Hugging Face "slow" (PIL backend) image
// processor would give the model for it, built from the checkpoint's preprocessor_config.json.
//
// Example: llava-1.5's CLIPImageProcessor on a 640x480 image resizes to 448x336 (shortest edge 336, bicubic),
// crops the centre 336x336, rescales by 1/255 and normalises with the CLIP mean/std into shape [3, 336, 336].
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "core/image/image.hpp"

namespace mmrt::image {

struct ProcessedImage {
  std::vector<float> pixel_values;  // memory order exactly as HF's pixel_values for this one image
  std::vector<int64_t> shape;       // e.g. [3, 336, 336] (CLIP), or [n_patches, 1176] (Qwen2-VL)
  std::vector<int64_t> grid_thw;    // [t, h, w] for Qwen2-VL, empty otherwise
};

// Immutable after construction; process() is thread-safe and throws ImageError for images it cannot take.
class ImageProcessor {
 public:
  virtual ~ImageProcessor() = default;
  virtual ProcessedImage process(const Image& image) const = 0;
  // Every setting that changes the output, as canonical text: equal text means equal outputs.
  virtual std::string fingerprint() const = 0;
};

// Picks the processor from "image_processor_type" (else the legacy "feature_extractor_type"), accepting the
// Pil/Fast suffixes: CLIPImageProcessor, BlipImageProcessor, Qwen2VLImageProcessor, NougatImageProcessor.
// All of them follow the PIL backend, whatever suffix the file names. Throws util::JsonError for a bad value
// (naming the key) and ImageError for an unknown type.
std::unique_ptr<ImageProcessor> make_image_processor(const boost::json::object& preprocessor_config);

// Reads <model_dir>/preprocessor_config.json, else the "image_processor" object of
// <model_dir>/processor_config.json (Transformers v5 layout). Throws util::JsonError when neither exists.
boost::json::object load_preprocessor_config(const std::filesystem::path& model_dir);

}  // namespace mmrt::image
