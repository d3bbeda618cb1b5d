#include "decoder.hpp"

#include "mmrt/decode_inputs.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::TensorView;

Blip2Decoder::Blip2Decoder(const Blip2Model& model, MmrtDevice device, MmrtDataType compute_dtype)
    : model_(model), compute_dtype_(compute_dtype), kernels_(sdk::Ops::host_kernels()), scratch_(device) {}

void Blip2Decoder::forward(const MmrtDecodeArgs& args) {
  const OptDecoder& language_model = model_.language_model;
  const sdk::Ops ops(kernels_, args.stream);
  scratch_.reset();

  const sdk::DecodeInputs in = sdk::decode_inputs(args, 1);
  const int64_t n = in.n_tokens, D = language_model.config().hidden_size;
  if (n == 0) return;

  TensorView inputs_embeds = scratch_.tensor(compute_dtype_, {n, D});
  language_model.embed(ops, in.input_ids, inputs_embeds);
  sdk::inject_embeds(ops, args, inputs_embeds);
  language_model.layers(ops, scratch_, inputs_embeds, in.positions, args.layout, args.kv);
  if (args.logits_rows != nullptr && args.logits != nullptr) {
    language_model.logits(ops, scratch_, inputs_embeds, TensorView(*args.logits_rows),
                          TensorView(*args.logits));
  }
}

}  // namespace mmrt::blip2
