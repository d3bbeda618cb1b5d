#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/paged_attention.cuh"

namespace mmrt::cuda {
namespace {

using namespace attention_detail;

constexpr int kCopyThreads = 256;
constexpr int64_t kMinSplitKeys = 256;  // shorter parts cost more in merging than they gain
constexpr int64_t kMaxSplits = 32;

template <typename T>
__global__ void kv_cache_write_kernel(const T* k, const T* v, T* k_cache, T* v_cache, const int64_t* slots,
                                      int64_t n_tokens, int64_t kv_dim, int64_t n_slots) {
  const int64_t total = n_tokens * kv_dim;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / kv_dim, c = i % kv_dim;
    const int64_t slot = slots[t];
    if (slot < 0 || slot >= n_slots) continue;
    k_cache[slot * kv_dim + c] = k[i];
    v_cache[slot * kv_dim + c] = v[i];
  }
}

// How the queries of a GQA group map onto a block's warps.
struct WarpMap {
  int64_t heads_per_block;  // HW = min(n_rep, kWarps)
  int64_t head_groups;      // ceil(n_rep / HW): blocks per kv head along grid.y
  int64_t rows_per_block;   // kWarps / HW
};

WarpMap warp_map(const PagedAttentionShape& s) {
  const int64_t n_rep = s.n_head / s.n_head_kv;
  WarpMap m;
  m.heads_per_block = n_rep < kWarps ? n_rep : kWarps;
  m.head_groups = (n_rep + m.heads_per_block - 1) / m.heads_per_block;
  m.rows_per_block = kWarps / m.heads_per_block;
  return m;
}

// Row chunks are numbered across sequences; each sequence has ceil(n_q / rows_per_block) of them, so
// n_tokens / rows_per_block + n_seqs bounds their count without reading query_start on the host.
int64_t chunk_bound(const PagedAttentionShape& s, const WarpMap& m) {
  return (s.n_tokens + m.rows_per_block - 1) / m.rows_per_block + s.n_seqs;
}

struct PagedParams {
  PagedAttentionShape shape;
  WarpMap map;
  int64_t n_splits, split_keys;
  float scale;
  PagedAttentionMode mode;
};

// The bias of query position `position`, head h, at key p; the thresholds are the block's shared copy.
struct RelativeBiasOf {
  const float* table;
  int32_t per_direction, max_exact, bidirectional, n_thresholds;
  const int64_t* thresholds;
  int64_t position, h, n_head;

