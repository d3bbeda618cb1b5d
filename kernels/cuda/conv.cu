#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv.cuh"

namespace mmrt::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void im2col_kernel(const T* pixels, int64_t channels, int64_t height, int64_t width, int64_t patch,
                              T* cols) {
  const int64_t grid_w = width / patch, n_patches = (height / patch) * grid_w;
  const int64_t patch_dim = channels * patch * patch;
  const int64_t total = n_patches * patch_dim;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t token = i / patch_dim, e = i % patch_dim;
    const int64_t c = e / (patch * patch), y = (e / patch) % patch, x = e % patch;
    const int64_t py = token / grid_w, px = token % grid_w;
    cols[i] = pixels[(c * height + py * patch + y) * width + px * patch + x];
  }
}

}  // namespace

cudaError_t im2col_patches(DType dtype, const void* pixels, int64_t channels, int64_t height, int64_t width,
                           int64_t patch, void* cols, cudaStream_t stream) {
  if (patch <= 0) return cudaErrorInvalidValue;
  const int64_t total = (height / patch) * (width / patch) * channels * patch * patch;
  if (total <= 0) return cudaSuccess;
  MMRT_CUDA_DISPATCH(
      dtype, T,
      im2col_kernel<T><<<grid_for(total, kThreads), kThreads, 0, stream>>>(
          static_cast<const T*>(pixels), channels, height, width, patch, static_cast<T*>(cols)));
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
