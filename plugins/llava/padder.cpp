#include "padder.hpp"

#include <algorithm>

#include "mmrt/status.hpp"

namespace mmrt::llava {

using sdk::require;
using sdk::str;

ExpandedPrompt expand_image_placeholders(std::span<const int32_t> ids, int32_t image_token,
                                         std::span<const int64_t> item_n_tokens) {
  const auto n_placeholders = static_cast<size_t>(std::count(ids.begin(), ids.end(), image_token));
  require(n_placeholders == item_n_tokens.size(), MMRT_STATUS_INVALID_ARGUMENT,
          str("prompt has ", n_placeholders, " image placeholder(s) (token ", image_token, ") but ",
              item_n_tokens.size(), " image(s) were given"));
  ExpandedPrompt out;
  int64_t total = static_cast<int64_t>(ids.size());
  for (int64_t n : item_n_tokens) {
    require(n > 0, MMRT_STATUS_INVALID_ARGUMENT, str("an image has ", n, " tokens"));
    total += n - 1;
  }
  out.ids.reserve(static_cast<size_t>(total));
  out.ranges.reserve(item_n_tokens.size());
  int64_t item = 0;
  for (int32_t id : ids) {
    if (id != image_token) {
      out.ids.push_back(id);
      continue;
    }
    const int64_t length = item_n_tokens[item];
    out.ranges.push_back({item, static_cast<int64_t>(out.ids.size()), length});
    out.ids.insert(out.ids.end(), static_cast<size_t>(length), image_token);
    ++item;
  }
  return out;
}

void LlavaPadder::expand(const MmrtPadArgs& args) {
  require(args.emit != nullptr && (args.n_ids == 0 || args.ids != nullptr) &&
              (args.n_items == 0 || args.item_n_tokens != nullptr) && args.n_ids >= 0 && args.n_items >= 0,
          MMRT_STATUS_INVALID_ARGUMENT, "MmrtPadArgs has NULL arrays or negative counts");
  ExpandedPrompt expanded =
      expand_image_placeholders({args.ids, static_cast<size_t>(args.n_ids)}, image_token_,
                                {args.item_n_tokens, static_cast<size_t>(args.n_items)});
  sdk::check(args.emit(args.host_ctx, expanded.ids.data(), static_cast<int64_t>(expanded.ids.size()),
                       expanded.ranges.data(), static_cast<int64_t>(expanded.ranges.size())),
             "emitting the expanded prompt");
}

}  // namespace mmrt::llava
