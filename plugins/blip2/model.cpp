#include "model.hpp"

namespace mmrt::blip2 {

Blip2Model::Blip2Model(const Blip2Config& c, sdk::Weights& w)
    : config(c),
      vision_model(c.vision_config, w, "vision_model."),
      qformer(c.qformer_config, c.num_query_tokens, w, "qformer."),
      language_projection(sdk::blocks::load_linear(w, "language_projection", c.text_config.hidden_size,
                                                   c.qformer_config.hidden_size, true)),
      language_model(c.text_config, w, "language_model.model.decoder.", "language_model.lm_head.weight") {}

}  // namespace mmrt::blip2
