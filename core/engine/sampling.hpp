// Per-request sampling settings and the host-side sampler.
//
// Logprobs are always the natural-log softmax of the raw logits, before temperature, top-k or top-p, so
// they are comparable with Transformers' output_logits. Greedy (temperature 0) picks the first maximum,
// as torch.argmax does.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace mmrt::engine {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  float top_p = 1.0f;        // (0, 1]
  int32_t top_k = 0;         // 0 = off
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
  Sample sample(const float* logits, int64_t vocab_size);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> logprobs_;
  std::vector<int32_t> order_;
};

}  // namespace mmrt::engine
