#pragma once
// Patch embedding (a Conv2d with kernel = stride = patch) as im2col + GEMM: this writes the columns; the
// caller multiplies them with the weight viewed as [out_ch, channels·patch·patch] through linear().
// Patch (py, px) becomes row py·(width/patch) + px, its columns in (c, y, x) order like the Conv2d weight
// (kernels/cpu/conv.hpp).

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// pixels [channels, height, width] -> cols [(height/patch)·(width/patch), channels·patch·patch], one dtype.
cudaError_t im2col_patches(DType dtype, const void* pixels, int64_t channels, int64_t height, int64_t width,
                           int64_t patch, void* cols, cudaStream_t stream);

}  // namespace mmrt::cuda
