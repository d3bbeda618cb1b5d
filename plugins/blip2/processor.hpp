// processor role: one image -> pixel_values [1, 3, S, S] f32 and its number of query tokens.
//
// Preprocessing itself is the host's BlipImageProcessor (MMRT_IMAGE_EXTENSION) run with the checkpoint's
// preprocessor config: convert to RGB, squash to size.height × size.width (bicubic by default, no crop),
// rescale, normalize. The plugin adds what only the model knows: every image yields num_query_tokens rows.
//
// Worked example (blip2-opt-2.7b): a 640×480 photo -> 224×224 bicubic -> pixel_values [1, 3, 224, 224];
// n_tokens = 32.
#ifndef MMRT_PLUGINS_BLIP2_PROCESSOR_HPP_
#define MMRT_PLUGINS_BLIP2_PROCESSOR_HPP_

#include <mmrt_abi.h>

#include <string>

#include "config.hpp"
#include "mmrt/plugin.hpp"

namespace mmrt::blip2 {

// [thread-safe]: immutable after construction.
class Blip2Processor : public sdk::Processor {
 public:
  // Copies the preprocessor config (borrowed by create) and computes the fingerprint.
  Blip2Processor(const Blip2Config& config, std::string preprocessor_config_json);

  void process(const MmrtImage& image, MmrtProcessorOutput& out) override;
  const char* fingerprint() override { return fingerprint_.c_str(); }

 private:
  const MmrtImageApi* image_api_;
  std::string preprocessor_config_json_;
  int64_t n_tokens_;
  std::string fingerprint_;  // host image processor settings + the query token count
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_PROCESSOR_HPP_
