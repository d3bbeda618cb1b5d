#include "swin.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include "mmrt/status.hpp"

namespace mmrt::nougat {

using sdk::require;
using sdk::str;
using sdk::TensorView;

namespace {

// A table computed on the CPU and read by kernels on the compute device. On the CPU the kernels read the
// vector itself; elsewhere it is uploaded once with the copy kernel, which moves an int32 table unchanged
// when it travels as f32 of the same bytes (a copy between equal dtypes converts nothing).
class DeviceArray {
 public:
  DeviceArray(const sdk::Ops& ops, std::vector<float> values, MmrtDataType dtype, std::vector<int64_t> shape,
              MmrtDevice device)
      : values_(std::move(values)) {
    const int64_t n = static_cast<int64_t>(values_.size());
    TensorView host(values_.data(), sdk::kCpu, dtype, shape);
    if (sdk::same(device, sdk::kCpu)) {
      view_ = host;
      return;
    }
    buffer_ = sdk::Buffer(device, values_.size() * sizeof(float));
    ops.copy(TensorView(values_.data(), sdk::kCpu, sdk::kF32, {1, n}), buffer_.view(sdk::kF32, {1, n}));
    view_ = TensorView(buffer_.data(), device, dtype, shape);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  const TensorView& view() const { return view_; }

 private:
  std::vector<float> values_;
  sdk::Buffer buffer_;
  TensorView view_;
};

std::unique_ptr<DeviceArray> int32_table(const sdk::Ops& ops, const std::vector<int32_t>& rows,
                                         MmrtDevice device) {
  std::vector<float> bits(rows.size());
  std::memcpy(bits.data(), rows.data(), rows.size() * sizeof(int32_t));
  return std::make_unique<DeviceArray>(ops, std::move(bits), sdk::kI32,
                                       std::vector<int64_t>{static_cast<int64_t>(rows.size())}, device);
}

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

// The attention bias of a block of stage s on a grid g: the relative position table gathered into
// [heads, n, n], plus -100 between tokens of different regions of the rolled grid (regions [0, hp-ws),
// [hp-ws, hp-shift), [hp-shift, hp) per axis) in shifted blocks. Unshifted blocks share one bias across
// windows (bias_period 1).
std::shared_ptr<DeviceArray> block_bias(const sdk::Ops& ops, const SwinConfig& c, int64_t s,
                                        const TensorView& relative_position_bias_table, SwinGrid g,
                                        int64_t shift, MmrtDevice device) {
  const int64_t heads = c.num_heads[s], ws = c.window_size, n = ws * ws;
  const int64_t hp = round_up(g.height, ws), wp = round_up(g.width, ws), n_wx = wp / ws,
                n_windows = hp / ws * n_wx;
  // Relative position index (DonutSwinSelfAttention): tokens i = (yi, xi), j = (yj, xj) of a window.
  std::vector<int32_t> rel_index(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t dy = i / ws - j / ws + ws - 1, dx = i % ws - j % ws + ws - 1;
      rel_index[i * n + j] = static_cast<int32_t>(dy * (2 * ws - 1) + dx);
    }
  }
  const int64_t table_rows = (2 * ws - 1) * (2 * ws - 1);
  std::vector<float> table(static_cast<size_t>(table_rows * heads));
  ops.copy(relative_position_bias_table, TensorView(table.data(), sdk::kCpu, sdk::kF32, {table_rows, heads}));
  const int64_t bias_period = shift > 0 ? n_windows : 1;
  std::vector<float> bias(static_cast<size_t>(bias_period * heads * n * n));
  auto region = [&](int64_t v, int64_t extent) { return v < extent - ws ? 0 : (v < extent - shift ? 1 : 2); };
  for (int64_t wi = 0; wi < bias_period; ++wi) {
    const int64_t wy = wi / n_wx, wx = wi % n_wx;
    for (int64_t h = 0; h < heads; ++h) {
      float* out = bias.data() + (wi * heads + h) * n * n;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          float v = table[rel_index[i * n + j] * heads + h];
          if (shift > 0) {
            const int64_t li = region(wy * ws + i / ws, hp) * 3 + region(wx * ws + i % ws, wp);
            const int64_t lj = region(wy * ws + j / ws, hp) * 3 + region(wx * ws + j % ws, wp);
            if (li != lj) v += -100.0f;
          }
          out[i * n + j] = v;
        }
      }
    }
  }
  return std::make_shared<DeviceArray>(ops, std::move(bias), sdk::kF32,
                                       std::vector<int64_t>{bias_period, heads, n, n}, device);
}

}  // namespace

