#pragma once
// Greedy decoding on the device: per row of f32 logits, the argmax token (the first on ties, as
// std::max_element and torch.argmax), its log-probability and the top-k log-probabilities, with the
// log-softmax normaliser summed in double like core/engine/sampling.cpp. Lets a host keep the logits on the
// GPU and copy back a few numbers per sequence instead of a vocabulary-wide row. Not yet used by the engine,
// which samples on the host.

#include "kernels/cuda/dtype.hpp"

namespace mmrt::cuda {

inline constexpr int32_t kMaxTopLogprobs = 20;

// logits [n_rows, vocab] f32 -> tokens [n_rows] int32, token_logprobs [n_rows] f32, and when k > 0
// top_ids [n_rows, k] int32 and top_logprobs [n_rows, k] f32 in descending order (ties: lower id first).
// k is at most kMaxTopLogprobs and vocab.
cudaError_t sample_greedy_logprobs(const float* logits, int64_t n_rows, int64_t vocab, int32_t k,
                                   int32_t* tokens, float* token_logprobs, int32_t* top_ids,
                                   float* top_logprobs, cudaStream_t stream);

}  // namespace mmrt::cuda
