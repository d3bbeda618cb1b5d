// The Nougat plugin (Blecher et al. 2023, "Nougat: Neural Optical Understanding for Academic Documents";
// Transformers' VisionEncoderDecoderModel with a Donut-Swin encoder and an mBART decoder): a page image
// in, its markup out, offering all four roles.
//
//   processor.cpp  page -> pixel_values, n_tokens          (NougatImageProcessor from host primitives)
//   padder.cpp     no text prompt: an empty decoder prompt
//   encoder.cpp    pixel_values -> image memory            (swin.cpp)
//   decoder.cpp    ids + memory -> logits                  (mbart.cpp over paged self and cross caches)
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

namespace mmrt::nougat {
namespace {

class NougatInstance : public sdk::Instance {
 public:
  NougatInstance(const NougatConfig& config, const NougatProcessorConfig& processor_config, sdk::Weights& w,
                 const MmrtCreateArgs& args)
      : model_(config, w, args.device),
        processor_(processor_config, config.encoder),
        encoder_(model_, args.device, args.compute_dtype),
        padder_(config.decoder.bos_token_id, config.decoder.eos_token_id),
        decoder_(model_, args.device, args.compute_dtype, processor_.max_tokens()) {}

  sdk::Processor* processor() override { return &processor_; }
  sdk::Encoder* encoder() override { return &encoder_; }
  sdk::Padder* padder() override { return &padder_; }
  sdk::Decoder* decoder() override { return &decoder_; }

 private:
  NougatModel model_;
  NougatProcessor processor_;
  NougatEncoder encoder_;
  NougatPadder padder_;
  NougatDecoder decoder_;
};

std::unique_ptr<sdk::Instance> create(const MmrtCreateArgs& args) {
  sdk::require(args.config_json != nullptr && args.preprocessor_config_json != nullptr,
               MMRT_STATUS_INVALID_ARGUMENT, "create needs config_json and preprocessor_config_json");
  const NougatConfig config = parse_nougat_config({args.config_json, args.config_json_len});
  const NougatProcessorConfig processor_config =
      parse_nougat_processor_config({args.preprocessor_config_json, args.preprocessor_config_json_len});
  sdk::Weights w(args, checkpoint_layouts());
  auto instance = std::make_unique<NougatInstance>(config, processor_config, w, args);
  w.finish();
  return instance;
}

}  // namespace
}  // namespace mmrt::nougat

// The id, version, architectures, roles and required host minor are mmrt_add_plugin's in CMakeLists.txt
// (mmrt_plugin_identity.hpp). The plugin needs host minor 1: image primitives, attention_varlen,
// paged_attention_ex and the encoder-decoder fields of MmrtKvSpec and MmrtDecodeArgs.
MMRT_SDK_DEFINE_PLUGIN({.create = &mmrt::nougat::create})
