#include "padder.hpp"

#include <algorithm>
#include <limits>

#include "mmrt/status.hpp"

namespace mmrt::qwen2_vl {

using sdk::require;
using sdk::str;

ExpandedPrompt expand_prompt(std::span<const int32_t> ids, int32_t image_token, std::span<const Grid> grids,
                             int64_t merge) {
  const auto n_placeholders = static_cast<size_t>(std::count(ids.begin(), ids.end(), image_token));
  require(n_placeholders == grids.size(), MMRT_STATUS_INVALID_ARGUMENT,
          str("prompt has ", n_placeholders, " image placeholder(s) (token ", image_token, ") but ",
              grids.size(), " image(s) were given"));
  std::vector<int32_t> t_row, h_row, w_row;
  ExpandedPrompt out;
  int64_t position = 0, max_position = -1, item = 0;
  auto push = [&](int32_t id, int64_t t, int64_t h, int64_t w) {
    require(std::max({t, h, w}) < std::numeric_limits<int32_t>::max(), MMRT_STATUS_INVALID_ARGUMENT,
            "prompt positions overflow int32");
    out.ids.push_back(id);
    t_row.push_back(static_cast<int32_t>(t));
    h_row.push_back(static_cast<int32_t>(h));
    w_row.push_back(static_cast<int32_t>(w));
    max_position = std::max({max_position, t, h, w});
  };
  for (int32_t id : ids) {
    if (id != image_token) {
      push(id, position, position, position);
      ++position;
      continue;
    }
    const Grid& g = grids[static_cast<size_t>(item)];
    require(g.t > 0 && g.h > 0 && g.w > 0 && g.h % merge == 0 && g.w % merge == 0,
            MMRT_STATUS_INVALID_ARGUMENT,
            str("image ", item, " has grid (", g.t, ", ", g.h, ", ", g.w, "), not whole ", merge, "x", merge,
                " windows"));
    const int64_t gh = g.h / merge, gw = g.w / merge;
    out.ranges.push_back({item, static_cast<int64_t>(out.ids.size()), g.t * gh * gw});
    for (int64_t t = 0; t < g.t; ++t) {
      for (int64_t h = 0; h < gh; ++h) {
        for (int64_t w = 0; w < gw; ++w) push(image_token, position + t, position + h, position + w);
      }
    }
    position += std::max(gh, gw);
    ++item;
  }
  out.positions = std::move(t_row);
  out.positions.insert(out.positions.end(), h_row.begin(), h_row.end());
  out.positions.insert(out.positions.end(), w_row.begin(), w_row.end());
  out.next_position_delta = max_position + 1 - static_cast<int64_t>(out.ids.size());
  return out;
}

void Qwen2VLPadder::expand(const MmrtPadArgs& args) {
  require(args.emit != nullptr && (args.n_ids == 0 || args.ids != nullptr) &&
              (args.n_items == 0 || args.item_n_tokens != nullptr) && args.n_ids >= 0 && args.n_items >= 0,
          MMRT_STATUS_INVALID_ARGUMENT, "MmrtPadArgs has NULL arrays or negative counts");
  require(MMRT_HAS_FIELD(&args, MmrtPadArgs, emit_positions) && args.emit_positions != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT, "the padder needs emit_positions (M-RoPE)");
  require(args.n_items == 0 || (MMRT_HAS_FIELD(&args, MmrtPadArgs, item_data) && args.item_data != nullptr),
          MMRT_STATUS_INVALID_ARGUMENT, "the padder needs the items' metadata (ABI 1.1 item_data)");
  std::vector<Grid> grids;
  for (int64_t i = 0; i < args.n_items; ++i) {
    const Grid g = item_grid(args.item_data[i], i);
    require(g.n_patches() == args.item_n_tokens[i] * merge_ * merge_, MMRT_STATUS_INVALID_ARGUMENT,
            str("item ", i, " has n_tokens ", args.item_n_tokens[i], " but grid (", g.t, ", ", g.h, ", ", g.w,
                ")"));
    grids.push_back(g);
  }
  const ExpandedPrompt expanded =
      expand_prompt({args.ids, static_cast<size_t>(args.n_ids)}, image_token_, grids, merge_);
  const auto n = static_cast<int64_t>(expanded.ids.size());
  sdk::check(args.emit(args.host_ctx, expanded.ids.data(), n, expanded.ranges.data(),
                       static_cast<int64_t>(expanded.ranges.size())),
             "emitting the expanded prompt");
  sdk::check(args.emit_positions(args.host_ctx, expanded.positions.data(), n, expanded.next_position_delta),
             "emitting the M-RoPE positions");
}

}  // namespace mmrt::qwen2_vl
