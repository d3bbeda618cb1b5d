#pragma once
// Internal to kernels/cuda (included by .cu files only): storage types, fp32 conversions, the dtype switch,
// warp/block reductions and launch geometry shared by the kernels.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

// Every kernel reads and writes its dtype through these, so the arithmetic in between is always fp32.
__device__ __forceinline__ float to_float(float x) {
  return x;
}
__device__ __forceinline__ float to_float(__half x) {
  return __half2float(x);
}
__device__ __forceinline__ float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
// Round to nearest even, as torch's casts and kernels/cpu/convert do.
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Runs `body` with `T` bound to the storage type of `dtype`: the one place a DType becomes a template
// argument, so each kernel has exactly three instantiations.
#define MMRT_CUDA_DISPATCH(dtype, T, ...) \
  switch (dtype) {                        \
    case ::mmrt::cuda::DType::f32: {      \
      using T = float;                    \
      __VA_ARGS__;                        \
      break;                              \
    }                                     \
    case ::mmrt::cuda::DType::f16: {      \
      using T = __half;                   \
      __VA_ARGS__;                        \
      break;                              \
    }                                     \
    case ::mmrt::cuda::DType::bf16: {     \
      using T = __nv_bfloat16;            \
      __VA_ARGS__;                        \
      break;                              \
    }                                     \
  }

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

template <typename V>
__device__ __forceinline__ V warp_sum(V v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Sum over the whole block, returned to every thread. `shared` holds one V per warp; blockDim.x must be a
// multiple of 32 and at most 1024. Contains barriers: every thread of the block must call it.
template <typename V>
__device__ V block_sum(V v, V* shared) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int n_warps = blockDim.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  V total = 0;
  for (int w = 0; w < n_warps; ++w) total += shared[w];
  return total;
}

// Grid for a grid-stride loop over n items: enough blocks to fill any current GPU, never more than needed.
inline unsigned grid_for(int64_t n, int threads) {
  constexpr int64_t kMaxBlocks = 65535;
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

}  // namespace mmrt::cuda
