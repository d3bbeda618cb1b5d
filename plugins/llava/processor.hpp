// processor role: one image -> pixel_values [3, S, S] f32 and its number of image tokens.
//
// Preprocessing is the SDK's resize/crop/normalize composition (CLIPImageProcessor's PIL pipeline over the
// host's Pillow-exact primitives) run with the checkpoint's preprocessor config, so pixels match
// Transformers. The plugin adds what only the model knows: how many embedding rows the encoder will produce
// per image, which is also the placeholder run length.
//
// Worked example (llava-1.5-7b): a 640×480 photo -> resize shortest edge 336 (bicubic) -> center crop
// 336×336 -> rescale, normalize -> pixel_values [3, 336, 336]; n_tokens = (336/14)² = 576 ("default"
// drops CLS; "full" would give 577).
#ifndef MMRT_PLUGINS_LLAVA_PROCESSOR_HPP_
#define MMRT_PLUGINS_LLAVA_PROCESSOR_HPP_

#include <mmrt_abi.h>

#include <string>

#include "config.hpp"
#include "mmrt/image/resize_crop_normalize.hpp"
#include "mmrt/plugin.hpp"

namespace mmrt::llava {

// [thread-safe]: immutable after construction.
class LlavaProcessor : public sdk::Processor {
 public:
  // Reads the preprocessor config (borrowed by create) and computes the fingerprint.
  LlavaProcessor(const LlavaConfig& config, const std::string& preprocessor_config_json);
  void process(const MmrtImage& image, MmrtProcessorOutput& out) override;
  const char* fingerprint() override { return fingerprint_.c_str(); }

 private:
  sdk::image::ResizeCropNormalize pipeline_;
  int64_t n_tokens_;
  std::string fingerprint_;  // processor settings + this plugin's token count rule
};

}  // namespace mmrt::llava

#endif  // MMRT_PLUGINS_LLAVA_PROCESSOR_HPP_
