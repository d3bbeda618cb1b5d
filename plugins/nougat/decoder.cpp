#include "decoder.hpp"

#include "mmrt/ops.hpp"

namespace mmrt::nougat {

NougatDecoder::NougatDecoder(const NougatModel& model, MmrtDevice device, MmrtDataType compute_dtype,
                             int64_t max_encoder_len)
    : model_(model),
      compute_dtype_(compute_dtype),
      max_encoder_len_(max_encoder_len),
      kernels_(sdk::Ops::host_kernels()),
      scratch_(device) {}

MmrtKvSpec NougatDecoder::kv_spec() {
  const MBartDecoderConfig& c = model_.config.decoder;
  MmrtKvSpec spec{};
  spec.n_layer = static_cast<int32_t>(c.decoder_layers);
  spec.n_head_kv = static_cast<int32_t>(c.decoder_attention_heads);
  spec.head_dim = static_cast<int32_t>(c.head_dim());
  spec.dtype = compute_dtype_;
  spec.n_cross_layer = static_cast<int32_t>(c.decoder_layers);
  spec.position_axes = 1;
  spec.vocab_size = c.vocab_size;
  spec.hidden_size = c.d_model;
  spec.max_position = c.max_position_embeddings;
  spec.decoder_start_token_id = model_.config.decoder_start_token_id;
  spec.cross_n_head_kv = spec.n_head_kv;
  spec.cross_head_dim = spec.head_dim;
  spec.memory_dim = c.d_model;
  spec.max_encoder_len = max_encoder_len_;
  return spec;
}

void NougatDecoder::forward(const MmrtDecodeArgs& args) {
  const sdk::Ops ops(kernels_, args.stream);
  scratch_.reset();
  model_.decoder.forward(ops, scratch_, args);
}

}  // namespace mmrt::nougat
