#include "host/server/generation_defaults.hpp"

#include <boost/json.hpp>

namespace mmrt::server {

namespace {

std::optional<double> number(const boost::json::object& config, const char* name) {
  const boost::json::value* v = config.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return double(v->as_int64());
  if (v->is_uint64()) return double(v->as_uint64());
  return std::nullopt;
}

}  // namespace

GenerationDefaults GenerationDefaults::from_generation_config(const boost::json::object& config) {
  GenerationDefaults out;
  if (auto t = number(config, "temperature")) {
    if (*t >= 0 && *t <= 2) {
      out.temperature = float(*t);
    } else {
      out.not_applied.push_back("temperature " + std::to_string(*t));
    }
  }
  if (auto p = number(config, "top_p")) {
    if (*p > 0 && *p <= 1) {
      out.top_p = float(*p);
    } else {
      out.not_applied.push_back("top_p " + std::to_string(*p));
    }
  }
  if (auto k = number(config, "top_k")) {
    if (*k >= 0 && *k <= INT32_MAX && *k == double(int64_t(*k))) {
      out.top_k = int32_t(*k);
    } else {
      out.not_applied.push_back("top_k " + std::to_string(*k));
    }
  }
  if (auto r = number(config, "repetition_penalty")) {
    if (*r > 0 && *r <= 10) {
      out.repetition_penalty = float(*r);
    } else {
      out.not_applied.push_back("repetition_penalty " + std::to_string(*r));
    }
  }
  return out;
}

void GenerationDefaults::apply(GenerationRequest& request) const {
  if (temperature && !request.temperature_given) request.params.temperature = *temperature;
  if (top_p && !request.top_p_given) request.params.top_p = *top_p;
  if (top_k && !request.top_k_given) request.params.top_k = *top_k;
  if (repetition_penalty && !request.repetition_penalty_given) {
    request.params.repetition_penalty = *repetition_penalty;
  }
}

}  // namespace mmrt::server
