#include "kernels/cuda/common.cuh"
#include "kernels/cuda/rope.cuh"

namespace mmrt::cuda {
namespace {

constexpr int kThreads = 256;

// One launch serves both: 1-D RoPE is mrope with every pair on axis 0 (height_begin = width_begin = half).
template <typename T>
__global__ void rope_kernel(T* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t half,
                            const int32_t* positions, const float* inv_freq, float scaling,
                            int64_t height_begin, int64_t width_begin) {
  const int64_t total = n_tokens * n_heads * half;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i % half;
    const int64_t th = i / half;  // token * n_heads + head
    const int64_t t = th / n_heads;
    const int64_t axis = j < height_begin ? 0 : (j < width_begin ? 1 : 2);
    const float angle = float(positions[axis * n_tokens + t]) * inv_freq[j];
    const float c = cosf(angle) * scaling, s = sinf(angle) * scaling;
    T* lo = x + th * head_dim + j;
    T* hi = lo + half;
    const float x_lo = to_float(*lo), x_hi = to_float(*hi);
    *lo = from_float<T>(x_lo * c - x_hi * s);
    *hi = from_float<T>(x_hi * c + x_lo * s);
  }
}

}  // namespace

cudaError_t rope(DType dtype, void* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rot_dim,
                 const int32_t* positions, const float* inv_freq, float attention_scaling,
                 cudaStream_t stream) {
  const int64_t half = rot_dim / 2;
  if (n_tokens <= 0 || n_heads <= 0 || half <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     rope_kernel<T><<<grid_for(n_tokens * n_heads * half, kThreads), kThreads, 0, stream>>>(
                         static_cast<T*>(x), n_tokens, n_heads, head_dim, half, positions, inv_freq,
                         attention_scaling, half, half));
  return cudaGetLastError();
}

cudaError_t mrope(DType dtype, void* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                  const int32_t* positions3, const float* inv_freq, const int32_t section[3],
                  cudaStream_t stream) {
  const int64_t half = head_dim / 2;
  if (n_tokens <= 0 || n_heads <= 0 || half <= 0) return cudaSuccess;
  const int64_t height_begin = section[0], width_begin = int64_t(section[0]) + section[1];
  MMRT_CUDA_DISPATCH(dtype, T,
                     rope_kernel<T><<<grid_for(n_tokens * n_heads * half, kThreads), kThreads, 0, stream>>>(
                         static_cast<T*>(x), n_tokens, n_heads, head_dim, half, positions3, inv_freq, 1.0f,
                         height_begin, width_begin));
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
