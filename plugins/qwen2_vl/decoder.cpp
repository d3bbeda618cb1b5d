#include "decoder.hpp"

#include "mmrt/ops.hpp"
#include "mmrt/status.hpp"

namespace mmrt::qwen2_vl {

using sdk::require;
using sdk::str;
using sdk::TensorView;

Qwen2VLDecoder::Qwen2VLDecoder(Qwen2VLModel& model, MmrtDevice device, MmrtDataType compute_dtype)
    : model_(model), compute_dtype_(compute_dtype), kernels_(sdk::Ops::host_kernels()), scratch_(device) {}

void Qwen2VLDecoder::forward(const MmrtDecodeArgs& args) {
  sdk::blocks::LlamaModel& language_model = model_.language_model;
  const sdk::Ops ops(kernels_, args.stream);
  scratch_.reset();

  const int64_t n = args.n_tokens, D = language_model.config().hidden_size;
  require(
      args.input_ids != nullptr && args.positions != nullptr && args.layout != nullptr && args.kv != nullptr,
      MMRT_STATUS_INVALID_ARGUMENT, "forward needs input_ids, positions, layout and kv");
  const TensorView input_ids(*args.input_ids);
  const TensorView positions(*args.positions);
  require(input_ids.ndim() == 1 && input_ids.dim(0) == n && positions.ndim() == 2 && positions.dim(0) == 3 &&
              positions.dim(1) == n,
          MMRT_STATUS_INVALID_ARGUMENT,
          str("input_ids ", input_ids.describe(), " must be [", n, "] and positions ", positions.describe(),
              " [3, ", n, "]"));
  if (n == 0) return;

  TensorView inputs_embeds = scratch_.tensor(compute_dtype_, {n, D});
  language_model.embed(ops, input_ids, inputs_embeds);
  if (args.embeds != nullptr) {
    require(args.embeds_rows != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "embeds given without embeds_rows");
    ops.scatter_rows(TensorView(*args.embeds), TensorView(*args.embeds_rows), inputs_embeds);
  }
  language_model.layers(ops, scratch_, inputs_embeds, positions, args.layout, args.kv);
  if (args.logits_rows != nullptr && args.logits != nullptr) {
    language_model.logits(ops, scratch_, inputs_embeds, TensorView(*args.logits_rows),
                          TensorView(*args.logits));
  }
}

}  // namespace mmrt::qwen2_vl
