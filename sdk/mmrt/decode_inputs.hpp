// The pieces of MmrtDecodeArgs every decoder-only forward reads first: the batch's token ids and positions,
// checked, and the injection of the host's multimodal rows into the token embeddings.
//
//   const sdk::DecodeInputs in = sdk::decode_inputs(args, /*position_axes=*/1);
//   if (in.n_tokens == 0) return;
//   language_model.embed(ops, in.input_ids, inputs_embeds);
//   sdk::inject_embeds(ops, args, inputs_embeds);
#ifndef MMRT_SDK_DECODE_INPUTS_HPP_
#define MMRT_SDK_DECODE_INPUTS_HPP_

#include <mmrt_abi.h>

#include <cstdint>

#include "mmrt/ops.hpp"
#include "mmrt/status.hpp"
#include "mmrt/tensor.hpp"

namespace mmrt::sdk {

struct DecodeInputs {
  int64_t n_tokens = 0;
  TensorView input_ids;  // [n_tokens] int32
  TensorView positions;  // [n_tokens], or [3, n_tokens] for multimodal RoPE
};

// Throws INVALID_ARGUMENT unless args carries ids [n] and positions [n] (position_axes 1) or [3, n] (3),
// a layout and the KV layers.
inline DecodeInputs decode_inputs(const MmrtDecodeArgs& args, int32_t position_axes) {
  require(
      args.input_ids != nullptr && args.positions != nullptr && args.layout != nullptr && args.kv != nullptr,
      MMRT_STATUS_INVALID_ARGUMENT, "forward needs input_ids, positions, layout and kv");
  DecodeInputs in{args.n_tokens, TensorView(*args.input_ids), TensorView(*args.positions)};
  const int64_t n = in.n_tokens;
  const bool positions_ok =
      position_axes == 3 ? in.positions.ndim() == 2 && in.positions.dim(0) == 3 && in.positions.dim(1) == n
                         : in.positions.ndim() == 1 && in.positions.dim(0) == n;
  require(in.input_ids.ndim() == 1 && in.input_ids.dim(0) == n && positions_ok, MMRT_STATUS_INVALID_ARGUMENT,
          str("input_ids ", in.input_ids.describe(), " must be [", n, "] and positions ",
              in.positions.describe(), position_axes == 3 ? " [3, " : " [", n, "]"));
  return in;
}

// Overwrites the rows of inputs_embeds that args.embeds_rows names with args.embeds (image rows), if any.
inline void inject_embeds(const Ops& ops, const MmrtDecodeArgs& args, const TensorView& inputs_embeds) {
  if (args.embeds == nullptr) return;
  require(args.embeds_rows != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "embeds given without embeds_rows");
  ops.scatter_rows(TensorView(*args.embeds), TensorView(*args.embeds_rows), inputs_embeds);
}

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_DECODE_INPUTS_HPP_
