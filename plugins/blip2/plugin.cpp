// The BLIP-2 plugin (Li et al. 2023, "BLIP-2: Bootstrapping Language-Image Pre-training with Frozen Image
// Encoders and Large Language Models"; Transformers' Blip2ForConditionalGeneration) with an OPT language
// model, offering all four roles.
//
//   processor.cpp  image -> pixel_values, n_tokens            (SDK BlipImageProcessor pipeline)
//   padder.cpp     num_query_tokens image ids before the prompt's BOS, one range
//   encoder.cpp    pixel_values -> query embeddings           (ViT -> Q-Former -> language_projection)
//   decoder.cpp    ids + injected embeddings -> logits        (OPT over the host's paged KV cache)
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

namespace mmrt::blip2 {
namespace {

class Blip2Instance : public sdk::Instance {
 public:
  Blip2Instance(const Blip2Config& config, sdk::Weights& w, const MmrtCreateArgs& args)
      : model_(config, w),
        processor_(config, std::string(args.preprocessor_config_json, args.preprocessor_config_json_len)),
        encoder_(model_, args.device, args.compute_dtype),
        padder_(config.query_placeholder_id(), config.image_token_index.has_value()),
        decoder_(model_, args.device, args.compute_dtype) {}

  sdk::Processor* processor() override { return &processor_; }
  sdk::Encoder* encoder() override { return &encoder_; }
  sdk::Padder* padder() override { return &padder_; }
  sdk::Decoder* decoder() override { return &decoder_; }

 private:
  Blip2Model model_;
  Blip2Processor processor_;
  Blip2Encoder encoder_;
  Blip2Padder padder_;
  Blip2Decoder decoder_;
};

std::unique_ptr<sdk::Instance> create(const MmrtCreateArgs& args) {
  sdk::require(args.config_json != nullptr && args.preprocessor_config_json != nullptr,
               MMRT_STATUS_INVALID_ARGUMENT, "create needs config_json and preprocessor_config_json");
  const Blip2Config config = parse_blip2_config({args.config_json, args.config_json_len});
  sdk::Weights w(args, sdk::NameMapper());
  auto instance = std::make_unique<Blip2Instance>(config, w, args);
  w.finish();
  return instance;
}

}  // namespace
}  // namespace mmrt::blip2

// The id, version, architectures and roles are mmrt_add_plugin's in CMakeLists.txt
// (mmrt_plugin_identity.hpp).
MMRT_SDK_DEFINE_PLUGIN({.create = &mmrt::blip2::create})
