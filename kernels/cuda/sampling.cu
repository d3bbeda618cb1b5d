#include <math_constants.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/sampling.cuh"

namespace mmrt::cuda {
namespace {

constexpr int kThreads = 256;

struct Best {
  float value;
  int32_t id;
};

// The better of two candidates: the larger logit, the lower id on ties; id -1 is "none".
__device__ inline Best better(Best a, Best b) {
  if (a.id < 0) return b;
  if (b.id < 0) return a;
  if (b.value > a.value || (b.value == a.value && b.id < a.id)) return b;
  return a;
}

// Block-wide best, returned to every thread. Contains barriers.
__device__ Best block_best(Best mine, Best* shared) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    Best other{__shfl_xor_sync(kFullMask, mine.value, offset), __shfl_xor_sync(kFullMask, mine.id, offset)};
    mine = better(mine, other);
  }
  __syncthreads();
  if (threadIdx.x % kWarpSize == 0) shared[threadIdx.x / kWarpSize] = mine;
  __syncthreads();
  Best total{0.0f, -1};
  for (int w = 0; w < kThreads / kWarpSize; ++w) total = better(total, shared[w]);
  return total;
}

__device__ inline bool taken(const int32_t* chosen, int32_t n, int32_t id) {
  for (int32_t j = 0; j < n; ++j) {
    if (chosen[j] == id) return true;
  }
  return false;
}

// One block per row.
__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* logits, int64_t vocab, int32_t k, int32_t* tokens, float* token_logprobs,
                  int32_t* top_ids, float* top_logprobs) {
  __shared__ Best best_shared[kThreads / kWarpSize];
  __shared__ double sum_shared[kThreads / kWarpSize];
  __shared__ int32_t chosen[kMaxTopLogprobs];
  const int64_t row = blockIdx.x;
  const float* x = logits + row * vocab;

  Best mine{0.0f, -1};
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) mine = better(mine, Best{x[i], int32_t(i)});
  const Best top = block_best(mine, best_shared);
  const double max_logit = top.id >= 0 ? double(top.value) : -CUDART_INF;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) sum += exp(double(x[i]) - max_logit);
  const double log_z = max_logit + log(block_sum(sum, sum_shared));
  if (threadIdx.x == 0) {
    tokens[row] = top.id;
    token_logprobs[row] = top.id >= 0 ? float(double(top.value) - log_z) : -CUDART_INF_F;
  }
  for (int32_t j = 0; j < k; ++j) {
    Best candidate{0.0f, -1};
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
      if (!taken(chosen, j, int32_t(i))) candidate = better(candidate, Best{x[i], int32_t(i)});
    }
    const Best pick = block_best(candidate, best_shared);
    if (threadIdx.x == 0) {
      chosen[j] = pick.id;
      top_ids[row * k + j] = pick.id;
      top_logprobs[row * k + j] = pick.id >= 0 ? float(double(pick.value) - log_z) : -CUDART_INF_F;
    }
    __syncthreads();  // chosen[j] is read by every thread in the next round
  }
}

}  // namespace

cudaError_t sample_greedy_logprobs(const float* logits, int64_t n_rows, int64_t vocab, int32_t k,
                                   int32_t* tokens, float* token_logprobs, int32_t* top_ids,
                                   float* top_logprobs, cudaStream_t stream) {
  if (n_rows <= 0) return cudaSuccess;
  if (vocab <= 0 || vocab > 0x7fffffff || k < 0 || k > kMaxTopLogprobs || k > vocab || n_rows > 0x7fffffff ||
      (k > 0 && (top_ids == nullptr || top_logprobs == nullptr))) {
    return cudaErrorInvalidValue;
  }
  sample_kernel<<<unsigned(n_rows), kThreads, 0, stream>>>(logits, vocab, k, tokens, token_logprobs, top_ids,
                                                           top_logprobs);
  return cudaGetLastError();
}

}  // namespace mmrt::cuda
