#include "kernels/cuda/common.cuh"
#include "kernels/cuda/convert.cuh"

namespace mmrt::cuda {
namespace {

constexpr int kThreads = 256;

template <typename S, typename D>
__global__ void copy_2d_kernel(const S* src, int64_t src_stride, D* dst, int64_t dst_stride, int64_t rows,
                               int64_t cols) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    dst[r * dst_stride + c] = from_float<D>(to_float(src[r * src_stride + c]));
  }
}

}  // namespace

cudaError_t copy_2d(DType src_dtype, const void* src, int64_t src_row_stride, DType dst_dtype, void* dst,
                    int64_t dst_row_stride, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  const unsigned grid = grid_for(rows * cols, kThreads);
  MMRT_CUDA_DISPATCH(src_dtype, S,
                     MMRT_CUDA_DISPATCH(dst_dtype, D,
                                        copy_2d_kernel<S, D><<<grid, kThreads, 0, stream>>>(
                                            static_cast<const S*>(src), src_row_stride, static_cast<D*>(dst),
                                            dst_row_stride, rows, cols)));
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