std::vector<SwinGrid> swin_stage_grids(const SwinConfig& c, int64_t height, int64_t width) {
  require(height > 0 && width > 0 && height % c.patch_size == 0 && width % c.patch_size == 0,
          MMRT_STATUS_INVALID_ARGUMENT,
          str("a ", height, "x", width, " image is not a whole number of ", c.patch_size, "-pixel patches"));
  std::vector<SwinGrid> grids;
  SwinGrid g{height / c.patch_size, width / c.patch_size};
  for (int64_t s = 0; s < c.n_stages(); ++s) {
    grids.push_back(g);
    g = {(g.height + 1) / 2, (g.width + 1) / 2};  // patch merging pads odd grids
  }
  return grids;
}

int64_t swin_output_rows(const SwinConfig& c, int64_t height, int64_t width) {
  const SwinGrid last = swin_stage_grids(c, height, width).back();
  return last.height * last.width;
}

// The gather tables and attention biases of one batch geometry.
struct SwinEncoder::Plan {
  struct BlockTables {
    int64_t n_windows = 0;  // per image
    int64_t bias_period = 0;
    std::unique_ptr<DeviceArray> partition;  // windowed row -> row of x (the zero row for padding)
    std::unique_ptr<DeviceArray> reverse;    // grid row -> windowed row
    std::shared_ptr<DeviceArray> bias;       // f32 [bias_period, heads, n, n], shared by batch sizes
    std::vector<int32_t> cu_seqlens;         // [n_images · n_windows + 1], host
  };
  struct StageTables {
    SwinGrid grid{};
    std::vector<BlockTables> blocks;
    std::unique_ptr<DeviceArray> merge[4];  // next-stage row -> row of h, per quarter
  };
  int64_t n_images = 0;
  std::vector<StageTables> stages;
  std::unique_ptr<DeviceArray> zeros;  // f32 [1, hidden_size]: the padding row
};

SwinEncoder::SwinEncoder(const SwinConfig& c, sdk::Weights& w, const std::string& prefix, MmrtDevice device)
    : config_(c), device_(device) {
  const int64_t E = c.embed_dim, p = c.patch_size, ws = c.window_size;
  patch_projection_weight_ =
      w.get(prefix + "embeddings.patch_embeddings.projection.weight", {E, c.num_channels, p, p});
  patch_projection_bias_ = w.get(prefix + "embeddings.patch_embeddings.projection.bias", {E});
  embeddings_norm_ = sdk::blocks::load_layer_norm(w, prefix + "embeddings.norm", E);
  for (int64_t s = 0; s < c.n_stages(); ++s) {
    const int64_t C = c.stage_dim(s), M = c.stage_mlp_dim(s), heads = c.num_heads[s];
    const std::string stage = sdk::layer_name(prefix + "encoder.layers.{i}.", s);
    Stage st;
    for (int64_t b = 0; b < c.depths[s]; ++b) {
      const std::string l = sdk::layer_name(stage + "blocks.{i}.", b);
      Block blk;
      blk.layernorm_before = sdk::blocks::load_layer_norm(w, l + "layernorm_before", C);
      blk.query = sdk::blocks::load_linear(w, l + "attention.self.query", C, C, c.qkv_bias);
      blk.key = sdk::blocks::load_linear(w, l + "attention.self.key", C, C, c.qkv_bias);
      blk.value = sdk::blocks::load_linear(w, l + "attention.self.value", C, C, c.qkv_bias);
      blk.relative_position_bias_table =
          w.get(l + "attention.self.relative_position_bias_table", {(2 * ws - 1) * (2 * ws - 1), heads});
      // An integer buffer some checkpoints store; the plan recomputes it.
      w.ignore(l + "attention.self.relative_position_index");
      blk.attention_output = sdk::blocks::load_linear(w, l + "attention.output.dense", C, C, true);
      blk.layernorm_after = sdk::blocks::load_layer_norm(w, l + "layernorm_after", C);
      blk.intermediate = sdk::blocks::load_linear(w, l + "intermediate.dense", M, C, true);
      blk.output = sdk::blocks::load_linear(w, l + "output.dense", C, M, true);
      st.blocks.push_back(blk);
    }
    if (s + 1 < c.n_stages()) {
      st.has_downsample = true;
      st.downsample_norm = sdk::blocks::load_layer_norm(w, stage + "downsample.norm", 4 * C);
      st.downsample_reduction =
          sdk::blocks::load_linear(w, stage + "downsample.reduction", 2 * C, 4 * C, false);
    }
    stages_.push_back(std::move(st));
  }
}

