#include "kernels/cuda/common.cuh"
#include "kernels/cuda/rows.cuh"

namespace mmrt::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void gather_kernel(const T* src, int64_t n_src, const int32_t* rows, int64_t n, T* dst,
                              int64_t dim) {
  const int64_t total = n * dim;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim, c = i % dim;
    const int64_t s = rows[r];
    dst[i] = s >= 0 && s < n_src ? src[s * dim + c] : from_float<T>(0.0f);
  }
}

template <typename T>
__global__ void scatter_kernel(const T* src, const int32_t* rows, int64_t n, T* dst, int64_t n_dst,
                               int64_t dim) {
  const int64_t total = n * dim;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim, c = i % dim;
    const int64_t d = rows[r];
    if (d >= 0 && d < n_dst) dst[d * dim + c] = src[i];
  }
}

}  // namespace

cudaError_t gather_rows(DType dtype, const void* src, int64_t n_src, const int32_t* rows, int64_t n,
                        void* dst, int64_t dim, cudaStream_t stream) {
  if (n <= 0 || dim <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     gather_kernel<T><<<grid_for(n * dim, kThreads), kThreads, 0, stream>>>(
                         static_cast<const T*>(src), n_src, rows, n, static_cast<T*>(dst), dim));
  return cudaGetLastError();
}

cudaError_t scatter_rows(DType dtype, const void* src, const int32_t* rows, int64_t n, void* dst,
                         int64_t n_dst, int64_t dim, cudaStream_t stream) {
  if (n <= 0 || dim <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(dtype, T,
                     scatter_kernel<T><<<grid_for(n * dim, kThreads), kThreads, 0, stream>>>(
                         static_cast<const T*>(src), rows, n, static_cast<T*>(dst), n_dst, dim));
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
