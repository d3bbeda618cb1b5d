#include "padder.hpp"

#include <algorithm>

#include "mmrt/status.hpp"

namespace mmrt::blip2 {

using sdk::require;
using sdk::str;

ExpandedPrompt prepend_query_tokens(std::span<const int32_t> ids, int32_t placeholder,
                                    std::span<const int64_t> item_n_tokens, bool placeholder_is_image_token) {
  require(item_n_tokens.size() <= 1, MMRT_STATUS_INVALID_ARGUMENT,
          str("BLIP-2 takes one image per prompt, ", item_n_tokens.size(), " were given"));
  require(!placeholder_is_image_token || std::find(ids.begin(), ids.end(), placeholder) == ids.end(),
          MMRT_STATUS_INVALID_ARGUMENT,
          str("the prompt contains the image token (id ", placeholder,
              "); BLIP-2 prompts are plain text and the image goes in front of them"));
  ExpandedPrompt out;
  if (!item_n_tokens.empty()) {
    const int64_t n = item_n_tokens[0];
    require(n > 0, MMRT_STATUS_INVALID_ARGUMENT, str("the image has ", n, " tokens"));
    out.ids.assign(static_cast<size_t>(n), placeholder);
    out.ranges.push_back({0, 0, n});
  }
  out.ids.insert(out.ids.end(), ids.begin(), ids.end());
  return out;
}

void Blip2Padder::expand(const MmrtPadArgs& args) {
  require(args.emit != nullptr && (args.n_ids == 0 || args.ids != nullptr) &&
              (args.n_items == 0 || args.item_n_tokens != nullptr) && args.n_ids >= 0 && args.n_items >= 0,
          MMRT_STATUS_INVALID_ARGUMENT, "MmrtPadArgs has NULL arrays or negative counts");
  ExpandedPrompt expanded = prepend_query_tokens({args.ids, static_cast<size_t>(args.n_ids)}, placeholder_,
                                                 {args.item_n_tokens, static_cast<size_t>(args.n_items)},
                                                 placeholder_is_image_token_);
  sdk::check(args.emit(args.host_ctx, expanded.ids.data(), static_cast<int64_t>(expanded.ids.size()),
                       expanded.ranges.data(), static_cast<int64_t>(expanded.ranges.size())),
             "emitting the expanded prompt");
}

}  // namespace mmrt::blip2
