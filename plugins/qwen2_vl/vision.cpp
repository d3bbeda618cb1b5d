#include "vision.hpp"

#include <cmath>
#include <cstring>

#include "mmrt/blocks/rope.hpp"
#include "mmrt/status.hpp"

namespace mmrt::qwen2_vl {

using sdk::require;
using sdk::str;
using sdk::TensorView;
using sdk::blocks::load_layer_norm;
using sdk::blocks::load_linear;

namespace {

constexpr float kLayerNormEps = 1e-6f;  // norm1, norm2 and merger.ln_q are LayerNorm(eps=1e-6)

}  // namespace

Grid item_grid(const MmrtItemData* data, int64_t item) {
  require(data != nullptr, MMRT_STATUS_INVALID_ARGUMENT, str("item ", item, " has no metadata"));
  for (int32_t i = 0; i < data->n_tensors; ++i) {
    if (std::strcmp(data->names[i], "image_grid_thw") != 0) continue;
    const TensorView grid(*data->tensors[i]);
    require(sdk::same(grid.dtype(), sdk::kI64) && grid.numel() == 3 && grid.compact(),
            MMRT_STATUS_INVALID_ARGUMENT,
            str("item ", item, ": image_grid_thw is ", grid.describe(), ", expected int64 [3]"));
    const auto* thw = static_cast<const int64_t*>(grid.raw()->data) + grid.byte_offset() / sizeof(int64_t);
    return {thw[0], thw[1], thw[2]};
  }
  throw sdk::Error(MMRT_STATUS_INVALID_ARGUMENT, str("item ", item, " has no image_grid_thw"));
}

std::vector<int32_t> vision_rope_positions(std::span<const Grid> grids, int64_t merge) {
  int64_t n = 0;
  for (const Grid& g : grids) n += g.n_patches();
  std::vector<int32_t> positions(static_cast<size_t>(3 * n), 0);  // row 0 (t) stays 0
  int32_t* row = positions.data() + n;
  int32_t* col = positions.data() + 2 * n;
  int64_t i = 0;
  for (const Grid& g : grids) {
    for (int64_t frame = 0; frame < g.t; ++frame) {
      for (int64_t wy = 0; wy < g.h / merge; ++wy) {
        for (int64_t wx = 0; wx < g.w / merge; ++wx) {
          for (int64_t my = 0; my < merge; ++my) {
            for (int64_t mx = 0; mx < merge; ++mx, ++i) {
              row[i] = static_cast<int32_t>(wy * merge + my);
              col[i] = static_cast<int32_t>(wx * merge + mx);
            }
          }
        }
      }
    }
  }
  return positions;
}

std::vector<float> vision_rope_inv_freq(int64_t head_dim, double theta) {
  // Qwen2VLVisionRotaryEmbedding: the default RoPE frequencies over half a head.
  sdk::blocks::RopeConfig rope;
  rope.theta = theta;
  std::vector<float> quarter = sdk::blocks::rope_inv_freq(rope, head_dim / 2);
  std::vector<float> inv_freq = quarter;
  inv_freq.insert(inv_freq.end(), quarter.begin(), quarter.end());
  return inv_freq;
}

VisionTower::VisionTower(const VisionConfig& config, sdk::Weights& w, const std::string& prefix,
                         MmrtDevice device)
    : config_(config),
      device_(device),
      inv_freq_(vision_rope_inv_freq(config.head_dim(), config.rope_theta), device) {
  const int64_t E = config.embed_dim, I = config.mlp_dim(), M = config.merge_unit() * E;
  const int64_t p = config.patch_size;
  patch_embed_ = w.matmul_weight(prefix + "patch_embed.proj.weight",
                                 {E, config.in_channels, config.temporal_patch_size, p, p})
                     .reshape({E, config.patch_dim()});
  for (int64_t il = 0; il < config.depth; ++il) {
    const std::string l = sdk::layer_name(prefix + "blocks.{i}.", il);
    Block b;
    b.norm1 = load_layer_norm(w, l + "norm1", E);
    b.norm2 = load_layer_norm(w, l + "norm2", E);
    const sdk::blocks::Linear qkv = load_linear(w, l + "attn.qkv", 3 * E, E, true);
    b.q = {qkv.weight.rows(0, E), qkv.bias.rows(0, E)};
    b.k = {qkv.weight.rows(E, E), qkv.bias.rows(E, E)};
    b.v = {qkv.weight.rows(2 * E, E), qkv.bias.rows(2 * E, E)};
    b.proj = load_linear(w, l + "attn.proj", E, E, true);
    b.fc1 = load_linear(w, l + "mlp.fc1", I, E, true);
    b.fc2 = load_linear(w, l + "mlp.fc2", E, I, true);
    blocks_.push_back(b);
  }
  ln_q_ = load_layer_norm(w, prefix + "merger.ln_q", E);
  mlp0_ = load_linear(w, prefix + "merger.mlp.0", M, M, true);
  mlp2_ = load_linear(w, prefix + "merger.mlp.2", config.hidden_size, M, true);
}

void VisionTower::forward(const sdk::Ops& ops, sdk::Scratch& scratch, const TensorView& patches,
                          std::span<const Grid> grids, const TensorView& out) {
  const VisionConfig& c = config_;
  const int64_t N = patches.dim(0), E = c.embed_dim, H = c.num_heads, Dh = c.head_dim();
  const int64_t unit = c.merge_unit();
  const MmrtDataType dt = patches.dtype();
  int64_t n_patches = 0;
  for (const Grid& g : grids) {
    require(
        g.t > 0 && g.h > 0 && g.w > 0 && g.h % c.spatial_merge_size == 0 && g.w % c.spatial_merge_size == 0,
        MMRT_STATUS_INVALID_ARGUMENT,
        str("image grid (", g.t, ", ", g.h, ", ", g.w, ") is not whole ", c.spatial_merge_size, "x",
            c.spatial_merge_size, " windows"));
    n_patches += g.n_patches();
  }
  require(patches.ndim() == 2 && patches.dim(1) == c.patch_dim() && N == n_patches,
          MMRT_STATUS_INVALID_ARGUMENT,
          str("vision tower: patches ", patches.describe(), ", the grids hold ", n_patches, " patches of ",
              c.patch_dim()));
  require(out.ndim() == 2 && out.dim(0) == N / unit && out.dim(1) == c.hidden_size,
          MMRT_STATUS_INVALID_ARGUMENT,
          str("vision tower: out ", out.describe(), ", expected [", N / unit, ", ", c.hidden_size, "]"));

  positions_ = vision_rope_positions(grids, c.spatial_merge_size);
  TensorView positions(positions_.data(), sdk::kCpu, sdk::kI32, {3, N});
  if (!sdk::same(device_, sdk::kCpu)) {
    TensorView on_device = scratch.tensor(sdk::kI32, {3, N});
    ops.copy(positions, on_device);
    positions = on_device;
  }
  const TensorView& inv_freq = inv_freq_.get(ops);
  const int32_t section[3] = {0, static_cast<int32_t>(Dh / 4), static_cast<int32_t>(Dh / 4)};
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  // Each frame attends within itself (HF's cu_seqlens): one varlen attention over all of them.
  std::vector<int32_t> frame_starts = {0};
  for (const Grid& g : grids) {
    for (int64_t frame = 0; frame < g.t; ++frame) {
      frame_starts.push_back(frame_starts.back() + static_cast<int32_t>(g.h * g.w));
    }
  }

  TensorView h = scratch.tensor(dt, {N, E});  // residual stream
  TensorView x = scratch.tensor(dt, {N, E});
  TensorView q = scratch.tensor(dt, {N, H, Dh});
  TensorView k = scratch.tensor(dt, {N, H, Dh});
  TensorView v = scratch.tensor(dt, {N, H, Dh});
  TensorView attn = scratch.tensor(dt, {N, H, Dh});
  TensorView mlp = scratch.tensor(dt, {N, c.mlp_dim()});

  ops.linear(patches, patch_embed_, {}, h);
  for (const Block& b : blocks_) {
    ops.layer_norm(h, b.norm1.weight, b.norm1.bias, kLayerNormEps, x);
    ops.linear(x, b.q.weight, b.q.bias, q.reshape({N, E}));
    ops.linear(x, b.k.weight, b.k.bias, k.reshape({N, E}));
    ops.linear(x, b.v.weight, b.v.bias, v.reshape({N, E}));
    ops.rope(q, positions, inv_freq, section);
    ops.rope(k, positions, inv_freq, section);
    ops.attention_varlen(q, k, v, frame_starts, frame_starts, {}, 0, scale, false, attn);
    ops.linear(attn.reshape({N, E}), b.proj.weight, b.proj.bias, x);
    ops.add(h, x, h);
    ops.layer_norm(h, b.norm2.weight, b.norm2.bias, kLayerNormEps, x);
    ops.linear(x, b.fc1.weight, b.fc1.bias, mlp);
    ops.activation(c.hidden_act, mlp, mlp);
    ops.linear(mlp, b.fc2.weight, b.fc2.bias, x);
    ops.add(h, x, h);
  }

  // PatchMerger: each 2x2 window's patches are consecutive rows, so the view is a reshape.
  ops.layer_norm(h, ln_q_.weight, ln_q_.bias, kLayerNormEps, x);
  TensorView merged = x.reshape({N / unit, unit * E});
  TensorView hidden = scratch.tensor(dt, {N / unit, unit * E});
  ops.linear(merged, mlp0_.weight, mlp0_.bias, hidden);
  ops.activation(MMRT_ACT_GELU_ERF, hidden, hidden);
  ops.linear(hidden, mlp2_.weight, mlp2_.bias, out);
}

}  // namespace mmrt::qwen2_vl
