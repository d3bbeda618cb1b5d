// The Donut-Swin encoder (Liu et al. 2021, "Swin Transformer"; Transformers' DonutSwinModel), loaded by HF
// module name and run on a batch of equally sized images.
//
//   pixels [C, H, W] --embeddings.patch_embeddings.projection (conv p×p stride p, bias)--> [H/p · W/p, E]
//   embeddings.norm (LayerNorm)
//   stage s (channels E·2^s), block b (shift = window/2 for odd b, else 0):
//     x = layernorm_before(h); pad the grid right/bottom to multiples of the window with zero rows;
//     roll by -shift; partition into window×window windows (row-major windows, row-major tokens)
//     attention within each window: query/key/value, scores /sqrt(Dh) + relative position bias
//     (+ -100 between regions of a shifted grid that the roll brought together); attention.output.dense
//     reverse the partition, roll back, drop the padding; h = h + that
//     h = h + output.dense(act(intermediate.dense(layernorm_after(h))))
//   after every stage but the last, downsample: cat(x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2])
//     (odd grids padded with zero rows) -> norm -> reduction (no bias)  [H/2 · W/2, 2C]
//   last_hidden_state: h of the last stage (DonutSwinModel has no final norm)
//
// Partition, roll, padding and merging are row gathers from tables computed once per image size (a zero
// row after the real rows stands for padding). All windows of a block go to the kernel in one
// attention_varlen call with bias_period = windows per image.
//
// Worked example (facebook/nougat-base): 896×672 pixels, p = 4 -> 224×168 = 37632 rows of 128; windows 7×7:
// stage 0 has 32·24 = 768 windows per image, stages 1-3 run at 112×84, 56×42, 28×21; the output is
// 28·21 = 588 rows of 1024.
//
// Threading: forward() is [serialized-per-instance] (it caches per-size tables); the weights are shared.
#ifndef MMRT_PLUGINS_NOUGAT_SWIN_HPP_
#define MMRT_PLUGINS_NOUGAT_SWIN_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::nougat {

// Rows × columns of the token grid at each stage for an image of height × width pixels.
struct SwinGrid {
  int64_t height, width;
};
std::vector<SwinGrid> swin_stage_grids(const SwinConfig& config, int64_t height, int64_t width);
// Rows of last_hidden_state for one image of height × width pixels.
int64_t swin_output_rows(const SwinConfig& config, int64_t height, int64_t width);

class SwinEncoder {
 public:
  struct Block {
    sdk::blocks::LayerNorm layernorm_before;
    sdk::blocks::Linear query, key, value;         // attention.self.*            [C, C]
    sdk::TensorView relative_position_bias_table;  // attention.self.*          [(2w-1)², heads]
    sdk::blocks::Linear attention_output;          // attention.output.dense      [C, C]
    sdk::blocks::LayerNorm layernorm_after;
    sdk::blocks::Linear intermediate;  // intermediate.dense          [mlp, C]
    sdk::blocks::Linear output;        // output.dense                [C, mlp]
  };
  struct Stage {
    std::vector<Block> blocks;
    bool has_downsample = false;
    sdk::blocks::LayerNorm downsample_norm;    // [4C]
    sdk::blocks::Linear downsample_reduction;  // [2C, 4C], no bias
  };

  // Loads the encoder under `prefix` ("encoder.").
  SwinEncoder(const SwinConfig& config, sdk::Weights& w, const std::string& prefix, MmrtDevice device);
  ~SwinEncoder();

  const SwinConfig& config() const { return config_; }

  // pixels [n_images, C, H, W] in the compute dtype -> out [n_images · swin_output_rows, hidden_size].
  void forward(const sdk::Ops& ops, sdk::Scratch& scratch, const sdk::TensorView& pixels,
               const sdk::TensorView& out);

 private:
  struct Plan;
  const Plan& plan_for(const sdk::Ops& ops, int64_t n_images, int64_t height, int64_t width);

  SwinConfig config_;
  MmrtDevice device_;
  sdk::TensorView patch_projection_weight_;  // embeddings.patch_embeddings.projection [E, C, p, p]
  sdk::TensorView patch_projection_bias_;    // [E]
  sdk::blocks::LayerNorm embeddings_norm_;   // [E]
  std::vector<Stage> stages_;
  // Index and bias tables per (n_images, height, width) seen so far.
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans_;
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_SWIN_HPP_
