// RoPE frequencies: the config's rope type -> inv_freq [rot_dim / 2] f32, computed on the CPU once.
//
// Follows the arithmetic of Transformers' modeling_rope_utils in float32 step by step, so the frequencies
// match bit for bit where powf does:
//   default  inv_freq[i] = 1 / θ^(2i / d)          (2i and d as f32, θ rounded to f32)
//   linear   inv_freq / factor
//   llama3   wavelen = 2π / inv_freq; long wavelengths (> original_max / low_freq_factor) are divided by
//            factor, short ones (< original_max / high_freq_factor) kept, the band between blended with
//            smooth = (original_max / wavelen - low) / (high - low).
// The config accepts both the v4 keys (`rope_theta`, `rope_scaling: {type|rope_type, ...}`) and the v5
// `rope_parameters: {rope_type, rope_theta, ...}`. Types whose frequencies depend on the sequence length
// (dynamic, yarn, longrope) are rejected when parsed, with the key named.
// Multimodal RoPE (Qwen2-VL) keeps the default frequencies and adds `mrope_section` {t, h, w}: how many
// frequency pairs follow each of the three position rows. The v4 files spell its type "mrope", which
// Transformers rewrites to "default".
#ifndef MMRT_SDK_BLOCKS_ROPE_HPP_
#define MMRT_SDK_BLOCKS_ROPE_HPP_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::sdk::blocks {

enum class RopeType { default_, linear, llama3 };

struct RopeConfig {
  RopeType type = RopeType::default_;
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;
  // linear, llama3
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  // Pairs per position row (t, h, w), summing to rope_dim / 2; empty for 1-D positions.
  std::vector<int32_t> mrope_section;
};

// Reads the rope settings of a text config (`text` is the object holding rope_theta / rope_scaling /
// rope_parameters).
// rope_theta falls back to `defaults.theta` (the model class's default).
inline RopeConfig parse_rope_config(const json::Reader& text, const RopeConfig& defaults = {}) {
  RopeConfig rope = defaults;
  rope.theta = text.get_double("rope_theta", rope.theta);
  rope.partial_rotary_factor = text.get_double("partial_rotary_factor", 1.0);
  // v5 keeps everything in rope_parameters (rope_theta included); v4 splits theta and rope_scaling.
  const char* key = text.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  json::Reader scaling = text.child(key);
  rope.theta = scaling.get_double("rope_theta", rope.theta);
  rope.partial_rotary_factor = scaling.get_double("partial_rotary_factor", rope.partial_rotary_factor);
  std::string type = scaling.get_string("rope_type", scaling.get_string("type", "default"));
  for (int64_t pairs : scaling.get_int_list("mrope_section", {})) {
    require(pairs >= 0 && pairs <= INT32_MAX, MMRT_STATUS_INVALID_ARGUMENT,
            str(scaling.where("mrope_section"), pairs, " is not a pair count"));
    rope.mrope_section.push_back(static_cast<int32_t>(pairs));
  }
  require(rope.mrope_section.empty() || rope.mrope_section.size() == 3, MMRT_STATUS_INVALID_ARGUMENT,
          str(scaling.where("mrope_section"), "needs 3 entries (t, h, w), got ", rope.mrope_section.size()));
  if (type == "mrope") type = "default";
  if (type == "default") {
    rope.type = RopeType::default_;
  } else if (type == "linear") {
    rope.type = RopeType::linear;
    rope.factor = scaling.get_double("factor", 1.0);
  } else if (type == "llama3") {
    rope.type = RopeType::llama3;
    rope.factor = scaling.get_double("factor", 8.0);
    rope.low_freq_factor = scaling.get_double("low_freq_factor", 1.0);
    rope.high_freq_factor = scaling.get_double("high_freq_factor", 4.0);
    rope.original_max_position_embeddings = scaling.get_int("original_max_position_embeddings", 8192);
  } else {
    throw Error(MMRT_STATUS_UNIMPLEMENTED, str(scaling.where("rope_type"), "rope type '", type,
                                               "' is not supported (default, linear, llama3)"));
  }
  require(rope.theta > 0, MMRT_STATUS_INVALID_ARGUMENT, str(text.where("rope_theta"), "must be positive"));
  require(rope.factor > 0, MMRT_STATUS_INVALID_ARGUMENT, str(scaling.where("factor"), "must be positive"));
  return rope;
}

// Rotated dims per head: head_dim · partial_rotary_factor, as Transformers truncates it.
inline int64_t rope_dim(const RopeConfig& rope, int64_t head_dim) {
  return static_cast<int64_t>(static_cast<double>(head_dim) * rope.partial_rotary_factor);
}

// inv_freq [rope_dim / 2] in float32.
inline std::vector<float> rope_inv_freq(const RopeConfig& rope, int64_t head_dim) {
  const int64_t dim = rope_dim(rope, head_dim);
  require(dim > 0 && dim % 2 == 0, MMRT_STATUS_INVALID_ARGUMENT,
          str("rope dim ", dim, " must be positive and even"));
  if (!rope.mrope_section.empty()) {
    const int64_t pairs = int64_t{rope.mrope_section[0]} + rope.mrope_section[1] + rope.mrope_section[2];
    require(pairs == dim / 2 && dim == head_dim, MMRT_STATUS_INVALID_ARGUMENT,
            str("mrope_section sums to ", pairs, " pairs; head_dim ", head_dim, " rotates ", dim / 2));
  }
  const float base = static_cast<float>(rope.theta);
  std::vector<float> inv_freq(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv_freq[i] = 1.0f / std::pow(base, exponent);
  }
  switch (rope.type) {
    case RopeType::default_:
      break;
    case RopeType::linear: {
      const float factor = static_cast<float>(rope.factor);
      for (float& f : inv_freq) f = f / factor;
      break;
    }
    case RopeType::llama3: {
      const float factor = static_cast<float>(rope.factor);
      const float low = static_cast<float>(rope.low_freq_factor);
      const float high = static_cast<float>(rope.high_freq_factor);
      const double old_context = static_cast<double>(rope.original_max_position_embeddings);
      const float low_freq_wavelen = static_cast<float>(old_context / rope.low_freq_factor);
      const float high_freq_wavelen = static_cast<float>(old_context / rope.high_freq_factor);
      const float two_pi = static_cast<float>(2.0 * M_PI);
      for (float& f : inv_freq) {
        float wavelen = two_pi / f;
        float scaled = wavelen > low_freq_wavelen ? f / factor : f;
        bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
        if (medium) {
          float smooth = (static_cast<float>(old_context) / wavelen - low) / (high - low);
          scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
        }
        f = scaled;
      }
      break;
    }
  }
  return inv_freq;
}

}  // namespace mmrt::sdk::blocks

#endif  // MMRT_SDK_BLOCKS_ROPE_HPP_
