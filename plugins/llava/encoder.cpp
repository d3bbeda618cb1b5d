#include "encoder.hpp"

#include <vector>

#include "mmrt/ops.hpp"
#include "mmrt/status.hpp"

namespace mmrt::llava {

using sdk::require;
using sdk::str;
using sdk::TensorView;

LlavaEncoder::LlavaEncoder(const LlavaModel& model, MmrtDevice device, MmrtDataType compute_dtype)
    : model_(model), compute_dtype_(compute_dtype), kernels_(sdk::Ops::host_kernels()), scratch_(device) {}

void LlavaEncoder::encode(const MmrtEncodeArgs& args) {
  const LlavaConfig& c = model_.config;
  const sdk::blocks::ClipVisionConfig& vc = c.vision_config;
  const sdk::Ops ops(kernels_, args.stream);
  scratch_.reset();

  const int64_t n = args.n_items, S = vc.image_size, C = vc.num_channels, Dv = vc.hidden_size;
  const int64_t P = vc.n_positions(), T = c.image_seq_length(), D = c.text_config.hidden_size;
  require(n > 0 && args.pixel_values != nullptr && args.embeds != nullptr && args.item_n_tokens != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT, "encode needs items, pixel_values, item_n_tokens and embeds");
  for (int64_t i = 0; i < n; ++i) {
    require(args.item_n_tokens[i] == T, MMRT_STATUS_INVALID_ARGUMENT,
            str("item ", i, " has n_tokens ", args.item_n_tokens[i], ", this model makes ", T, " per image"));
  }
  // The processor writes [1, C, S, S] per image; the host concatenates them along dim 0.
  TensorView pixels_in(*args.pixel_values);
  require(pixels_in.numel() == n * C * S * S && pixels_in.compact(), MMRT_STATUS_INVALID_ARGUMENT,
          str("pixel_values ", pixels_in.describe(), " do not hold ", n, " images of [", C, ", ", S, ", ", S,
              "]"));
  TensorView embeds(*args.embeds);
  require(embeds.ndim() == 2 && embeds.dim(0) == n * T && embeds.dim(1) == D, MMRT_STATUS_INVALID_ARGUMENT,
          str("embeds ", embeds.describe(), ", expected [", n * T, ", ", D, "]"));

  TensorView pixels = pixels_in.reshape({n, C, S, S});
  if (!sdk::same(pixels.dtype(), compute_dtype_)) {
    TensorView converted = scratch_.tensor(compute_dtype_, {n, C, S, S});
    ops.copy(pixels.reshape({n * C * S, S}), converted.reshape({n * C * S, S}));
    pixels = converted;
  }

  // vision_tower: selected hidden states side by side -> features [n·P, Dv · n_layers]
  const std::vector<int64_t> select = c.hidden_state_indices();
  const int64_t n_select = static_cast<int64_t>(select.size());
  TensorView features = scratch_.tensor(compute_dtype_, {n * P, Dv * n_select});
  std::vector<TensorView> feature_slots;
  for (int64_t j = 0; j < n_select; ++j) {
    feature_slots.push_back(n_select == 1 ? features : features.cols(j * Dv, Dv));
  }
  model_.vision_tower.forward(ops, scratch_, pixels, select, feature_slots);

  // vision_feature_select_strategy -> image_features [n·T, Dv · n_layers]
  TensorView image_features = features;
  switch (c.vision_feature_select_strategy) {
    case FeatureSelect::default_:
      image_features = scratch_.tensor(compute_dtype_, {n * T, Dv * n_select});
      for (int64_t img = 0; img < n; ++img) {
        ops.copy(features.rows(img * P + 1, T), image_features.rows(img * T, T));  // drop the CLS row
      }
      break;
    case FeatureSelect::full:
      break;
  }

  // multi_modal_projector
  const MultiModalProjector& proj = model_.multi_modal_projector;
  TensorView hidden = scratch_.tensor(compute_dtype_, {n * T, D});
  ops.linear(image_features, proj.linear_1.weight, proj.linear_1.bias, hidden);
  ops.activation(c.projector_hidden_act, hidden, hidden);
  ops.linear(hidden, proj.linear_2.weight, proj.linear_2.bias, embeds);
}

}  // namespace mmrt::llava
