#include "model.hpp"

namespace mmrt::qwen2_vl {

sdk::NameMapper checkpoint_layouts() {
  return sdk::NameMapper({
      {"model.visual.", "visual."},         // hub
      {"model.language_model.", "model."},  // hub
  });
}

Qwen2VLModel::Qwen2VLModel(const Qwen2VLConfig& c, sdk::Weights& w, MmrtDevice device)
    : config(c),
      visual(c.vision_config, w, "model.visual.", device),
      language_model(c.text_config, w, "model.language_model.", "lm_head.weight", device) {}

}  // namespace mmrt::qwen2_vl
