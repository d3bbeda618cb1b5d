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
