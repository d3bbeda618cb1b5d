#include "kernels/cuda/common.cuh"
#include "kernels/cuda/norm.cuh"

namespace mmrt::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void layer_norm_kernel(const T* x, const T* w, const T* b, T* y, int64_t dim, float eps) {
  __shared__ double partial[kThreads / kWarpSize];
  const T* xr = x + blockIdx.x * dim;
  T* yr = y + blockIdx.x * dim;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) sum += to_float(xr[i]);
  const double mean = block_sum(sum, partial) / double(dim);
  double sum_sq = 0.0;  // second pass around the mean, as the CPU reference
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const double d = double(to_float(xr[i])) - mean;
    sum_sq += d * d;
  }
  const double rstd = 1.0 / sqrt(block_sum(sum_sq, partial) / double(dim) + double(eps));
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = float((double(to_float(xr[i])) - mean) * rstd);
    if (w != nullptr) v *= to_float(w[i]);
    if (b != nullptr) v += to_float(b[i]);
    yr[i] = from_float<T>(v);
  }
}

template <typename T>
__global__ void rms_norm_kernel(const T* x, const T* w, T* y, int64_t dim, float eps) {
  __shared__ double partial[kThreads / kWarpSize];
  const T* xr = x + blockIdx.x * dim;
  T* yr = y + blockIdx.x * dim;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const double v = to_float(xr[i]);
    sum_sq += v * v;
  }
  const float mean_sq = float(block_sum(sum_sq, partial) / double(dim));
  const float rstd = 1.0f / sqrtf(mean_sq + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float normalized = to_float(from_float<T>(to_float(xr[i]) * rstd));
    yr[i] = from_float<T>(w != nullptr ? to_float(w[i]) * normalized : normalized);
  }
}

// Rows go to grid.x (up to 2^31 - 1), so no row loop is needed.
bool rows_fit(int64_t rows) {
  return rows <= 0x7fffffff;
}

}  // namespace

cudaError_t layer_norm(DType dtype, const void* x, const void* w, const void* b, void* y, int64_t rows,
                       int64_t dim, float eps, cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return cudaSuccess;
  if (!rows_fit(rows)) return cudaErrorInvalidValue;
  MMRT_CUDA_DISPATCH(dtype, T,
                     layer_norm_kernel<T><<<unsigned(rows), kThreads, 0, stream>>>(
                         static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(b),
                         static_cast<T*>(y), dim, eps));
  return cudaGetLastError();
}

cudaError_t rms_norm(DType dtype, const void* x, const void* w, void* y, int64_t rows, int64_t dim, float eps,
                     cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return cudaSuccess;
  if (!rows_fit(rows)) return cudaErrorInvalidValue;
  MMRT_CUDA_DISPATCH(dtype, T,
                     rms_norm_kernel<T><<<unsigned(rows), kThreads, 0, stream>>>(
                         static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), dim, eps));
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
