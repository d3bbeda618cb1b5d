// The LLaVA plugin (Liu et al. 2023, "Visual Instruction Tuning"; Transformers'
// LlavaForConditionalGeneration): a CLIP vision tower, a two-layer projector and a Llama language model,
// offering all four roles.
//
//   processor.cpp  image -> pixel_values, n_tokens            (host CLIPImageProcessor)
//   padder.cpp     one <image> id -> n_tokens copies, ranges
//   encoder.cpp    pixel_values -> image embeddings           (CLIP -> feature layer(s) -> projector)
//   decoder.cpp    ids + injected embeddings -> logits        (Llama over the host's paged KV cache)
//   model.cpp      the weight table; config.cpp the typed config
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

namespace mmrt::llava {
namespace {

class LlavaInstance : public sdk::Instance {
 public:
  LlavaInstance(const LlavaConfig& config, sdk::Weights& w, const MmrtCreateArgs& args)
      : model_(config, w, args.device),
        processor_(config, std::string(args.preprocessor_config_json, args.preprocessor_config_json_len)),
        encoder_(model_, args.device, args.compute_dtype),
        padder_(static_cast<int32_t>(config.image_token_index)),
        decoder_(model_, args.device, args.compute_dtype) {}

  sdk::Processor* processor() override { return &processor_; }
  sdk::Encoder* encoder() override { return &encoder_; }
  sdk::Padder* padder() override { return &padder_; }
  sdk::Decoder* decoder() override { return &decoder_; }

 private:
  LlavaModel model_;
  LlavaProcessor processor_;
  LlavaEncoder encoder_;
  LlavaPadder padder_;
  LlavaDecoder decoder_;
};

std::unique_ptr<sdk::Instance> create(const MmrtCreateArgs& args) {
  sdk::require(args.config_json != nullptr && args.preprocessor_config_json != nullptr,
               MMRT_STATUS_INVALID_ARGUMENT, "create needs config_json and preprocessor_config_json");
  const LlavaConfig config = parse_llava_config({args.config_json, args.config_json_len});
  // A placeholder id outside the vocabulary would load and then fail every request with an image.
  sdk::require(config.image_token_index < config.text_config.vocab_size, MMRT_STATUS_INVALID_ARGUMENT,
               sdk::str("config.json: image_token_index: ", config.image_token_index,
                        " is not a token id of the ", config.text_config.vocab_size, "-token vocabulary"));
  sdk::Weights w(args, checkpoint_layouts());
  auto instance = std::make_unique<LlavaInstance>(config, w, args);
  w.finish();
  return instance;
}

}  // namespace
}  // namespace mmrt::llava

// The id, version, architectures and roles are mmrt_add_plugin's in CMakeLists.txt
// (mmrt_plugin_identity.hpp).
MMRT_SDK_DEFINE_PLUGIN({.create = &mmrt::llava::create})
