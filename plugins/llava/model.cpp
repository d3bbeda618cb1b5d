#include "model.hpp"

namespace mmrt::llava {

sdk::NameMapper checkpoint_layouts() {
  return sdk::NameMapper({
      {"language_model.model.", "model.language_model."},                  // 4.52+
      {"language_model.lm_head.", "lm_head."},                             // 4.52+
      {"multi_modal_projector.", "model.multi_modal_projector."},          // 4.52+
      {"vision_tower.vision_model.", "model.vision_tower.vision_model."},  // 4.52 - 4.57
      {"vision_tower.vision_model.", "model.vision_tower."},               // 5.x drops the inner vision_model
      {"vision_tower.vision_model.", "vision_tower."},                     // 5.x save_pretrained, v4 prefixes
  });
}

namespace {

MultiModalProjector load_projector(sdk::Weights& w, const LlavaConfig& c) {
  const int64_t text_hidden = c.text_config.hidden_size;
  const bool bias = c.multimodal_projector_bias;
  return {sdk::blocks::load_linear(w, "multi_modal_projector.linear_1", text_hidden, c.projector_in(), bias),
          sdk::blocks::load_linear(w, "multi_modal_projector.linear_2", text_hidden, text_hidden, bias)};
}

}  // namespace

LlavaModel::LlavaModel(const LlavaConfig& c, sdk::Weights& w, MmrtDevice device)
    : config(c),
      vision_tower(c.vision_config, w, "vision_tower.vision_model.", c.n_vision_layers_used()),
      multi_modal_projector(load_projector(w, c)),
      language_model(c.text_config, w, "language_model.model.", "language_model.lm_head.weight", device) {}

}  // namespace mmrt::llava