  __device__ int64_t bucket(int64_t relative_position) const {
    int64_t bucket = 0, distance = 0;
    if (bidirectional) {
      if (relative_position > 0) bucket = per_direction;
      distance = relative_position < 0 ? -relative_position : relative_position;
    } else {
      distance = relative_position < 0 ? -relative_position : 0;
    }
    if (distance < max_exact) return bucket + distance;
    int64_t large = max_exact;
    for (int i = 0; i < n_thresholds && distance >= thresholds[i]; ++i) ++large;
    return bucket + large;
  }
  __device__ float operator()(int64_t p) const { return table[bucket(p - position) * n_head + h]; }
};

// grid (chunk_bound, n_head_kv · head_groups, n_splits). Warp w serves row row_begin + w / HW of the block's
// sequence and head g·n_rep + hg·HW + w % HW.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    paged_attention_kernel(PagedParams p, const T* q, const T* k_cache, const T* v_cache,
                           const int32_t* query_start, const int32_t* seq_lens, const int32_t* block_tables,
                           T* out, float* part_acc, float* part_ml) {
  extern __shared__ float smem[];
  __shared__ int64_t block_seq, block_row_begin;
  __shared__ int64_t thresholds[RelativeBias::kMaxThresholds];
  const PagedAttentionShape& s = p.shape;
  const int64_t rows_per_block = p.map.rows_per_block;
  const RelativeBias& rel = p.mode.rel_bias;
  if (rel.table != nullptr) {
    for (int i = threadIdx.x; i < rel.n_thresholds; i += blockDim.x) thresholds[i] = rel.thresholds[i];
  }
  if (threadIdx.x == 0) {
    int64_t chunk = blockIdx.x, seq = -1, row_begin = 0;
    for (int64_t i = 0; i < s.n_seqs; ++i) {
      const int64_t n_q = int64_t(query_start[i + 1]) - query_start[i];
      const int64_t chunks = n_q > 0 ? (n_q + rows_per_block - 1) / rows_per_block : 0;
      if (chunk < chunks) {
        seq = i;
        row_begin = query_start[i] + chunk * rows_per_block;
        break;
      }
      chunk -= chunks;
    }
    block_seq = seq;
    block_row_begin = row_begin;
  }
  __syncthreads();  // block_seq, block_row_begin and the thresholds are written
  const int64_t seq = block_seq;
  if (seq < 0) return;  // past the last chunk: the whole block leaves together

  const int64_t n_rep = s.n_head / s.n_head_kv;
  const int64_t g = blockIdx.y / p.map.head_groups, hg = blockIdx.y % p.map.head_groups;
  const int64_t warp = threadIdx.x / kWarpSize;
  const int64_t q_begin = query_start[seq], q_end = query_start[seq + 1];
  const int64_t capacity = s.max_blocks * s.block_size;
  int64_t seq_len = seq_lens[seq];
  seq_len = seq_len < 0 ? 0 : (seq_len > capacity ? capacity : seq_len);
  const int64_t first_position = seq_len - (q_end - q_begin);  // position of row q_begin

  const int64_t row = block_row_begin + warp / p.map.heads_per_block;
  const int64_t head_in_group = hg * p.map.heads_per_block + warp % p.map.heads_per_block;
  const int64_t h = g * n_rep + head_in_group;
  const bool active = warp < rows_per_block * p.map.heads_per_block && row < q_end && head_in_group < n_rep &&
                      row >= 0 && row < s.n_tokens;
  const int64_t last_row =
      (block_row_begin + rows_per_block < q_end ? block_row_begin + rows_per_block : q_end) - 1;
  auto visible = [&](int64_t r) {
    if (!p.mode.causal) return seq_len;
    const int64_t n = first_position + (r - q_begin) + 1;
    return n < 0 ? int64_t(0) : (n > seq_len ? seq_len : n);
  };

  const int64_t key_begin = blockIdx.z * p.split_keys;
  int64_t key_end = key_begin + p.split_keys;
  const int64_t block_visible = visible(last_row);
  if (key_end > block_visible) key_end = block_visible;

  const int64_t head_dim = s.head_dim, q_stride = s.n_head * head_dim, kv_stride = s.n_head_kv * head_dim;
  const int32_t* table = block_tables + seq * s.max_blocks;
  auto slot_of = [&](int64_t pos) {
    int64_t block = table[pos / s.block_size];
    block = block < 0 ? 0 : (block >= s.n_blocks ? s.n_blocks - 1 : block);
    return block * s.block_size + pos % s.block_size;
  };

  const SharedTiles tiles = shared_tiles(smem, head_dim);
  stage_query(tiles, q + row * q_stride + h * head_dim, head_dim, active);
  QueryState st;
  init_state(st);
  auto key_row = [&](int64_t pos) { return k_cache + slot_of(pos) * kv_stride + g * head_dim; };
  auto value_row = [&](int64_t pos) { return v_cache + slot_of(pos) * kv_stride + g * head_dim; };
  if (rel.table != nullptr) {
    const RelativeBiasOf bias{rel.table,
                              rel.per_direction,
                              rel.max_exact,
                              rel.bidirectional,
                              rel.n_thresholds,
                              thresholds,
                              first_position + (row - q_begin),
                              h,
                              s.n_head};
    attend_tiles<T>(tiles, active, active ? visible(row) : 0, bias, p.scale, key_begin, key_end, head_dim,
                    key_row, value_row, st);
  } else {
    attend_tiles<T>(tiles, active, active ? visible(row) : 0, NoBias{}, p.scale, key_begin, key_end, head_dim,
                    key_row, value_row, st);
  }
  if (!active) return;
  if (p.n_splits == 1) {
    store_normalized(st, out + row * q_stride + h * head_dim, head_dim);
    return;
  }
  const int64_t part = (int64_t(blockIdx.z) * s.n_tokens + row) * s.n_head + h;
  const int lane = threadIdx.x % kWarpSize;
#pragma unroll
  for (int i = 0; i < kDimsPerLane; ++i) {
    const int64_t d = lane + int64_t(i) * kWarpSize;
    if (d < head_dim) part_acc[part * head_dim + d] = st.acc[i];
  }
  if (lane == 0) {
    part_ml[2 * part] = st.m;
    part_ml[2 * part + 1] = st.l;
  }
}

