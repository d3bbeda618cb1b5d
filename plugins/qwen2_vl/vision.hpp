// The Qwen2-VL vision tower (Transformers' Qwen2VisionTransformerPretrainedModel, weights "visual.*"), from
// flattened patches to language-model rows.
//
//   patches [N, C·t·p·p]  --patch_embed.proj (Conv3d with kernel = stride, no bias: a linear)-->  [N, E]
//   block k (pre-norm):   h = h + attn.proj(attn(norm1(h)))        qkv one linear [3E, E], rows q | k | v
//                         h = h + mlp.fc2(act(mlp.fc1(norm2(h))))
//     attn: 2-D RoPE on q and k (below), full attention within each image frame, none across images
//           (one attention_varlen call for all frames of the batch)
//   merger: ln_q(h) viewed [N/m², m²·E] (a 2x2 window's patches are consecutive rows) -> mlp.0 -> GELU
//           -> mlp.2 -> [N/m², D]
//
// 2-D RoPE: HF rotates q/k with cat(rot, rot), rot = cat(row·inv_freq, col·inv_freq), inv_freq over
// head_dim / 2. That is the host's multimodal rope with positions (0, row, col), mrope_section
// {0, Dh/4, Dh/4} and inv_freq repeated twice, which is how forward() calls it.
//
// Worked example (tests/fixtures/qwen2_vl, 56x84 image, patch 14, merge 2): grid (1, 4, 6), N = 24 patches
// of 3·2·14·14 = 1176 values; patch rows are window-major (rows 0..3 = the top-left 2x2 window), so patch 5
// is at (row 0, col 3); the merger makes 24 / 4 = 6 rows of the language model's hidden size.
#ifndef MMRT_PLUGINS_QWEN2_VL_VISION_HPP_
#define MMRT_PLUGINS_QWEN2_VL_VISION_HPP_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/device_table.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::qwen2_vl {

// One image's patch grid: t frames of h x w patches.
struct Grid {
  int64_t t = 0, h = 0, w = 0;
  int64_t n_patches() const { return t * h * w; }
};

// The item's "image_grid_thw" metadata (int64 [3], written by the processor); INVALID_ARGUMENT naming
// `item` when absent or malformed.
Grid item_grid(const MmrtItemData* data, int64_t item);

// Rotary positions of every patch, (0, row, col) per patch in the processor's window-major order:
// int32 [3, Σ n_patches]. Pure; `merge` is spatial_merge_size.
std::vector<int32_t> vision_rope_positions(std::span<const Grid> grids, int64_t merge);

// inv_freq of the tower's 2-D rotary embedding, repeated twice: f32 [head_dim / 2].
std::vector<float> vision_rope_inv_freq(int64_t head_dim, double theta);

class VisionTower {
 public:
  struct Block {
    sdk::blocks::LayerNorm norm1, norm2;  // eps 1e-6
    sdk::blocks::Linear q, k, v;          // row slices of attn.qkv [3E, E] (+ bias)
    sdk::blocks::Linear proj;             // attn.proj [E, E] (+ bias)
    sdk::blocks::Linear fc1, fc2;         // mlp.fc1 [I, E], mlp.fc2 [E, I] (+ bias)
  };

  // Loads "<prefix>patch_embed.*", "<prefix>blocks.{i}.*", "<prefix>merger.*".
  VisionTower(const VisionConfig& config, sdk::Weights& w, const std::string& prefix, MmrtDevice device);

  // patches [N, patch_dim] in the compute dtype (the items' rows concatenated), grids one per item
  // (Σ n_patches = N) -> out [N / merge², hidden_size].
  void forward(const sdk::Ops& ops, sdk::Scratch& scratch, const sdk::TensorView& patches,
               std::span<const Grid> grids, const sdk::TensorView& out);

 private:
  VisionConfig config_;
  MmrtDevice device_;
  sdk::TensorView
      patch_embed_;  // [E, patch_dim]: the Conv3d weight [E, C, t, p, p] flattened (a matmul weight)
  std::vector<Block> blocks_;
  sdk::blocks::LayerNorm ln_q_;
  sdk::blocks::Linear mlp0_, mlp2_;  // merger.mlp.0 [m²E, m²E], merger.mlp.2 [D, m²E]
  sdk::DeviceTable inv_freq_;
  std::vector<int32_t> positions_;  // host copy of this call's rotary positions (the upload's source)
};

}  // namespace mmrt::qwen2_vl

#endif  // MMRT_PLUGINS_QWEN2_VL_VISION_HPP_
