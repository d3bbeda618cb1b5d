// padder role: expands each image placeholder token into its image's run of embedding rows.
//
// The tokenized prompt holds one `image_token_index` per image, in image order; each becomes n_tokens
// copies of itself, whose rows the decoder overwrites with that image's embeddings.
//
// Worked example (tests/fixtures/llava/llava_default, 16 tokens per image): "USER: <image>\nWhat is this?
// ASSISTANT:" tokenizes to [1, 318, 599, 600, 599, 13, 572, ...] with <image> = 600 at index 3; it becomes 16
// copies of 600 at indices 3..18, the ids after it shift by 15, and the range is {item 0, offset 3,
// length 16}. llava-1.5-7b does the same with id 32000 and 576 copies.
#ifndef MMRT_PLUGINS_LLAVA_PADDER_HPP_
#define MMRT_PLUGINS_LLAVA_PADDER_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <span>
#include <vector>

#include "mmrt/plugin.hpp"

namespace mmrt::llava {

struct ExpandedPrompt {
  std::vector<int32_t> ids;
  std::vector<MmrtPlaceholderRange> ranges;  // one per item, in prompt order
};

// Pure: placeholder i (the i-th `image_token` in `ids`) expands to item_n_tokens[i] copies. Throws
// INVALID_ARGUMENT when the prompt's placeholder count differs from the number of items.
ExpandedPrompt expand_image_placeholders(std::span<const int32_t> ids, int32_t image_token,
                                         std::span<const int64_t> item_n_tokens);

// [thread-safe]: stateless apart from the token id.
class LlavaPadder : public sdk::Padder {
 public:
  explicit LlavaPadder(int32_t image_token) : image_token_(image_token) {}
  void expand(const MmrtPadArgs& args) override;

 private:
  int32_t image_token_;
};

}  // namespace mmrt::llava

#endif  // MMRT_PLUGINS_LLAVA_PADDER_HPP_
