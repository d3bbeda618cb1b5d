#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_core.cuh"

namespace mmrt::cuda {
namespace {

using namespace attention_detail;

// Keys query row r may see: all n_kv, or the causal prefix r + (n_kv - n_q) + 1 clamped to [0, n_kv].
__device__ inline int64_t visible_keys(int64_t r, int64_t n_q, int64_t n_kv, bool causal) {
  if (!causal) return n_kv;
  const int64_t n = r + (n_kv - n_q) + 1;
  return n < 0 ? 0 : (n > n_kv ? n_kv : n);
}

// grid (ceil(n_q / kWarps), n_head); warp w of block x owns query row x·kWarps + w of head blockIdx.y.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(const T* q, const T* k, const T* v, const float* bias, T* out, int64_t n_q, int64_t n_kv,
                     int64_t n_head, int64_t n_head_kv, int64_t head_dim, float scale, bool causal) {
  extern __shared__ float smem[];
  const SharedTiles tiles = shared_tiles(smem, head_dim);
  const int64_t h = blockIdx.y;
  const int64_t g = h / (n_head / n_head_kv);
  const int64_t row0 = int64_t(blockIdx.x) * kWarps;
  const int64_t row = row0 + threadIdx.x / kWarpSize;
  const bool active = row < n_q;
  const int64_t last_row = (row0 + kWarps < n_q ? row0 + kWarps : n_q) - 1;
  const int64_t q_stride = n_head * head_dim, kv_stride = n_head_kv * head_dim;

  stage_query(tiles, q + row * q_stride + h * head_dim, head_dim, active);
  QueryState st;
  init_state(st);
  const float* bias_row = bias != nullptr && active ? bias + (h * n_q + row) * n_kv : nullptr;
  attend_tiles<T>(
      tiles, active, active ? visible_keys(row, n_q, n_kv, causal) : 0, bias_row, scale, 0,
      visible_keys(last_row, n_q, n_kv, causal), head_dim,
      [&](int64_t p) { return k + p * kv_stride + g * head_dim; },
      [&](int64_t p) { return v + p * kv_stride + g * head_dim; }, st);
  if (active) store_normalized(st, out + row * q_stride + h * head_dim, head_dim);
}

}  // namespace

cudaError_t attention(DType dtype, const void* q, const void* k, const void* v, const float* bias, void* out,
                      int64_t n_q, int64_t n_kv, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                      float scale, bool causal, cudaStream_t stream) {
  if (n_q <= 0 || n_head <= 0) return cudaSuccess;
  if (head_dim <= 0 || head_dim > kMaxHeadDim || n_head_kv <= 0 || n_head % n_head_kv != 0 ||
      n_head > 65535 || (n_q + kWarps - 1) / kWarps > 0x7fffffff) {
    return cudaErrorInvalidValue;
  }
  const dim3 grid(unsigned((n_q + kWarps - 1) / kWarps), unsigned(n_head));
  const size_t smem = shared_bytes(head_dim);
  MMRT_CUDA_DISPATCH(dtype, T, {
    if (const cudaError_t e = allow_shared(attention_kernel<T>, smem); e != cudaSuccess) return e;
    attention_kernel<T><<<grid, kThreads, smem, stream>>>(
        static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), bias,
        static_cast<T*>(out), n_q, n_kv, n_head, n_head_kv, head_dim, scale, causal);
  });
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
