#pragma once
// Internal to kernels/cuda: the tiled online-softmax loop shared by dense and paged attention
// (FlashAttention's recurrence, without tensor cores).
//
// A block of kWarps warps shares one key sequence (one kv head); each warp owns one query. Keys and values
// are staged in shared memory kKeyTile rows at a time, converted to fp32. For a tile, lane j scores key j
// against the warp's query (q in shared memory, broadcast), the warp takes the tile's max and sum with
// shuffles, rescales its running output, and adds Σ_j p_j · v_j, each lane owning dims lane + 32·i. So a
// query's state is (m, l, acc[head_dim]) in registers, and head_dim is at most kMaxHeadDim.
//
// Semantics match kernels/cpu/attention_core.hpp: s_p = (q · k_p) · scale + bias_p over visible keys; masked
// keys are skipped (never -inf added); a query with no visible key, or whose scores are all -inf, ends with
// l == 0 and its caller writes zeros instead of NaN.

#include <math_constants.h>

#include "kernels/cuda/common.cuh"

namespace mmrt::cuda::attention_detail {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kKeyTile = 32;  // one key per lane
constexpr int kMaxHeadDim = 256;
constexpr int kDimsPerLane = kMaxHeadDim / kWarpSize;
constexpr size_t kDefaultSharedBytes = 48 * 1024;

// Dynamic shared memory: q [kWarps, head_dim], k [kKeyTile, head_dim + 1] (the pad makes lane j's row read
// conflict-free), v [kKeyTile, head_dim], all fp32.
inline size_t shared_bytes(int64_t head_dim) {
  return sizeof(float) * size_t(kWarps * head_dim + kKeyTile * (head_dim + 1) + kKeyTile * head_dim);
}

struct SharedTiles {
  float* q;  // this warp's query row [head_dim]
  float* k;  // [kKeyTile, head_dim + 1]
  float* v;  // [kKeyTile, head_dim]
};

__device__ inline SharedTiles shared_tiles(float* smem, int64_t head_dim) {
  const int warp = threadIdx.x / kWarpSize;
  return {smem + warp * head_dim, smem + kWarps * head_dim,
          smem + kWarps * head_dim + kKeyTile * (head_dim + 1)};
}

// One query's running softmax state.
struct QueryState {
  float m;                  // running max of scores (-inf until a key was seen)
  float l;                  // running Σ exp(s - m)
  float acc[kDimsPerLane];  // running Σ exp(s - m) · v, dims lane + 32·i
};

__device__ inline void init_state(QueryState& st) {
  st.m = -CUDART_INF_F;
  st.l = 0.0f;
#pragma unroll
  for (int i = 0; i < kDimsPerLane; ++i) st.acc[i] = 0.0f;
}

// Copies this warp's query row (dtype T) into shared memory as fp32. Made visible by the first barrier of
// attend_tiles.
template <typename T>
__device__ inline void stage_query(const SharedTiles& tiles, const T* q_row, int64_t head_dim, bool active) {
  if (!active) return;
  for (int64_t d = threadIdx.x % kWarpSize; d < head_dim; d += kWarpSize) tiles.q[d] = to_float(q_row[d]);
}

// No additive bias.
struct NoBias {
  __device__ float operator()(int64_t) const { return 0.0f; }
};

// A bias row indexed by the key position.
struct RowBias {
  const float* row;
  __device__ float operator()(int64_t p) const { return row[p]; }
};

// Attends keys [key_begin, key_end) of the block's sequence. Every thread of the block must call it with
// the same key range (it has barriers); `active` warps update `st` for keys p < n_visible. key_row(p) and
// value_row(p) return the head's row of key p (dtype T, head_dim elements); bias(p) is the additive bias
// of the warp's query at key p (called for visible keys of active warps only).
template <typename T, typename Bias, typename KeyRow, typename ValueRow>
__device__ void attend_tiles(const SharedTiles& tiles, bool active, int64_t n_visible, Bias bias, float scale,
                             int64_t key_begin, int64_t key_end, int64_t head_dim, KeyRow key_row,
                             ValueRow value_row, QueryState& st) {
  const int lane = threadIdx.x % kWarpSize;
  const int dim = int(head_dim);  // at most kMaxHeadDim: 32-bit index arithmetic is enough and cheaper
  const int k_stride = dim + 1;
  for (int64_t t0 = key_begin; t0 < key_end; t0 += kKeyTile) {
    const int tile_n = int(key_end - t0 < kKeyTile ? key_end - t0 : kKeyTile);
    __syncthreads();  // the previous tile is consumed; the query rows are staged
    for (int idx = threadIdx.x; idx < kKeyTile * dim; idx += blockDim.x) {
      const int j = idx / dim, d = idx % dim;
      float kv = 0.0f, vv = 0.0f;
      if (j < tile_n) {
        kv = to_float(key_row(t0 + j)[d]);
        vv = to_float(value_row(t0 + j)[d]);
      }
      tiles.k[j * k_stride + d] = kv;
      tiles.v[j * dim + d] = vv;
    }
    __syncthreads();
    if (!active) continue;

    const int64_t p = t0 + lane;
    float s = -CUDART_INF_F;
    if (lane < tile_n && p < n_visible) {
      const float* k_row = tiles.k + lane * k_stride;
      float dot = 0.0f;
      for (int d = 0; d < dim; ++d) dot = fmaf(tiles.q[d], k_row[d], dot);
      s = dot * scale + bias(p);
    }
    const float m_new = fmaxf(st.m, warp_max(s));
    if (m_new == -CUDART_INF_F) continue;  // nothing visible yet (warp-uniform)
    const float correction = expf(st.m - m_new);
    const float weight = s == -CUDART_INF_F ? 0.0f : expf(s - m_new);
    st.l = st.l * correction + warp_sum(weight);
    st.m = m_new;
#pragma unroll
    for (int i = 0; i < kDimsPerLane; ++i) st.acc[i] *= correction;
    for (int j = 0; j < tile_n; ++j) {
      const float w = __shfl_sync(kFullMask, weight, j);
      if (w == 0.0f) continue;  // a masked key: its value row is never multiplied, even by zero
#pragma unroll
      for (int i = 0; i < kDimsPerLane; ++i) {
        const int d = lane + i * kWarpSize;
        if (d < dim) st.acc[i] = fmaf(w, tiles.v[j * dim + d], st.acc[i]);
      }
    }
  }
}

// out[d] = acc[d] / l, or zeros when the query saw nothing.
template <typename T>
__device__ inline void store_normalized(const QueryState& st, T* out_row, int64_t head_dim) {
  const int lane = threadIdx.x % kWarpSize;
  const float inv = st.l > 0.0f ? 1.0f / st.l : 0.0f;
#pragma unroll
  for (int i = 0; i < kDimsPerLane; ++i) {
    const int64_t d = lane + int64_t(i) * kWarpSize;
    if (d < head_dim) out_row[d] = from_float<T>(st.acc[i] * inv);
  }
}

// Raises a kernel's dynamic shared-memory limit when the tiles need more than the default 48 KB.
template <typename Kernel>
cudaError_t allow_shared(Kernel kernel, size_t bytes) {
  if (bytes <= kDefaultSharedBytes) return cudaSuccess;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
}

}  // namespace mmrt::cuda::attention_detail
