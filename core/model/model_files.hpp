// The JSON files of a Hugging Face model folder, read once and handed to plugins raw.
//
// Transformers v4 and v5 write the same settings in different places; ModelFiles and normalize_rope hide the
// two differences every plugin would otherwise repeat:
//   - image processor settings: v4 preprocessor_config.json, v5 processor_config.json under "image_processor"
//     (Transformers prefers the nested one when both exist, and so does load());
//   - RoPE: v4 "rope_theta" + "rope_scaling", v5 "rope_parameters": {"rope_type": ..., "rope_theta": ...}.
// Defaults for keys a config omits stay with the plugin that knows its HF config class.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "core/util/json.hpp"

namespace mmrt::model {

// Plain data, immutable after load(); safe to read from many threads.
struct ModelFiles {
  std::filesystem::path dir;
  boost::json::object config;               // config.json, raw
  boost::json::object generation_config;    // generation_config.json, {} when absent
  boost::json::object preprocessor_config;  // image processor settings, flattened (see above); {} when none
  std::filesystem::path preprocessor_config_file;  // where they came from; empty when none
  boost::json::object processor_config;            // processor_config.json raw, {} when absent
  bool has_processor_config = false;               // processor_config.json exists
  bool has_tokenizer_config = false;               // tokenizer_config.json exists
  std::vector<std::string> architectures;          // config.json "architectures", [] when absent
  std::string model_type;                          // config.json "model_type", "" when absent
  // generation_config.json "eos_token_id" (an int or a list), else config.json's top-level one, else its
  // text_config's; [] when none of them sets it.
  std::vector<int32_t> eos_token_ids;

  // Reads the folder's JSON files. config.json is required; every file that exists must be a valid JSON
  // object. Throws ModelError naming the file (and the key) on any defect.
  static ModelFiles load(const std::filesystem::path& dir);

  // config.json's nested object at `key` ("text_config", "vision_config"), or {} when absent or null (v4
  // configs may omit it: the plugin applies the HF class defaults). Throws ModelError naming config.json for
  // another type.
  boost::json::object sub_config(std::string_view key) const;
  // A typed view of config.json whose errors name the file and key path. Borrows `config`: keep *this alive.
  util::JsonObjectView config_view() const;
};

// Returns a copy of the (text) config `sub` in one RoPE shape for both Transformers versions:
//   "rope_theta":   from rope_parameters, else from the top level, else HF's default 10000.0 (always a
//   double); "rope_scaling": the remaining RoPE parameters with "rope_type" set (a v4 "type" is renamed), or
//   null when
//                   they say nothing beyond rope_type "default";
//   "rope_parameters" is removed, and a "partial_rotary_factor" inside it moves to the top level.
// v4 {"rope_theta": 1e6, "rope_scaling": {"type": "linear", "factor": 2.0}} and v5 {"rope_parameters":
// {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6}} both become
// {"rope_theta": 1e6, "rope_scaling": {"rope_type": "linear", "factor": 2.0}}.
// Per-layer-type rope_parameters (nested objects) are rejected. `origin` prefixes error messages.
boost::json::object normalize_rope(const boost::json::object& sub, std::string_view origin = "config");

}  // namespace mmrt::model
