// Per-request sampling settings and the host-side sampler.
//
// Logprobs are always the natural-log softmax of the raw logits, before penalties, temperature, top-k, top-p
// or min-p, so they are comparable with Transformers' output_logits. Greedy (temperature 0) picks the first
// maximum of the penalized logits, as torch.argmax does.
//
// Penalties, in vLLM's order and meaning: repetition_penalty (Transformers' rule: a positive logit of a token
// seen in the prompt or the output is divided by it, a negative one multiplied), then frequency_penalty x
// (times the token occurs in the output) and presence_penalty (once if it occurs), subtracted as in OpenAI's
// API. min_p drops candidates whose probability is below min_p times the most likely one's, after top-k and
// top-p.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace mmrt::engine {

struct SamplingParams {
  float temperature = 0.0f;         // 0 = greedy
  float top_p = 1.0f;               // (0, 1]
  int32_t top_k = 0;                // 0 = off
  float min_p = 0.0f;               // [0, 1]; 0 = off
  float repetition_penalty = 1.0f;  // > 0; 1 = off
  float frequency_penalty = 0.0f;   // [-2, 2]
  float presence_penalty = 0.0f;    // [-2, 2]
  std::optional<uint64_t> seed;
  int32_t max_tokens = 16;
  int32_t top_logprobs = 0;  // how many alternatives to report per generated token
  std::vector<std::string> stop;
  bool ignore_eos = false;

  // Throws std::invalid_argument naming the field when a value is out of range.
  void validate(int64_t vocab_size) const;
};

struct TokenLogprob {
  int32_t token;
  float logprob;
};

struct Sample {
  int32_t token;
  float logprob;                  // of the chosen token
  std::vector<TokenLogprob> top;  // the top_logprobs most likely, best first
};

// Thread-compatible: one sampler per request (it owns the request's random generator).
class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // prompt and generated: the sequence's ids so far, which the penalties look at.
  Sample sample(const float* logits, int64_t vocab_size, std::span<const int32_t> prompt = {},
                std::span<const int32_t> generated = {});

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  // Penalized logits into adjusted_; returns the logits to sample from (`logits` when no penalty is on).
  const float* penalize(const float* logits, int64_t vocab, std::span<const int32_t> prompt,
                        std::span<const int32_t> generated);

  std::vector<float> logprobs_;
  std::vector<int32_t> order_;
  std::vector<float> adjusted_;
  std::vector<int32_t> counts_;  // per token, zero between calls
};

}  // namespace mmrt::engine
