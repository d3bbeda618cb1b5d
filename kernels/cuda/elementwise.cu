#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.cuh"

namespace mmrt::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float sigmoid(float z) {
  return 1.0f / (1.0f + expf(-z));
}

__device__ __forceinline__ float apply(Activation kind, float x) {
  switch (kind) {
    case Activation::gelu_erf:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case Activation::gelu_tanh: {
      const float k = 0.79788456080286536f;  // sqrt(2 / pi)
      return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
    case Activation::quick_gelu:
      return x * sigmoid(1.702f * x);
    case Activation::silu:
      return x * sigmoid(x);
    case Activation::relu:
      return fmaxf(x, 0.0f);
  }
  return x;
}

template <typename T>
__global__ void activation_kernel(Activation kind, const T* x, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(apply(kind, to_float(x[i])));
}

template <typename T>
__global__ void gated_activation_kernel(Activation kind, const T* gate, const T* up, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = to_float(from_float<T>(apply(kind, to_float(gate[i]))));
    y[i] = from_float<T>(g * to_float(up[i]));
  }
}

// b_dim == 0: b has n elements; otherwise b is one row of b_dim broadcast over a's rows.
template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t n, int64_t b_dim) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float bv = to_float(b[b_dim ? i % b_dim : i]);
    y[i] = from_float<T>(a ? to_float(a[i]) + bv : bv);
  }
}

template <typename T>
__global__ void scale_kernel(T* x, float s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = from_float<T>(to_float(x[i]) * s);
}

}  // namespace

cudaError_t activation(Activation kind, DType dtype, const void* x, void* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     activation_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
                         kind, static_cast<const T*>(x), static_cast<T*>(y), n));
  return cudaGetLastError();
}

cudaError_t gated_activation(Activation kind, DType dtype, const void* gate, const void* up, void* y,
                             int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(
      dtype, T,
      gated_activation_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
          kind, static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<T*>(y), n));
  return cudaGetLastError();
}

cudaError_t add(DType dtype, const void* a, const void* b, void* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     add_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
                         static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), n, 0));
  return cudaGetLastError();
}

cudaError_t add_rows(DType dtype, const void* a, const void* b, void* y, int64_t rows, int64_t dim,
                     cudaStream_t stream) {
  const int64_t n = rows * dim;
  if (n <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     add_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
                         static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), n, dim));
  return cudaGetLastError();
}

cudaError_t fill_rows(DType dtype, const void* b, void* y, int64_t rows, int64_t dim, cudaStream_t stream) {
  const int64_t n = rows * dim;
  if (n <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     add_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
                         nullptr, static_cast<const T*>(b), static_cast<T*>(y), n, dim));
  return cudaGetLastError();
}

cudaError_t scale(DType dtype, void* x, float s, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(
      dtype, T, scale_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(static_cast<T*>(x), s, n));
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