SwinEncoder::~SwinEncoder() = default;

const SwinEncoder::Plan& SwinEncoder::plan_for(const sdk::Ops& ops, int64_t n_images, int64_t height,
                                               int64_t width) {
  auto key = std::make_tuple(n_images, height, width);
  if (auto it = plans_.find(key); it != plans_.end()) return *it->second;
  const SwinConfig& c = config_;
  const std::vector<SwinGrid> grids = swin_stage_grids(c, height, width);
  // Biases depend on the page size only; a plan for another batch size of the same pages lends them.
  const Plan* same_size = nullptr;
  for (const auto& [k, p] : plans_) {
    if (std::get<1>(k) == height && std::get<2>(k) == width) same_size = p.get();
  }
  auto plan = std::make_unique<Plan>();
  plan->n_images = n_images;
  plan->zeros = std::make_unique<DeviceArray>(ops, std::vector<float>(static_cast<size_t>(c.hidden_size())),
                                              sdk::kF32, std::vector<int64_t>{1, c.hidden_size()}, device_);
  for (int64_t s = 0; s < c.n_stages(); ++s) {
    const SwinGrid g = grids[s];
    const int64_t heads = c.num_heads[s], rows = n_images * g.height * g.width;
    const int32_t zero_row = static_cast<int32_t>(rows);
    Plan::StageTables st;
    st.grid = g;
    // DonutSwinLayer.set_shift_and_window_size: a grid no larger than the window is one unshifted window.
    // Its relative position table still has the configured window's size, so only an exact fit works
    // (Transformers fails the same way on a smaller grid).
    const bool fits = std::min(g.height, g.width) > c.window_size;
    require(fits || std::min(g.height, g.width) == c.window_size, MMRT_STATUS_INVALID_ARGUMENT,
            str("a ", height, "x", width, " image gives stage ", s, " a ", g.height, "x", g.width,
                " grid, smaller than the ", c.window_size, "-token window"));
    const int64_t ws = c.window_size, n = ws * ws;
    const int64_t hp = round_up(g.height, ws), wp = round_up(g.width, ws);
    const int64_t n_wy = hp / ws, n_wx = wp / ws, n_windows = n_wy * n_wx;

    for (int64_t b = 0; b < c.depths[s]; ++b) {
      const int64_t shift = (fits && b % 2 == 1) ? ws / 2 : 0;
      Plan::BlockTables bt;
      bt.n_windows = n_windows;
      // Windowed row (image, window (wy, wx), token (ty, tx)) sits at (wy·ws + ty, wx·ws + tx) of the
      // rolled, padded grid, which holds the padded grid's (y + shift) mod hp, (x + shift) mod wp.
      std::vector<int32_t> partition(static_cast<size_t>(n_images * n_windows * n));
      std::vector<int32_t> reverse(static_cast<size_t>(rows));
      for (int64_t img = 0; img < n_images; ++img) {
        for (int64_t wy = 0; wy < n_wy; ++wy) {
          for (int64_t wx = 0; wx < n_wx; ++wx) {
            for (int64_t t = 0; t < n; ++t) {
              const int64_t ry = wy * ws + t / ws, rx = wx * ws + t % ws;
              const int64_t y = (ry + shift) % hp, x = (rx + shift) % wp;
              const int64_t windowed = ((img * n_windows) + wy * n_wx + wx) * n + t;
              if (y < g.height && x < g.width) {
                const int64_t grid_row = (img * g.height + y) * g.width + x;
                partition[windowed] = static_cast<int32_t>(grid_row);
                reverse[grid_row] = static_cast<int32_t>(windowed);
              } else {
                partition[windowed] = zero_row;
              }
            }
          }
        }
      }
      bt.partition = int32_table(ops, partition, device_);
      bt.reverse = int32_table(ops, reverse, device_);

      bt.bias_period = shift > 0 ? n_windows : 1;
      if (same_size != nullptr) {
        bt.bias = same_size->stages[s].blocks[b].bias;
      } else {
        bt.bias = block_bias(ops, c, s, stages_[s].blocks[b].relative_position_bias_table, g, shift, device_);
      }
      for (int64_t wi = 0; wi <= n_images * n_windows; ++wi)
        bt.cu_seqlens.push_back(static_cast<int32_t>(wi * n));
      st.blocks.push_back(std::move(bt));
    }

    if (stages_[s].has_downsample) {
      const SwinGrid next = grids[s + 1];
      // DonutSwinPatchMerging: quarters x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2].
      const int64_t offsets[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
      for (int q = 0; q < 4; ++q) {
        std::vector<int32_t> rows_q(static_cast<size_t>(n_images * next.height * next.width));
        for (int64_t img = 0; img < n_images; ++img) {
          for (int64_t y2 = 0; y2 < next.height; ++y2) {
            for (int64_t x2 = 0; x2 < next.width; ++x2) {
              const int64_t y = 2 * y2 + offsets[q][0], x = 2 * x2 + offsets[q][1];
              rows_q[(img * next.height + y2) * next.width + x2] =
                  (y < g.height && x < g.width) ? static_cast<int32_t>((img * g.height + y) * g.width + x)
                                                : zero_row;
            }
          }
        }
        st.merge[q] = int32_table(ops, rows_q, device_);
      }
    }
    plan->stages.push_back(std::move(st));
  }
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void SwinEncoder::forward(const sdk::Ops& ops, sdk::Scratch& scratch, const TensorView& pixels,
                          const TensorView& out) {
  const SwinConfig& c = config_;
  require(pixels.ndim() == 4 && pixels.dim(1) == c.num_channels, MMRT_STATUS_INVALID_ARGUMENT,
          str("Swin encoder: pixels ", pixels.describe(), ", expected [n, ", c.num_channels, ", H, W]"));
  const int64_t n_images = pixels.dim(0), height = pixels.dim(2), width = pixels.dim(3);
  const int64_t out_rows = n_images * swin_output_rows(c, height, width);
  require(out.ndim() == 2 && out.dim(0) == out_rows && out.dim(1) == c.hidden_size(),
          MMRT_STATUS_INVALID_ARGUMENT,
          str("Swin encoder: out ", out.describe(), ", expected [", out_rows, ", ", c.hidden_size(), "]"));
  const Plan& plan = plan_for(ops, n_images, height, width);
  const MmrtDataType dt = pixels.dtype();
  const float eps = static_cast<float>(c.layer_norm_eps);  // the blocks' norms
  // embeddings.norm and downsample.norm are nn.LayerNorm with its default eps, whatever layer_norm_eps says.
  const float default_eps = 1e-5f;
  const TensorView zeros = plan.zeros->view();

  // The residual stream h of a stage lives in rows [0, rows) of a buffer whose row `rows` is zero, so
  // gathers can read padding from it.
  auto padded_rows = [&](int64_t rows, int64_t C) {
    TensorView t = scratch.tensor(dt, {rows + 1, C});
    ops.copy(zeros.cols(0, C), t.rows(rows, 1));
    return t;
  };

  const SwinGrid g0 = plan.stages[0].grid;
  int64_t rows = n_images * g0.height * g0.width;
  TensorView h_buf = padded_rows(rows, c.embed_dim);
  TensorView embedded = scratch.tensor(dt, {rows, c.embed_dim});
  const int64_t patches = g0.height * g0.width;
  for (int64_t img = 0; img < n_images; ++img) {
    ops.patch_embed(pixels.rows(img, 1).reshape({c.num_channels, height, width}), patch_projection_weight_,
                    patch_projection_bias_, embedded.rows(img * patches, patches));
  }
  ops.layer_norm(embedded, embeddings_norm_.weight, embeddings_norm_.bias, default_eps, h_buf.rows(0, rows));

  for (int64_t s = 0; s < c.n_stages(); ++s) {
    const Stage& stage = stages_[s];
    const Plan::StageTables& st = plan.stages[s];
    const int64_t C = c.stage_dim(s), heads = c.num_heads[s], Dh = C / heads;
    const int64_t n = c.window_size * c.window_size;
    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
    const TensorView h = h_buf.rows(0, rows);
    TensorView x_buf = padded_rows(rows, C);
    const TensorView x = x_buf.rows(0, rows);
    const int64_t windowed_rows = n_images * st.blocks[0].n_windows * n;
    TensorView xw = scratch.tensor(dt, {windowed_rows, C});
    TensorView q = scratch.tensor(dt, {windowed_rows, C});
    TensorView k = scratch.tensor(dt, {windowed_rows, C});
    TensorView v = scratch.tensor(dt, {windowed_rows, C});
    TensorView attn = scratch.tensor(dt, {windowed_rows, C});
    TensorView back = scratch.tensor(dt, {rows, C});
    TensorView mlp = scratch.tensor(dt, {rows, c.stage_mlp_dim(s)});

    for (size_t b = 0; b < stage.blocks.size(); ++b) {
      const Block& blk = stage.blocks[b];
      const Plan::BlockTables& bt = st.blocks[b];
      ops.layer_norm(h, blk.layernorm_before.weight, blk.layernorm_before.bias, eps, x);
      ops.gather_rows(x_buf, bt.partition->view(), xw);
      ops.linear(xw, blk.query.weight, blk.query.bias, q);
      ops.linear(xw, blk.key.weight, blk.key.bias, k);
      ops.linear(xw, blk.value.weight, blk.value.bias, v);
      auto heads_of = [&](const TensorView& t) { return t.reshape({windowed_rows, heads, Dh}); };
      ops.attention_varlen(heads_of(q), heads_of(k), heads_of(v), bt.cu_seqlens, bt.cu_seqlens,
                           bt.bias->view(), static_cast<int32_t>(bt.bias_period), scale, false,
                           heads_of(attn));
      ops.linear(attn, blk.attention_output.weight, blk.attention_output.bias, xw);
      ops.gather_rows(xw, bt.reverse->view(), back);
      ops.add(h, back, h);
      ops.layer_norm(h, blk.layernorm_after.weight, blk.layernorm_after.bias, eps, x);
      ops.linear(x, blk.intermediate.weight, blk.intermediate.bias, mlp);
      ops.activation(c.hidden_act, mlp, mlp);
      ops.linear(mlp, blk.output.weight, blk.output.bias, back);
      ops.add(h, back, h);
    }

    if (!stage.has_downsample) break;
    const SwinGrid next = plan.stages[s + 1].grid;
    const int64_t next_rows = n_images * next.height * next.width;
    TensorView quarter = scratch.tensor(dt, {next_rows, C});
    TensorView merged = scratch.tensor(dt, {next_rows, 4 * C});
    TensorView normed = scratch.tensor(dt, {next_rows, 4 * C});
    for (int64_t qi = 0; qi < 4; ++qi) {
      ops.gather_rows(h_buf, st.merge[qi]->view(), quarter);
      ops.copy(quarter, merged.cols(qi * C, C));
    }
    ops.layer_norm(merged, stage.downsample_norm.weight, stage.downsample_norm.bias, default_eps, normed);
    h_buf = padded_rows(next_rows, 2 * C);
    ops.linear(normed, stage.downsample_reduction.weight, {}, h_buf.rows(0, next_rows));
    rows = next_rows;
  }
  ops.copy(h_buf.rows(0, rows), out);
}

}  // namespace mmrt::nougat