// grid (n_tokens, n_head): out = Σ_s acc_s · e^(m_s - M) / Σ_s l_s · e^(m_s - M) over the parts that saw a
// key (l_s > 0; the workspace's m/l were zeroed, so parts no block wrote count as empty).
template <typename T>
__global__ void merge_splits_kernel(const float* part_acc, const float* part_ml, T* out, int64_t n_tokens,
                                    int64_t n_head, int64_t head_dim, int64_t n_splits) {
  const int64_t row = blockIdx.x, h = blockIdx.y;
  float m_max = -CUDART_INF_F;
  for (int64_t sp = 0; sp < n_splits; ++sp) {
    const int64_t part = (sp * n_tokens + row) * n_head + h;
    if (part_ml[2 * part + 1] > 0.0f) m_max = fmaxf(m_max, part_ml[2 * part]);
  }
  float l_total = 0.0f;
  for (int64_t sp = 0; sp < n_splits; ++sp) {
    const int64_t part = (sp * n_tokens + row) * n_head + h;
    const float l = part_ml[2 * part + 1];
    if (l > 0.0f) l_total += l * expf(part_ml[2 * part] - m_max);
  }
  const float inv = l_total > 0.0f ? 1.0f / l_total : 0.0f;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float o = 0.0f;
    for (int64_t sp = 0; sp < n_splits; ++sp) {
      const int64_t part = (sp * n_tokens + row) * n_head + h;
      if (part_ml[2 * part + 1] > 0.0f) o += part_acc[part * head_dim + d] * expf(part_ml[2 * part] - m_max);
    }
    out[(row * n_head + h) * head_dim + d] = from_float<T>(o * inv);
  }
}

}  // namespace

cudaError_t kv_cache_write(DType dtype, const void* k, const void* v, void* k_cache, void* v_cache,
                           const int64_t* slot_mapping, int64_t n_tokens, int64_t kv_dim, int64_t n_slots,
                           cudaStream_t stream) {
  const int64_t total = n_tokens * kv_dim;
  if (total <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     kv_cache_write_kernel<T><<<grid_for(total, kCopyThreads), kCopyThreads, 0, stream>>>(
                         static_cast<const T*>(k), static_cast<const T*>(v), static_cast<T*>(k_cache),
                         static_cast<T*>(v_cache), slot_mapping, n_tokens, kv_dim, n_slots));
  return cudaGetLastError();
}

