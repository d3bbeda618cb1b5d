// The Qwen2-VL plugin (Wang et al. 2024, "Qwen2-VL: Enhancing Vision-Language Model's Perception of the
// World at Any Resolution"; Transformers' Qwen2VLForConditionalGeneration): a dynamic-resolution ViT with
// 2-D RoPE and a 2x2 patch merger, and a Qwen2 language model with multimodal RoPE, offering all four roles.
//
//   processor.cpp  image -> pixel_values (patches), image_grid_thw, n_tokens   (smart_resize, patchify)
//   padder.cpp     one <|image_pad|> -> n_tokens copies, ranges, M-RoPE positions and delta
//   encoder.cpp    pixel_values + grids -> image rows            (vision.cpp: the tower and merger)
//   decoder.cpp    ids + injected rows -> logits                 (Qwen2 over the host's paged KV cache)
//   model.cpp      the weight table; config.cpp the typed configs
//
// One instance holds the weights once; the roles are views over it. README.md walks a whole request.
#include <memory>
#include <string>

#include "config.hpp"
#include "decoder.hpp"
#include "encoder.hpp"
#include "mmrt/plugin.hpp"
#include "mmrt/weights.hpp"
#include "mmrt_plugin_identity.hpp"
#include "model.hpp"
#include "padder.hpp"
#include "processor.hpp"

namespace mmrt::qwen2_vl {
namespace {

class Qwen2VLInstance : public sdk::Instance {
 public:
  Qwen2VLInstance(const Qwen2VLConfig& config, const ImageProcessorConfig& image_config, sdk::Weights& w,
                  const MmrtCreateArgs& args)
      : model_(config, w, args.device),
        processor_(image_config),
        encoder_(model_, args.device, args.compute_dtype),
        padder_(static_cast<int32_t>(config.image_token_id), config.vision_config.spatial_merge_size),
        decoder_(model_, args.device, args.compute_dtype) {}

  sdk::Processor* processor() override { return &processor_; }
  sdk::Encoder* encoder() override { return &encoder_; }
  sdk::Padder* padder() override { return &padder_; }
  sdk::Decoder* decoder() override { return &decoder_; }

 private:
  Qwen2VLModel model_;
  Qwen2VLProcessor processor_;
  Qwen2VLEncoder encoder_;
  Qwen2VLPadder padder_;
  Qwen2VLDecoder decoder_;
};

std::unique_ptr<sdk::Instance> create(const MmrtCreateArgs& args) {
  sdk::require(args.config_json != nullptr && args.preprocessor_config_json != nullptr,
               MMRT_STATUS_INVALID_ARGUMENT, "create needs config_json and preprocessor_config_json");
  const Qwen2VLConfig config = parse_qwen2_vl_config({args.config_json, args.config_json_len});
  const ImageProcessorConfig image_config = parse_image_processor_config(
      {args.preprocessor_config_json, args.preprocessor_config_json_len}, config.vision_config);
  sdk::Weights w(args, checkpoint_layouts());
  auto instance = std::make_unique<Qwen2VLInstance>(config, image_config, w, args);
  w.finish();
  return instance;
}

}  // namespace
}  // namespace mmrt::qwen2_vl

// The id, version, architectures and roles are mmrt_add_plugin's in CMakeLists.txt
// (mmrt_plugin_identity.hpp); host minor 1: the processor uses the host's image primitives, the encoder and
// padder the items' metadata.
MMRT_SDK_DEFINE_PLUGIN({.create = &mmrt::qwen2_vl::create})
