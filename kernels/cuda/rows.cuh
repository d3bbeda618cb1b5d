#pragma once
// Row indexing: embedding lookup, gather and scatter of rows of width `dim` (one dtype for source and
// destination; indices int32 on the device). Indices cannot be checked on the host without a
// synchronisation, so the kernels are defensive instead: a gathered index outside [0, n_src) yields a zero
// row, a scattered one outside [0, n_dst) is skipped. Host callers validate what they can see.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// dst[i, :] = src[rows[i], :] for i < n (nn.Embedding when src is the table and rows the token ids).
cudaError_t gather_rows(DType dtype, const void* src, int64_t n_src, const int32_t* rows, int64_t n,
                        void* dst, int64_t dim, cudaStream_t stream);

// dst[rows[i], :] = src[i, :] for i < n. Duplicate indices race (the last writer is unspecified).
cudaError_t scatter_rows(DType dtype, const void* src, const int32_t* rows, int64_t n, void* dst,
                         int64_t n_dst, int64_t dim, cudaStream_t stream);

}  // namespace mmrt::cuda
