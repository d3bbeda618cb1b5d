#include "model.hpp"

namespace mmrt::nougat {

sdk::NameMapper checkpoint_layouts() {
  return sdk::NameMapper();
}

namespace {

sdk::blocks::Linear load_enc_to_dec_proj(sdk::Weights& w, const NougatConfig& c) {
  if (!c.has_enc_to_dec_proj()) return {};
  return sdk::blocks::load_linear(w, "enc_to_dec_proj", c.decoder.d_model, c.encoder.hidden_size(), true);
}

}  // namespace

NougatModel::NougatModel(const NougatConfig& c, sdk::Weights& w, MmrtDevice device)
    : config(c),
      encoder(c.encoder, w, "encoder.", device),
      enc_to_dec_proj(load_enc_to_dec_proj(w, c)),
      decoder(c.decoder, w, "decoder.model.decoder.", "decoder.lm_head.weight") {}

}  // namespace mmrt::nougat
