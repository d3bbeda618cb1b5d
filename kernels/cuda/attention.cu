#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_core.cuh"

namespace mmrt::cuda {
namespace {

using namespace attention_detail;

// One block's sequence and first query row.
struct BlockSequence {
  int64_t q_begin, n_q;  // query rows of the sequence
  int64_t k_begin, n_k;  // key rows of the sequence
  int64_t row0;          // first query row of the block
  int64_t bias_slice;    // which [n_head, n_q, n_k] slice of the bias it adds
};

// Dense attention: one sequence, blocks of kWarps consecutive rows.
struct OneSequence {
  int64_t n_q, n_kv;
  __device__ BlockSequence locate(int64_t chunk) const { return {0, n_q, 0, n_kv, chunk * kWarps, 0}; }
};

// Varlen attention: the host's chunk table (VarlenTable in attention.cuh) in device memory.
struct ChunkTable {
  const int32_t* table;
  int64_t n_chunks, n_seqs, bias_period;
  __device__ BlockSequence locate(int64_t chunk) const {
    const int32_t* cu_q = table + 2 * n_chunks;
    const int32_t* cu_k = cu_q + n_seqs + 1;
    const int64_t seq = table[2 * chunk];
    return {cu_q[seq],
            int64_t(cu_q[seq + 1]) - cu_q[seq],
            cu_k[seq],
            int64_t(cu_k[seq + 1]) - cu_k[seq],
            table[2 * chunk + 1],
            bias_period > 0 ? seq % bias_period : 0};
  }
};

// Keys query i of a sequence may see: all n_k, or the causal prefix i + (n_k - n_q) + 1 clamped to [0, n_k].
__device__ inline int64_t visible_keys(int64_t i, int64_t n_q, int64_t n_k, bool causal) {
  if (!causal) return n_k;
  const int64_t n = i + (n_k - n_q) + 1;
  return n < 0 ? 0 : (n > n_k ? n_k : n);
}

// grid (chunks, n_head); warp w of chunk x owns query row row0 + w of its sequence, head blockIdx.y.
template <typename T, typename Layout>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(Layout layout, const T* q, const T* k, const T* v, const float* bias, T* out,
                     int64_t n_head, int64_t n_head_kv, int64_t head_dim, float scale, bool causal) {
  extern __shared__ float smem[];
  const SharedTiles tiles = shared_tiles(smem, head_dim);
  const BlockSequence seq = layout.locate(blockIdx.x);
  const int64_t h = blockIdx.y;
  const int64_t g = h / (n_head / n_head_kv);
  const int64_t q_end = seq.q_begin + seq.n_q;
  const int64_t row = seq.row0 + threadIdx.x / kWarpSize;
  const bool active = row < q_end;
  const int64_t i = row - seq.q_begin,
                last_i = (seq.row0 + kWarps < q_end ? seq.row0 + kWarps : q_end) - 1 - seq.q_begin;
  const int64_t q_stride = n_head * head_dim, kv_stride = n_head_kv * head_dim;
  const T* k_seq = k + seq.k_begin * kv_stride + g * head_dim;
  const T* v_seq = v + seq.k_begin * kv_stride + g * head_dim;

  stage_query(tiles, q + row * q_stride + h * head_dim, head_dim, active);
  QueryState st;
  init_state(st);
  const int64_t n_visible = active ? visible_keys(i, seq.n_q, seq.n_k, causal) : 0;
  const int64_t block_visible = visible_keys(last_i, seq.n_q, seq.n_k, causal);
  auto key_row = [&](int64_t p) { return k_seq + p * kv_stride; };
  auto value_row = [&](int64_t p) { return v_seq + p * kv_stride; };
  if (bias != nullptr) {
    const float* bias_row = bias + ((seq.bias_slice * n_head + h) * seq.n_q + (active ? i : 0)) * seq.n_k;
    attend_tiles<T>(tiles, active, n_visible, RowBias{bias_row}, scale, 0, block_visible, head_dim, key_row,
                    value_row, st);
  } else {
    attend_tiles<T>(tiles, active, n_visible, NoBias{}, scale, 0, block_visible, head_dim, key_row, value_row,
                    st);
  }
  if (active) store_normalized(st, out + row * q_stride + h * head_dim, head_dim);
}

template <typename Layout>
cudaError_t launch(DType dtype, Layout layout, int64_t n_chunks, const void* q, const void* k, const void* v,
                   const float* bias, void* out, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                   float scale, bool causal, cudaStream_t stream) {
  if (n_chunks <= 0 || n_head <= 0) return cudaSuccess;
  if (head_dim <= 0 || head_dim > kMaxHeadDim || n_head_kv <= 0 || n_head % n_head_kv != 0 ||
      n_head > 65535 || n_chunks > 0x7fffffff) {
    return cudaErrorInvalidValue;
  }
  const dim3 grid(static_cast<unsigned>(n_chunks), static_cast<unsigned>(n_head));
  const size_t smem = shared_bytes(head_dim);
  MMRT_CUDA_DISPATCH(dtype, T, {
    if (const cudaError_t e = allow_shared(attention_kernel<T, Layout>, smem); e != cudaSuccess) return e;
    attention_kernel<T, Layout><<<grid, kThreads, smem, stream>>>(
        layout, static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), bias,
        static_cast<T*>(out), n_head, n_head_kv, head_dim, scale, causal);
  });
  return cudaGetLastError();
}

}  // namespace

cudaError_t attention(DType dtype, const void* q, const void* k, const void* v, const float* bias, void* out,
                      int64_t n_q, int64_t n_kv, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                      float scale, bool causal, cudaStream_t stream) {
  return launch(dtype, OneSequence{n_q, n_kv}, (n_q + kWarps - 1) / kWarps, q, k, v, bias, out, n_head,
                n_head_kv, head_dim, scale, causal, stream);
}

void build_varlen_table(const int32_t* cu_q, const int32_t* cu_k, int64_t n_seqs,
                        std::vector<int32_t>& table) {
  table.clear();
  for (int64_t s = 0; s < n_seqs; ++s) {
    for (int64_t r = cu_q[s]; r < cu_q[s + 1]; r += kWarps) {
      table.push_back(int32_t(s));
      table.push_back(int32_t(r));
    }
  }
  table.insert(table.end(), cu_q, cu_q + n_seqs + 1);
  table.insert(table.end(), cu_k, cu_k + n_seqs + 1);
}

int64_t varlen_chunks(const std::vector<int32_t>& table, int64_t n_seqs) {
  return (int64_t(table.size()) - 2 * (n_seqs + 1)) / 2;
}

cudaError_t attention_varlen(DType dtype, const void* q, const void* k, const void* v, const float* bias,
                             int64_t bias_period, void* out, const int32_t* table, int64_t n_chunks,
                             int64_t n_seqs, int64_t n_head, int64_t n_head_kv, int64_t head_dim, float scale,
                             bool causal, cudaStream_t stream) {
  return launch(dtype, ChunkTable{table, n_chunks, n_seqs, bias != nullptr ? bias_period : 0}, n_chunks, q, k,
                v, bias, out, n_head, n_head_kv, head_dim, scale, causal, stream);
}

}  // namespace mmrt::cuda
