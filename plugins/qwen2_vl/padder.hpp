// padder role: expands each <|image_pad|> into its image's run of tokens and computes the three-row M-RoPE
// positions Transformers' Qwen2VLModel.get_rope_index gives them.
//
// Text tokens take the next position on all three rows. An image of grid (t, gh, gw) with merge m becomes
// t·(gh/m)·(gw/m) tokens, row-major over (t, h, w); starting at the current position s, its tokens get
// (s + t_i, s + h_i, s + w_i), and the text after it continues at s + max(gh/m, gw/m). Generated tokens
// take index + delta on every row, delta = max position + 1 - prompt length.
//
// Worked example (merge 2): ids [A, B, <|vision_start|>, <|image_pad|>, <|vision_end|>, C] with one image of
// grid (1, 4, 6): the pad becomes 1·2·3 = 6 tokens at indices 3..8; rows t/h/w are A,B,vs: 0 1 2; image
// t: 3 3 3 3 3 3, h: 3 3 3 4 4 4, w: 3 4 5 3 4 5; then ve, C: 6 7 on all rows (3 + max(2, 3)); delta =
// 7 + 1 - 11 = -3.
#ifndef MMRT_PLUGINS_QWEN2_VL_PADDER_HPP_
#define MMRT_PLUGINS_QWEN2_VL_PADDER_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <span>
#include <vector>

#include "mmrt/plugin.hpp"
#include "vision.hpp"

namespace mmrt::qwen2_vl {

struct ExpandedPrompt {
  std::vector<int32_t> ids;
  std::vector<MmrtPlaceholderRange> ranges;  // one per item, in prompt order
  std::vector<int32_t> positions;            // [3, ids.size()]: the t, h and w rows
  int64_t next_position_delta = 0;
};

// Pure: placeholder i (the i-th `image_token` in `ids`) expands to the tokens of grids[i]. Throws
// INVALID_ARGUMENT when the placeholder count differs from the number of grids.
ExpandedPrompt expand_prompt(std::span<const int32_t> ids, int32_t image_token, std::span<const Grid> grids,
                             int64_t merge);

// [thread-safe]: stateless apart from the token id and the merge size.
class Qwen2VLPadder : public sdk::Padder {
 public:
  Qwen2VLPadder(int32_t image_token, int64_t merge) : image_token_(image_token), merge_(merge) {}
  void expand(const MmrtPadArgs& args) override;

 private:
  int32_t image_token_;
  int64_t merge_;
};

}  // namespace mmrt::qwen2_vl

#endif  // MMRT_PLUGINS_QWEN2_VL_PADDER_HPP_
