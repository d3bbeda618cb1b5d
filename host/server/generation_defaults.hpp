// Sampling defaults from the checkpoint's generation_config.json, applied to the fields a request leaves out,
// as vLLM does: temperature, top_p, top_k and repetition_penalty. A request's own values always win.
//
// Example: generation_config.json {"temperature": 0.6, "top_p": 0.9} and a request with "temperature": 1
// -> temperature 1, top_p 0.9. Without generation_config.json the OpenAI defaults stay (temperature 1).
// Immutable after construction.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/server/openai_request.hpp"

namespace mmrt::server {

struct GenerationDefaults {
  std::optional<float> temperature, top_p, repetition_penalty;
  std::optional<int32_t> top_k;
  // Out-of-range settings of the file, not applied, for a warning.
  std::vector<std::string> not_applied;

  // Out-of-range values are not applied and are listed in not_applied.
  static GenerationDefaults from_generation_config(const boost::json::object& config);
  void apply(GenerationRequest& request) const;
};

}  // namespace mmrt::server
