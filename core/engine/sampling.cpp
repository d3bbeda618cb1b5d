#include "core/engine/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace mmrt::engine {

void SamplingParams::validate(int64_t vocab_size) const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    throw std::invalid_argument("temperature must be a finite number >= 0");
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) throw std::invalid_argument("top_p must be in (0, 1]");
  if (top_k < 0) throw std::invalid_argument("top_k must be >= 0");
  if (!(min_p >= 0.0f && min_p <= 1.0f)) throw std::invalid_argument("min_p must be in [0, 1]");
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty)) {
    throw std::invalid_argument("repetition_penalty must be a finite number > 0");
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    throw std::invalid_argument("frequency_penalty must be in [-2, 2]");
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    throw std::invalid_argument("presence_penalty must be in [-2, 2]");
  }
  if (max_tokens < 1) throw std::invalid_argument("max_tokens must be >= 1");
  if (top_logprobs < 0 || top_logprobs > 20 || top_logprobs > vocab_size) {
    throw std::invalid_argument("top_logprobs must be between 0 and 20");
  }
  if (stop.size() > 16) throw std::invalid_argument("at most 16 stop strings");
  for (const auto& s : stop) {
    if (s.empty()) throw std::invalid_argument("stop strings must not be empty");
  }
}

Sampler::Sampler(const SamplingParams& params)
    : params_(params), rng_(params.seed ? *params.seed : std::random_device{}()) {}

const float* Sampler::penalize(const float* logits, int64_t vocab, std::span<const int32_t> prompt,
                               std::span<const int32_t> generated) {
  const bool repetition = params_.repetition_penalty != 1.0f;
  const bool additive = params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f;
  if (!repetition && !additive) return logits;
  adjusted_.assign(logits, logits + vocab);
  counts_.resize(size_t(vocab), 0);
  auto in_vocab = [vocab](int32_t id) { return id >= 0 && id < vocab; };
  if (repetition) {
    // counts_ marks each token once, so a token seen many times is penalized once.
    for (auto ids : {prompt, generated}) {
      for (int32_t id : ids) {
        if (!in_vocab(id) || counts_[size_t(id)]) continue;
        counts_[size_t(id)] = 1;
        float& l = adjusted_[size_t(id)];
        l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      }
    }
    for (auto ids : {prompt, generated}) {
      for (int32_t id : ids) {
        if (in_vocab(id)) counts_[size_t(id)] = 0;
      }
    }
  }
  if (additive) {
    for (int32_t id : generated) {
      if (in_vocab(id)) ++counts_[size_t(id)];
    }
    for (int32_t id : generated) {
      if (!in_vocab(id) || !counts_[size_t(id)]) continue;
      adjusted_[size_t(id)] -=
          params_.frequency_penalty * float(counts_[size_t(id)]) + params_.presence_penalty;
      counts_[size_t(id)] = 0;
    }
  }
  return adjusted_.data();
}

Sample Sampler::sample(const float* raw_logits, int64_t vocab, std::span<const int32_t> prompt,
                       std::span<const int32_t> generated) {
  const float* logits = raw_logits;
  logprobs_.resize(size_t(vocab));
  double max_logit = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i) {
    if (!std::isfinite(logits[i])) {
      throw std::runtime_error("the model produced a non-finite logit (token " + std::to_string(i) + ")");
    }
    max_logit = std::max<double>(max_logit, logits[i]);
  }
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - max_logit);
  const double log_z = max_logit + std::log(sum);
  for (int64_t i = 0; i < vocab; ++i) logprobs_[size_t(i)] = float(double(logits[i]) - log_z);
  logits = penalize(raw_logits, vocab, prompt, generated);

  int32_t chosen = 0;
  if (params_.temperature == 0.0f) {
    chosen = int32_t(std::max_element(logits, logits + vocab) - logits);
  } else {
    // Candidates sorted by logit; top-k then top-p (nucleus) cut the tail, then a draw from the rest
    // at the given temperature.
    order_.resize(size_t(vocab));
    std::iota(order_.begin(), order_.end(), 0);
    int64_t keep = vocab;
    if (params_.top_k > 0) keep = std::min<int64_t>(keep, params_.top_k);
    std::partial_sort(order_.begin(), order_.begin() + keep, order_.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::vector<double> weights(static_cast<size_t>(keep));
    const double top = logits[order_[0]];
    double total = 0;
    for (int64_t i = 0; i < keep; ++i) {
      weights[size_t(i)] = std::exp((double(logits[order_[size_t(i)]]) - top) / params_.temperature);
      total += weights[size_t(i)];
    }
    if (params_.top_p < 1.0f) {
      double cumulative = 0;
      int64_t cut = keep;
      for (int64_t i = 0; i < keep; ++i) {
        cumulative += weights[size_t(i)] / total;
        if (cumulative >= params_.top_p) {
          cut = i + 1;
          break;
        }
      }
      keep = cut;
      weights.resize(size_t(keep));
    }
    if (params_.min_p > 0.0f) {
      // weights are probabilities relative to the most likely candidate, in descending order.
      int64_t cut = 1;
      while (cut < keep && weights[size_t(cut)] >= params_.min_p) ++cut;
      keep = cut;
      weights.resize(size_t(keep));
    }
    std::discrete_distribution<int64_t> draw(weights.begin(), weights.end());
    chosen = order_[size_t(draw(rng_))];
  }

  Sample out{chosen, logprobs_[size_t(chosen)], {}};
  if (params_.top_logprobs > 0) {
    const int64_t k = std::min<int64_t>(params_.top_logprobs, vocab);
    // order_ is free again once the token is drawn; reusing it keeps this per-token path allocation-free.
    std::vector<int32_t>& idx = order_;
    idx.resize(static_cast<size_t>(vocab));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
      return logprobs_[size_t(a)] > logprobs_[size_t(b)] ||
             (logprobs_[size_t(a)] == logprobs_[size_t(b)] && a < b);
    });
    for (int64_t i = 0; i < k; ++i) out.top.push_back({idx[size_t(i)], logprobs_[size_t(idx[size_t(i)])]});
  }
  return out;
}

}  // namespace mmrt::engine