PagedAttentionPlan plan_paged_attention(const PagedAttentionShape& s, int sm_count) {
  PagedAttentionPlan plan{1, 0, 0};
  const int64_t capacity = s.max_blocks * s.block_size;
  plan.split_keys = (capacity + kKeyTile - 1) / kKeyTile * kKeyTile;
  if (s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0 || capacity <= 0) return plan;
  const WarpMap m = warp_map(s);
  const int64_t blocks = chunk_bound(s, m) * s.n_head_kv * m.head_groups;
  const int64_t wanted = 2 * int64_t(sm_count > 0 ? sm_count : 1);
  if (blocks >= wanted || capacity < 2 * kMinSplitKeys) return plan;
  int64_t n_splits = (wanted + blocks - 1) / blocks;
  n_splits = n_splits < capacity / kMinSplitKeys ? n_splits : capacity / kMinSplitKeys;
  n_splits = n_splits < kMaxSplits ? n_splits : kMaxSplits;
  if (n_splits <= 1) return plan;
  const int64_t keys = (capacity + n_splits - 1) / n_splits;
  plan.split_keys = (keys + kKeyTile - 1) / kKeyTile * kKeyTile;
  plan.n_splits = (capacity + plan.split_keys - 1) / plan.split_keys;
  if (plan.n_splits <= 1) {
    plan.n_splits = 1;
    return plan;
  }
  plan.workspace_bytes = sizeof(float) * size_t(plan.n_splits * s.n_tokens * s.n_head * (s.head_dim + 2));
  return plan;
}

cudaError_t paged_attention(DType dtype, const PagedAttentionShape& shape, const PagedAttentionPlan& plan,
                            const void* q, const void* k_cache, const void* v_cache,
                            const int32_t* query_start, const int32_t* seq_lens, const int32_t* block_tables,
                            float scale, const PagedAttentionMode& mode, void* out, void* workspace,
                            cudaStream_t stream) {
  const PagedAttentionShape& s = shape;
  if (s.n_tokens <= 0 || s.n_seqs <= 0) return cudaSuccess;
  if (s.head_dim <= 0 || s.head_dim > kMaxHeadDim || s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0 ||
      s.block_size <= 0 || s.n_blocks <= 0 || plan.n_splits < 1 || plan.split_keys <= 0 ||
      (plan.n_splits > 1 && workspace == nullptr)) {
    return cudaErrorInvalidValue;
  }
  const WarpMap m = warp_map(s);
  const int64_t chunks = chunk_bound(s, m), heads = s.n_head_kv * m.head_groups;
  if (chunks > 0x7fffffff || heads > 65535 || plan.n_splits > 65535) return cudaErrorInvalidValue;
  if (mode.rel_bias.table != nullptr &&
      (mode.rel_bias.n_thresholds < 0 || mode.rel_bias.n_thresholds > RelativeBias::kMaxThresholds)) {
    return cudaErrorInvalidValue;
  }
  PagedParams params{s, m, plan.n_splits, plan.split_keys, scale, mode};
  float* part_acc = nullptr;
  float* part_ml = nullptr;
  if (plan.n_splits > 1) {
    part_acc = static_cast<float*>(workspace);
    part_ml = part_acc + plan.n_splits * s.n_tokens * s.n_head * s.head_dim;
    const size_t ml_bytes = sizeof(float) * size_t(2 * plan.n_splits * s.n_tokens * s.n_head);
    if (const cudaError_t e = cudaMemsetAsync(part_ml, 0, ml_bytes, stream); e != cudaSuccess) return e;
  }
  const dim3 grid(unsigned(chunks), unsigned(heads), unsigned(plan.n_splits));
  const size_t smem = shared_bytes(s.head_dim);
  MMRT_CUDA_DISPATCH(dtype, T, {
    if (const cudaError_t e = allow_shared(paged_attention_kernel<T>, smem); e != cudaSuccess) return e;
    paged_attention_kernel<T><<<grid, kThreads, smem, stream>>>(
        params, static_cast<const T*>(q), static_cast<const T*>(k_cache), static_cast<const T*>(v_cache),
        query_start, seq_lens, block_tables, static_cast<T*>(out), part_acc, part_ml);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
    if (plan.n_splits > 1) {
      merge_splits_kernel<T><<<dim3(unsigned(s.n_tokens), unsigned(s.n_head)), 128, 0, stream>>>(
          part_acc, part_ml, static_cast<T*>(out), s.n_tokens, s.n_head, s.head_dim, plan.n_splits);
    }
  });
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
