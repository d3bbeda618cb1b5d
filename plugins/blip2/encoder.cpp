#include "encoder.hpp"

#include "mmrt/ops.hpp"
#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::require;
using sdk::str;
using sdk::TensorView;

Blip2Encoder::Blip2Encoder(const Blip2Model& model, MmrtDevice device, MmrtDataType compute_dtype)
    : model_(model), compute_dtype_(compute_dtype), kernels_(sdk::Ops::host_kernels()), scratch_(device) {}

void Blip2Encoder::encode(const MmrtEncodeArgs& args) {
  const Blip2Config& c = model_.config;
  const sdk::Ops ops(kernels_, args.stream);
  scratch_.reset();

  const int64_t n = args.n_items, S = c.vision_config.image_size, P = c.vision_config.n_positions();
  const int64_t Q = c.num_query_tokens, Dv = c.vision_config.hidden_size, Dq = c.qformer_config.hidden_size;
  const int64_t D = embed_dim();
  require(n > 0 && args.pixel_values != nullptr && args.embeds != nullptr && args.item_n_tokens != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT, "encode needs items, pixel_values, item_n_tokens and embeds");
  for (int64_t i = 0; i < n; ++i) {
    require(args.item_n_tokens[i] == Q, MMRT_STATUS_INVALID_ARGUMENT,
            str("item ", i, " has n_tokens ", args.item_n_tokens[i], ", this model makes ", Q, " per image"));
  }
  // The processor writes [3, S, S] per image; the host concatenates them along dim 0.
  const TensorView pixels_in(*args.pixel_values);
  require(pixels_in.numel() == n * 3 * S * S && pixels_in.compact(), MMRT_STATUS_INVALID_ARGUMENT,
          str("pixel_values ", pixels_in.describe(), " do not hold ", n, " images of [3, ", S, ", ", S, "]"));
  const TensorView embeds(*args.embeds);
  require(embeds.ndim() == 2 && embeds.dim(0) == n * Q && embeds.dim(1) == D, MMRT_STATUS_INVALID_ARGUMENT,
          str("embeds ", embeds.describe(), ", expected [", n * Q, ", ", D, "]"));

  TensorView pixels = pixels_in.reshape({n, 3, S, S});
  if (!sdk::same(pixels.dtype(), compute_dtype_)) {
    TensorView converted = scratch_.tensor(compute_dtype_, {n, 3, S, S});
    ops.copy(pixels.reshape({n * 3 * S, S}), converted.reshape({n * 3 * S, S}));
    pixels = converted;
  }
  TensorView image_embeds = scratch_.tensor(compute_dtype_, {n * P, Dv});
  model_.vision_model.forward(ops, scratch_, pixels, image_embeds);
  TensorView query_output = scratch_.tensor(compute_dtype_, {n * Q, Dq});
  model_.qformer.forward(ops, scratch_, image_embeds, P, query_output);
  ops.linear(query_output, model_.language_projection.weight, model_.language_projection.bias, embeds);
}

}  // namespace mmrt::blip2
