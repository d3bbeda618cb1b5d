#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include "core/engine/sampling.hpp"

using mmrt::engine::Sampler;
using mmrt::engine::SamplingParams;

TEST_CASE("greedy takes the first maximum and reports log-softmax of the raw logits") {
  SamplingParams p;
  p.top_logprobs = 3;
  Sampler s(p);
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f};
  const auto out = s.sample(logits.data(), 4);
  CHECK(out.token == 1);
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  CHECK(out.logprob == doctest::Approx(3.0 - std::log(z)).epsilon(1e-6));
  REQUIRE(out.top.size() == 3);
  CHECK(out.top[0].token == 1);
  CHECK(out.top[1].token == 2);
  CHECK(out.top[2].token == 0);
  CHECK(out.top[2].logprob == doctest::Approx(1.0 - std::log(z)).epsilon(1e-6));
}

TEST_CASE("top-k 1 and a tiny top-p are greedy even with a temperature") {
  const std::vector<float> logits = {0.1f, 0.2f, 5.0f, 0.3f};
  for (int trial = 0; trial < 20; ++trial) {
    SamplingParams k;
    k.temperature = 1.5f;
    k.top_k = 1;
    CHECK(Sampler(k).sample(logits.data(), 4).token == 2);
    SamplingParams p;
    p.temperature = 1.5f;
    p.top_p = 0.01f;
    CHECK(Sampler(p).sample(logits.data(), 4).token == 2);
  }
}

TEST_CASE("sampling follows the softmax at temperature 1 and a seed repeats the draw") {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  const std::vector<float> logits = {0.0f, std::log(3.0f)};  // probabilities 1/4, 3/4
  Sampler s(p);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 4000; ++i) ++counts[s.sample(logits.data(), 2).token];
  CHECK(counts[1] / 4000.0 == doctest::Approx(0.75).epsilon(0.05));
  Sampler a(p), b(p);
  for (int i = 0; i < 50; ++i) CHECK(a.sample(logits.data(), 2).token == b.sample(logits.data(), 2).token);
}

TEST_CASE("invalid sampling settings are refused by name") {
  SamplingParams p;
  p.top_p = 0.0f;
  CHECK_THROWS_WITH(p.validate(10), doctest::Contains("top_p"));
  p = {};
  p.temperature = -1.0f;
  CHECK_THROWS_WITH(p.validate(10), doctest::Contains("temperature"));
  p = {};
  p.max_tokens = 0;
  CHECK_THROWS_WITH(p.validate(10), doctest::Contains("max_tokens"));
}

TEST_CASE("repetition penalty divides positive and multiplies negative logits of seen tokens, once each") {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.top_logprobs = 1;
  const std::vector<float> logits = {3.0f, 2.0f, -1.0f, -1.5f};
  const std::vector<int32_t> prompt = {0, 0, 0}, generated = {2};
  // Token 0 (seen): 3 / 2 = 1.5 < 2, so greedy moves to token 1; token 2 (seen): -1 * 2 = -2 < -1.5.
  const auto out = Sampler(p).sample(logits.data(), 4, prompt, generated);
  CHECK(out.token == 1);
  // Logprobs stay those of the raw logits.
  CHECK(out.top[0].token == 0);
  p.repetition_penalty = 1.0f;
  CHECK(Sampler(p).sample(logits.data(), 4, prompt, generated).token == 0);
}

TEST_CASE("frequency and presence penalties subtract per occurrence and once, from output tokens only") {
  const std::vector<float> logits = {3.0f, 2.5f, 0.0f};
  const std::vector<int32_t> prompt = {1, 1, 1, 1}, generated = {0, 0};
  SamplingParams p;
  p.frequency_penalty = 0.2f;  // token 0: 3 - 0.4 = 2.6 > 2.5
  CHECK(Sampler(p).sample(logits.data(), 3, prompt, generated).token == 0);
  p.frequency_penalty = 0.3f;  // 3 - 0.6 = 2.4 < 2.5; the prompt's token 1 is not penalized
  CHECK(Sampler(p).sample(logits.data(), 3, prompt, generated).token == 1);
  p = {};
  p.presence_penalty = 0.6f;  // 3 - 0.6 = 2.4, however often token 0 occurred
  CHECK(Sampler(p).sample(logits.data(), 3, prompt, generated).token == 1);
  p.presence_penalty = -1.0f;  // a negative penalty favours repeats
  CHECK(Sampler(p).sample(logits.data(), 3, prompt, generated).token == 0);
}

TEST_CASE("min-p keeps only candidates at least min_p times as likely as the best") {
  // Probabilities at temperature 1: token 0 is 1, token 1 is 0.5, token 2 is 0.05 relative to the best.
  const std::vector<float> logits = {0.0f, std::log(0.5f), std::log(0.05f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 7;
  p.min_p = 0.1f;
  Sampler s(p);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 3000; ++i) ++counts[s.sample(logits.data(), 3).token];
  CHECK(counts[2] == 0);
  CHECK(counts[1] / 3000.0 == doctest::Approx(1.0 / 3.0).epsilon(0.1));
  p.min_p = 0.0f;
  Sampler all(p);
  counts.clear();
  for (int i = 0; i < 3000; ++i) ++counts[all.sample(logits.data(), 3).token];
  CHECK(counts[2] > 0);
}

TEST_CASE("penalty settings out of range are refused by name") {
  SamplingParams p;
  p.repetition_penalty = 0.0f;
  CHECK_THROWS_WITH(p.validate(10), doctest::Contains("repetition_penalty"));
  p = {};
  p.frequency_penalty = 2.5f;
  CHECK_THROWS_WITH(p.validate(10), doctest::Contains("frequency_penalty"));
  p = {};
  p.presence_penalty = -3.0f;
  CHECK_THROWS_WITH(p.validate(10), doctest::Contains("presence_penalty"));
  p = {};
  p.min_p = 1.5f;
  CHECK_THROWS_WITH(p.validate(10), doctest::Contains("min_p"));
}
