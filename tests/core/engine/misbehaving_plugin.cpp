// A decoder-only test plugin that misbehaves on purpose, chosen by config.json's "misbehave" key:
//   "fail_second_forward": the second forward returns an error status, every other one works;
//   "throw_in_forward":    every forward throws a C++ exception (the SDK turns it into PLUGIN_INTERNAL);
//   "nan_logits":          forward succeeds but writes NaN logits.
// A working forward makes token (position + 1) mod vocab the clear favourite, so outputs are predictable.
// It runs on the CPU backend only, so it writes the logits directly.
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "mmrt/json.hpp"
#include "mmrt/plugin.hpp"
#include "mmrt/status.hpp"
#include "mmrt_plugin_identity.hpp"

namespace {

constexpr int64_t kVocab = 602;  // the shared LLaVA fixture tokenizer

class MisbehavingDecoder : public mmrt::sdk::Decoder, public mmrt::sdk::Instance {
 public:
  explicit MisbehavingDecoder(std::string mode) : mode_(std::move(mode)) {}

  mmrt::sdk::Decoder* decoder() override { return this; }

  MmrtKvSpec kv_spec() override {
    MmrtKvSpec spec{};
    spec.n_layer = 1;
    spec.n_head_kv = 1;
    spec.head_dim = 4;
    spec.dtype = {MMRT_DTYPE_FLOAT, 32, 1};
    spec.position_axes = 1;
    spec.vocab_size = kVocab;
    spec.hidden_size = 8;
    spec.max_position = 256;
    return spec;
  }

  void forward(const MmrtDecodeArgs& args) override {
    ++calls_;
    if (mode_ == "fail_second_forward" && calls_ == 2) {
      throw mmrt::sdk::Error(MMRT_STATUS_INTERNAL, "deliberate failure in forward call 2");
    }
    if (mode_ == "throw_in_forward") throw std::runtime_error("deliberate exception in forward");
    const auto* rows = static_cast<const int32_t*>(args.logits_rows->data);
    const auto* positions = static_cast<const int32_t*>(args.positions->data);
    auto* logits = static_cast<float*>(args.logits->data);
    const int64_t n = args.logits_rows->shape[0];
    for (int64_t i = 0; i < n; ++i) {
      float* row = logits + i * kVocab;
      for (int64_t v = 0; v < kVocab; ++v) row[v] = mode_ == "nan_logits" ? NAN : 0.0f;
      if (mode_ != "nan_logits") row[(positions[rows[i]] + 1) % kVocab] = 10.0f;
    }
  }

 private:
  std::string mode_;
  int calls_ = 0;
};

std::unique_ptr<mmrt::sdk::Instance> create(const MmrtCreateArgs& args) {
  const auto config =
      mmrt::sdk::json::parse(std::string_view(args.config_json, args.config_json_len), "config.json");
  return std::make_unique<MisbehavingDecoder>(
      mmrt::sdk::json::Reader(config, "config.json").get_string("misbehave", ""));
}

}  // namespace

MMRT_SDK_DEFINE_PLUGIN({.create = &create})
