#pragma once
// nn.Linear through cuBLAS: y[m, n] = x[m, k] · w[n, k]ᵀ + bias[n], x, w, bias and y in one dtype, fp32
// accumulation (CUBLAS_COMPUTE_32F: true fp32 for f32 operands, tensor cores for f16/bf16). Like torch.addmm
// and kernels/cpu/linear.hpp, the bias is the initial value of y, so y is rounded once.
//
// cuBLAS handles: one per (device, stream), created on first use and kept for the process (creating one
// allocates, so steady state never does). A handle is bound to its stream with cublasSetStream; the host
// drives each stream from one thread at a time, which is what makes sharing a handle per stream safe.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// nullptr on success, else a static message naming the failing call (cuBLAS or CUDA). m, n, k must fit an
// int; y must not overlap x or w; bias may be null.
const char* linear(DType dtype, const void* x, const void* w, const void* bias, void* y, int64_t m, int64_t n,
                   int64_t k, cudaStream_t stream);

}  // namespace mmrt::cuda
