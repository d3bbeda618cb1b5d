// processor role: one image -> pixel_values [3, S, S] f32 and its number of query tokens.
//
// Preprocessing is the SDK's resize/crop/normalize composition (BlipImageProcessor's PIL pipeline over the
// host's Pillow-exact primitives) run with the checkpoint's preprocessor config: convert to RGB, squash to
// size.height × size.width (bicubic by default, no crop), rescale, normalize. The plugin adds what only the
// model knows: every image yields num_query_tokens rows.
//
// Worked example (blip2-opt-2.7b): a 640×480 photo -> 224×224 bicubic -> pixel_values [3, 224, 224];
// n_tokens = 32.
#ifndef MMRT_PLUGINS_BLIP2_PROCESSOR_HPP_
#define MMRT_PLUGINS_BLIP2_PROCESSOR_HPP_

#include <mmrt_abi.h>

#include <string>

#include "config.hpp"
#include "mmrt/image/resize_crop_normalize.hpp"
#include "mmrt/plugin.hpp"

namespace mmrt::blip2 {

// [thread-safe]: immutable after construction.
class Blip2Processor : public sdk::Processor {
 public:
  // Reads the preprocessor config (borrowed by create), checks that it yields image_size pixels, and
  // computes the fingerprint.
  Blip2Processor(const Blip2Config& config, const std::string& preprocessor_config_json);

  void process(const MmrtImage& image, MmrtProcessorOutput& out) override;
  const char* fingerprint() override { return fingerprint_.c_str(); }

 private:
  sdk::image::ResizeCropNormalize pipeline_;
  int64_t n_tokens_;
  std::string fingerprint_;  // processor settings + the query token count
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_PROCESSOR_HPP_
