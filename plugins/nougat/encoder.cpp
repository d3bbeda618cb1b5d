#include "encoder.hpp"

#include "mmrt/ops.hpp"
#include "mmrt/status.hpp"

namespace mmrt::nougat {

using sdk::require;
using sdk::str;
using sdk::TensorView;

NougatEncoder::NougatEncoder(NougatModel& model, MmrtDevice device, MmrtDataType compute_dtype)
    : model_(model), compute_dtype_(compute_dtype), kernels_(sdk::Ops::host_kernels()), scratch_(device) {}

void NougatEncoder::encode(const MmrtEncodeArgs& args) {
  const NougatConfig& c = model_.config;
  const sdk::Ops ops(kernels_, args.stream);
  scratch_.reset();
  require(args.n_items > 0 && args.pixel_values != nullptr && args.embeds != nullptr &&
              args.item_n_tokens != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT, "encode needs items, pixel_values, item_n_tokens and embeds");
  // The processor writes [3, H, W] per page; the host concatenates them along dim 0.
  const TensorView pixels_in(*args.pixel_values);
  const int64_t n = args.n_items, C = c.encoder.num_channels;
  require(pixels_in.ndim() >= 3 && pixels_in.compact() &&
              pixels_in.numel() == n * C * pixels_in.dim(-2) * pixels_in.dim(-1),
          MMRT_STATUS_INVALID_ARGUMENT,
          str("pixel_values ", pixels_in.describe(), " do not hold ", n, " pages of [", C, ", H, W]"));
  const int64_t height = pixels_in.dim(-2), width = pixels_in.dim(-1);
  const int64_t rows = swin_output_rows(c.encoder, height, width);
  for (int64_t i = 0; i < n; ++i) {
    require(args.item_n_tokens[i] == rows, MMRT_STATUS_INVALID_ARGUMENT,
            str("item ", i, " has n_tokens ", args.item_n_tokens[i], ", a ", height, "x", width,
                " page gives ", rows));
  }
  const TensorView embeds(*args.embeds);
  require(embeds.ndim() == 2 && embeds.dim(0) == n * rows && embeds.dim(1) == c.decoder.d_model,
          MMRT_STATUS_INVALID_ARGUMENT,
          str("embeds ", embeds.describe(), ", expected [", n * rows, ", ", c.decoder.d_model, "]"));

  TensorView pixels = pixels_in.reshape({n, C, height, width});
  if (!sdk::same(pixels_in.dtype(), compute_dtype_)) {
    pixels = scratch_.tensor(compute_dtype_, {n, C, height, width});
    ops.copy(pixels_in.reshape({n, C * height * width}), pixels.reshape({n, C * height * width}));
  }
  if (!c.has_enc_to_dec_proj()) {
    model_.encoder.forward(ops, scratch_, pixels, embeds);
    return;
  }
  TensorView memory = scratch_.tensor(compute_dtype_, {n * rows, c.encoder.hidden_size()});
  model_.encoder.forward(ops, scratch_, pixels, memory);
  ops.linear(memory, model_.enc_to_dec_proj.weight, model_.enc_to_dec_proj.bias, embeds);
}

}  // namespace mmrt::nougat
