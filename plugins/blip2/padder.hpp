// padder role: puts the image's query rows in front of the tokenized prompt.
//
// BLIP-2 prompts carry no image placeholder: Transformers 5's Blip2Processor prepends num_query_tokens
// image tokens (image_token_index) to the text's own tokenization, BOS included, so the language model sees
// [image × Q, BOS, text...] and the decoder overwrites the Q rows with the projected queries. The padder
// does the same, so prompt_token_ids equals the processor's input_ids. One image per prompt, as the
// processor allows; a text-only prompt passes through unchanged.
//
// Checkpoints without image_token_index (saved before Transformers added it) ran the same sequence through
// a legacy path that concatenates the query embeddings before the text embeddings; their placeholder rows
// are filled with text_config.pad_token_id instead, so the language model sees the same inputs while
// prompt_token_ids shows Q pad ids in front of BOS (that processor's input_ids had none).
//
// Worked example (blip2-opt-2.7b): "Question: what is this? Answer:" -> [2, 45641, 35, ...] (9 ids);
// with one image it becomes 32 × 50265 followed by those 9 ids, range {item 0, offset 0, length 32}.
#ifndef MMRT_PLUGINS_BLIP2_PADDER_HPP_
#define MMRT_PLUGINS_BLIP2_PADDER_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <span>
#include <vector>

#include "mmrt/plugin.hpp"

namespace mmrt::blip2 {

struct ExpandedPrompt {
  std::vector<int32_t> ids;
  std::vector<MmrtPlaceholderRange> ranges;
};

// Pure: item_n_tokens[0] copies of `placeholder` before `ids`, or `ids` alone without items. Throws
// INVALID_ARGUMENT for more than one item, an item without tokens, or, when `placeholder_is_image_token`,
// a prompt that already holds the image token (Transformers fails on it too: it finds more image rows
// than query outputs).
ExpandedPrompt prepend_query_tokens(std::span<const int32_t> ids, int32_t placeholder,
                                    std::span<const int64_t> item_n_tokens, bool placeholder_is_image_token);

// [thread-safe]: stateless apart from the placeholder id.
class Blip2Padder : public sdk::Padder {
 public:
  Blip2Padder(int32_t placeholder, bool placeholder_is_image_token)
      : placeholder_(placeholder), placeholder_is_image_token_(placeholder_is_image_token) {}
  void expand(const MmrtPadArgs& args) override;

 private:
  int32_t placeholder_;
  bool placeholder_is_image_token_;
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_PADDER_HPP_
