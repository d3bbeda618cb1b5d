#pragma once
// 2-D copies between device buffers with dtype conversion (f32, f16, bf16 in any pair): the kernel table's
// `copy` within one GPU. Rows may be strided (a column slice of a wider tensor); columns are contiguous.
// Conversions round to nearest even, NaN stays NaN. src and dst must not overlap.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

cudaError_t copy_2d(DType src_dtype, const void* src, int64_t src_row_stride,  // elements between rows
                    DType dst_dtype, void* dst, int64_t dst_row_stride, int64_t rows, int64_t cols,
                    cudaStream_t stream);

}  // namespace mmrt::cuda
