#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "mmrt/blocks/rope.hpp"

using mmrt::sdk::Error;
using mmrt::sdk::blocks::parse_rope_config;
using mmrt::sdk::blocks::rope_inv_freq;
using mmrt::sdk::blocks::RopeConfig;
using mmrt::sdk::blocks::RopeType;
namespace json = mmrt::sdk::json;

namespace {

RopeConfig parse(const char* text) {
  json::Value v = json::parse(text);
  return parse_rope_config(json::Reader(v, "text_config"));
}

// inv_freq_i = θ^(-2i/d), in double.
std::vector<double> reference_default(double theta, int dim) {
  std::vector<double> out;
  for (int i = 0; i < dim / 2; ++i) out.push_back(1.0 / std::pow(theta, 2.0 * i / dim));
  return out;
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, double rel) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(std::fabs(got[i] - want[i]) <= rel * std::fabs(want[i]));
  }
}

}  // namespace

TEST_CASE("rope: v4 and v5 spellings parse to the same settings") {
  RopeConfig v4 = parse(R"({"rope_theta": 1000000.0, "rope_scaling": {"type": "linear", "factor": 2.0}})");
  RopeConfig v5 =
      parse(R"({"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0}})");
  for (const RopeConfig& r : {v4, v5}) {
    CHECK(r.type == RopeType::linear);
    CHECK(r.theta == 1000000.0);
    CHECK(r.factor == 2.0);
  }
  RopeConfig none = parse(R"({"rope_scaling": null})");
  CHECK(none.type == RopeType::default_);
  CHECK(none.theta == 10000.0);
  RopeConfig l3 = parse(R"({"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
  CHECK(l3.type == RopeType::llama3);
  CHECK(l3.original_max_position_embeddings == 8192);
  CHECK_THROWS_WITH_AS(
      parse(R"({"rope_scaling": {"type": "dynamic", "factor": 2.0}})"),
      "text_config.rope_scaling.rope_type: rope type 'dynamic' is not supported (default, linear, "
      "llama3)",
      Error);
  CHECK_THROWS_AS(parse(R"({"rope_theta": -1})"), Error);
}

TEST_CASE("rope: default and linear frequencies follow θ^(-2i/d)") {
  RopeConfig r;
  r.theta = 10000.0;
  check_close(rope_inv_freq(r, 128), reference_default(10000.0, 128), 2e-7);
  r.theta = 500000.0;
  r.type = RopeType::linear;
  r.factor = 2.0;
  std::vector<double> want = reference_default(500000.0, 16);
  for (double& f : want) f /= 2.0;
  check_close(rope_inv_freq(r, 16), want, 2e-7);
  CHECK(rope_inv_freq(r, 16)[0] == 0.5f);
  r.partial_rotary_factor = 0.5;
  CHECK(rope_inv_freq(r, 16).size() == 4);
  CHECK_THROWS_AS(rope_inv_freq(r, 6), Error);  // 3 rotated dims: odd
}

TEST_CASE("rope: llama3 keeps high frequencies, divides low ones, blends the band between") {
  RopeConfig r = parse(R"({"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
  // Reference: the piecewise rule of the Llama 3.1 release, in double.
  std::vector<double> want = reference_default(500000.0, 128);
  const double low_wavelen = 8192 / 1.0, high_wavelen = 8192 / 4.0;
  int n_high = 0, n_low = 0, n_mid = 0;
  for (double& f : want) {
    double wavelen = 2 * M_PI / f;
    if (wavelen < high_wavelen) {
      ++n_high;
    } else if (wavelen > low_wavelen) {
      f /= 8.0;
      ++n_low;
    } else {
      double smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0);
      f = (1 - smooth) * f / 8.0 + smooth * f;
      ++n_mid;
    }
  }
  CHECK(n_high > 0);  // the case covers all three bands
  CHECK(n_low > 0);
  CHECK(n_mid > 0);
  check_close(rope_inv_freq(r, 128), want, 2e-6);
}

TEST_CASE("rope: multimodal sections (Qwen2-VL) in both spellings") {
  RopeConfig v4 =
      parse(R"({"rope_theta": 1000000.0, "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}})");
  RopeConfig v5 = parse(
      R"({"rope_parameters": {"rope_type": "default", "type": "mrope", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}})");
  for (const RopeConfig& r : {v4, v5}) {
    CHECK(r.type == RopeType::default_);  // "mrope" keeps the default frequencies
    CHECK(r.theta == 1000000.0);
    CHECK(r.mrope_section == std::vector<int32_t>{16, 24, 24});
  }
  check_close(rope_inv_freq(v4, 128), reference_default(1000000.0, 128), 1e-6);
  CHECK(parse(R"({"rope_theta": 10.0})").mrope_section.empty());
  CHECK_THROWS_WITH_AS(rope_inv_freq(v4, 64), doctest::Contains("mrope_section sums to 64"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"rope_scaling": {"type": "mrope", "mrope_section": [16, 48]}})"),
                       doctest::Contains("needs 3 entries"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"rope_scaling": {"type": "mrope", "mrope_section": [16, -1, 24]}})"),
                       doctest::Contains("mrope_section"), Error);
}
