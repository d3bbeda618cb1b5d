#include <cublas_v2.h>

#include <map>
#include <mutex>
#include <utility>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/linear.cuh"

namespace mmrt::cuda {
namespace {

cudaDataType_t cublas_type(DType t) {
  switch (t) {
    case DType::f32:
      return CUDA_R_32F;
    case DType::f16:
      return CUDA_R_16F;
    case DType::bf16:
      return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

// The handle for (current device, stream), bound to the stream. Handles are never destroyed: they live as
// long as the process, like the kernel tables.
const char* handle_for(cudaStream_t stream, cublasHandle_t* out) {
  static std::mutex mutex;
  static std::map<std::pair<int, cudaStream_t>, cublasHandle_t> handles;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return "linear: cudaGetDevice failed";
  std::lock_guard lock(mutex);
  auto it = handles.find({device, stream});
  if (it == handles.end()) {
    cublasHandle_t h = nullptr;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return "linear: cublasCreate failed";
    if (cublasSetStream(h, stream) != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(h);
      return "linear: cublasSetStream failed";
    }
    it = handles.emplace(std::pair{device, stream}, h).first;
  }
  *out = it->second;
  return nullptr;
}

}  // namespace

const char* linear(DType dtype, const void* x, const void* w, const void* bias, void* y, int64_t m, int64_t n,
                   int64_t k, cudaStream_t stream) {
  constexpr int64_t kIntMax = 0x7fffffff;
  if (m > kIntMax || n > kIntMax || k > kIntMax) return "linear: a dimension exceeds what cuBLAS takes (int)";
  if (m <= 0 || n <= 0) return nullptr;
  if (bias != nullptr) {
    if (fill_rows(dtype, bias, y, m, n, stream) != cudaSuccess) return "linear: bias fill launch failed";
  }
  if (k == 0) {
    // An empty product: y is the bias, or zero.
    if (bias != nullptr) return nullptr;
    return cudaMemsetAsync(y, 0, size_t(m * n * dtype_size(dtype)), stream) == cudaSuccess
               ? nullptr
               : "linear: cudaMemsetAsync failed";
  }
  cublasHandle_t handle = nullptr;
  if (const char* error = handle_for(stream, &handle)) return error;
  const float alpha = 1.0f, beta = bias != nullptr ? 1.0f : 0.0f;
  // Row-major y[m, n] is column-major yᵀ [n, m] = w (k×n column-major, transposed) · xᵀ (k×m column-major).
  const cudaDataType_t type = cublas_type(dtype);
  const cublasStatus_t status =
      cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(m), int(k), &alpha, w, type, int(k), x, type,
                   int(k), &beta, y, type, int(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS) return cublasGetStatusString(status);
  return nullptr;
}

}  // namespace mmrt::cuda
