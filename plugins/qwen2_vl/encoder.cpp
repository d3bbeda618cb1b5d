#include "encoder.hpp"

#include <vector>

#include "mmrt/ops.hpp"
#include "mmrt/status.hpp"

namespace mmrt::qwen2_vl {

using sdk::require;
using sdk::str;
using sdk::TensorView;

Qwen2VLEncoder::Qwen2VLEncoder(Qwen2VLModel& model, MmrtDevice device, MmrtDataType compute_dtype)
    : model_(model), compute_dtype_(compute_dtype), kernels_(sdk::Ops::host_kernels()), scratch_(device) {}

void Qwen2VLEncoder::encode(const MmrtEncodeArgs& args) {
  const VisionConfig& vc = model_.config.vision_config;
  const sdk::Ops ops(kernels_, args.stream);
  scratch_.reset();

  const int64_t n = args.n_items, D = model_.config.text_config.hidden_size;
  require(args.struct_size >= MMRT_SIZEOF(MmrtEncodeArgs, item_data) && args.item_data != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT, "encode needs the items' metadata (ABI 1.1 item_data)");
  require(n > 0 && args.pixel_values != nullptr && args.embeds != nullptr && args.item_n_tokens != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT, "encode needs items, pixel_values, item_n_tokens and embeds");
  std::vector<Grid> grids;
  int64_t rows = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Grid g = item_grid(args.item_data[i], i);
    require(args.item_n_tokens[i] * vc.merge_unit() == g.n_patches(), MMRT_STATUS_INVALID_ARGUMENT,
            str("item ", i, " has n_tokens ", args.item_n_tokens[i], " but grid (", g.t, ", ", g.h, ", ", g.w,
                ")"));
    grids.push_back(g);
    rows += args.item_n_tokens[i];
  }
  TensorView pixels(*args.pixel_values);
  TensorView embeds(*args.embeds);
  require(embeds.ndim() == 2 && embeds.dim(0) == rows && embeds.dim(1) == D, MMRT_STATUS_INVALID_ARGUMENT,
          str("embeds ", embeds.describe(), ", expected [", rows, ", ", D, "]"));
  require(pixels.ndim() == 2 && pixels.compact(), MMRT_STATUS_INVALID_ARGUMENT,
          str("pixel_values ", pixels.describe(), " are not [patches, ", vc.patch_dim(), "]"));
  if (!sdk::same(pixels.dtype(), compute_dtype_)) {
    TensorView converted = scratch_.tensor(compute_dtype_, {pixels.dim(0), pixels.dim(1)});
    ops.copy(pixels, converted);
    pixels = converted;
  }
  model_.visual.forward(ops, scratch_, pixels, grids, embeds);
}

}  // namespace mmrt::qwen2_vl
