#include "host/server/openai_request.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "host/server/api_error.hpp"

namespace mmrt::server {

namespace json = boost::json;

namespace {

const json::value* field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && !v->is_null() ? v : nullptr;
}

std::string type_error(const std::string& name, const char* expected) {
  return "'" + name + "' must be " + expected;
}

double number_field(const json::value& v, const std::string& name) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return double(v.as_int64());
  if (v.is_uint64()) return double(v.as_uint64());
  throw ApiError(400, type_error(name, "a number"), name);
}

int64_t int_field(const json::value& v, const std::string& name) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= uint64_t(INT64_MAX)) return int64_t(v.as_uint64());
  if (v.is_double() && std::floor(v.as_double()) == v.as_double() && std::abs(v.as_double()) < 9e15) {
    return int64_t(v.as_double());
  }
  throw ApiError(400, type_error(name, "an integer"), name);
}

bool bool_field(const json::value& v, const std::string& name) {
  if (!v.is_bool()) throw ApiError(400, type_error(name, "a boolean"), name);
  return v.as_bool();
}

std::string string_field(const json::value& v, const std::string& name) {
  if (!v.is_string()) throw ApiError(400, type_error(name, "a string"), name);
  return std::string(v.as_string());
}

// Fields that change nothing about the answer and are accepted so that clients sending them work.
constexpr std::string_view kIgnoredFields[] = {"user", "metadata", "store", "service_tier"};
constexpr std::string_view kCommonFields[] = {"model",
                                              "temperature",
                                              "top_p",
                                              "top_k",
                                              "seed",
                                              "max_tokens",
                                              "max_completion_tokens",
                                              "n",
                                              "stop",
                                              "ignore_eos",
                                              "stream",
                                              "stream_options",
                                              "frequency_penalty",
                                              "presence_penalty",
                                              "repetition_penalty",
                                              "min_p",
                                              "response_format",
                                              "logit_bias",
                                              "tools",
                                              "functions",
                                              "logprobs"};

// An unknown field would otherwise be ignored silently, and the client would get an answer to a request it
// did not send; a 400 names it instead.
void refuse_unknown_fields(const json::object& body,
                           std::initializer_list<std::string_view> endpoint_fields) {
  for (const auto& [key, value] : body) {
    const auto known = [&](std::string_view name) { return name == key; };
    if (std::any_of(std::begin(kCommonFields), std::end(kCommonFields), known) ||
        std::any_of(std::begin(kIgnoredFields), std::end(kIgnoredFields), known) ||
        std::any_of(endpoint_fields.begin(), endpoint_fields.end(), known)) {
      continue;
    }
    const std::string name(key.substr(0, 64));
    throw ApiError(400, "'" + name + "' is not a supported request field", name, "unsupported_field");
  }
}

// Fields shared by both endpoints: model, sampling, stop, stream, and refusals of what is not supported.
void parse_common(const json::object& body, GenerationRequest& out, const RequestLimits& limits) {
  const json::value* model = field(body, "model");
  if (!model) throw ApiError(400, "'model' is required", "model");
  out.model = string_field(*model, "model");

  engine::SamplingParams& p = out.params;
  if (auto* v = field(body, "temperature")) {
    const double t = number_field(*v, "temperature");
    if (!(t >= 0 && t <= 2)) throw ApiError(400, "'temperature' must be between 0 and 2", "temperature");
    p.temperature = float(t);
    out.temperature_given = true;
  } else {
    p.temperature = 1.0f;  // OpenAI's default
  }
  if (auto* v = field(body, "top_p")) {
    const double t = number_field(*v, "top_p");
    if (!(t > 0 && t <= 1)) throw ApiError(400, "'top_p' must be in (0, 1]", "top_p");
    p.top_p = float(t);
    out.top_p_given = true;
  }
  if (auto* v = field(body, "top_k")) {
    const int64_t k = int_field(*v, "top_k");
    if (k < -1 || k > INT32_MAX)
      throw ApiError(400, "'top_k' must be -1 (off), 0 (off) or positive", "top_k");
    p.top_k = k < 0 ? 0 : int32_t(k);
    out.top_k_given = true;
  }
  if (auto* v = field(body, "seed")) p.seed = uint64_t(int_field(*v, "seed"));
  for (const char* name : {"max_completion_tokens", "max_tokens"}) {
    if (auto* v = field(body, name)) {
      const int64_t n = int_field(*v, name);
      if (n < 1 || n > INT32_MAX) throw ApiError(400, std::string("'") + name + "' must be at least 1", name);
      p.max_tokens = int32_t(n);
      out.max_tokens_given = true;
      break;
    }
  }
  if (auto* v = field(body, "n")) {
    const int64_t n = int_field(*v, "n");
    if (n < 1 || n > limits.max_n) {
      throw ApiError(400, "'n' must be between 1 and " + std::to_string(limits.max_n), "n");
    }
    out.n = int32_t(n);
  }
  if (auto* v = field(body, "stop")) {
    if (v->is_string()) {
      p.stop = {std::string(v->as_string())};
    } else if (v->is_array()) {
      for (size_t i = 0; i < v->as_array().size(); ++i) {
        p.stop.push_back(string_field(v->as_array()[i], "stop[" + std::to_string(i) + "]"));
      }
    } else {
      throw ApiError(400, type_error("stop", "a string or a list of strings"), "stop");
    }
    if (p.stop.size() > 16) throw ApiError(400, "at most 16 stop strings", "stop");
    for (const auto& s : p.stop) {
      if (s.empty()) throw ApiError(400, "stop strings must not be empty", "stop");
    }
  }
  if (auto* v = field(body, "ignore_eos")) p.ignore_eos = bool_field(*v, "ignore_eos");
  if (auto* v = field(body, "stream")) out.stream = bool_field(*v, "stream");
  if (auto* v = field(body, "stream_options")) {
    if (!v->is_object()) throw ApiError(400, type_error("stream_options", "an object"), "stream_options");
    if (auto* u = field(v->as_object(), "include_usage")) {
      out.include_usage = bool_field(*u, "stream_options.include_usage");
    }
  }
  for (auto [name, slot] : {std::pair{"frequency_penalty", &p.frequency_penalty},
                            std::pair{"presence_penalty", &p.presence_penalty}}) {
    if (auto* v = field(body, name)) {
      const double x = number_field(*v, name);
      if (!(x >= -2 && x <= 2))
        throw ApiError(400, std::string("'") + name + "' must be between -2 and 2", name);
      *slot = float(x);
    }
  }
  if (auto* v = field(body, "repetition_penalty")) {
    const double x = number_field(*v, "repetition_penalty");
    if (!(x > 0 && x <= 10)) {
      throw ApiError(400, "'repetition_penalty' must be in (0, 10]", "repetition_penalty");
    }
    p.repetition_penalty = float(x);
    out.repetition_penalty_given = true;
  }
  if (auto* v = field(body, "min_p")) {
    const double x = number_field(*v, "min_p");
    if (!(x >= 0 && x <= 1)) throw ApiError(400, "'min_p' must be between 0 and 1", "min_p");
    p.min_p = float(x);
  }
  if (auto* v = field(body, "response_format")) {
    const json::value* type = v->is_object() ? field(v->as_object(), "type") : nullptr;
    if (!type || !type->is_string() || type->as_string() != "text") {
      throw ApiError(400, "only 'response_format': {\"type\": \"text\"} is supported", "response_format");
    }
  }
  for (const char* name : {"logit_bias", "tools", "functions"}) {
    if (auto* v = field(body, name);
        v && !(v->is_object() && v->as_object().empty()) && !(v->is_array() && v->as_array().empty())) {
      throw ApiError(400, std::string("'") + name + "' is not supported", name);
    }
  }
}

// Converts one message's content to the template's shape, collecting image URLs.
json::value convert_content(const json::value& content, const std::string& param, GenerationRequest& out,
                            const RequestLimits& limits) {
  if (content.is_string()) return content;
  if (!content.is_array())
    throw ApiError(400, type_error(param, "a string or a list of content parts"), param);
  json::array parts;
  const json::array& in = content.as_array();
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string part_param = param + "[" + std::to_string(i) + "]";
    if (++out.n_content_parts > limits.max_content_parts) {
      throw ApiError(400,
                     "too many content parts: at most " + std::to_string(limits.max_content_parts) +
                         " messages and parts per request",
                     part_param, "too_many_content_parts");
    }
    if (!in[i].is_object()) throw ApiError(400, type_error(part_param, "an object"), part_param);
    const json::object& part = in[i].as_object();
    const json::value* type = field(part, "type");
    if (!type) throw ApiError(400, "'" + part_param + ".type' is required", part_param + ".type");
    const std::string kind = string_field(*type, part_param + ".type");
    if (kind == "text") {
      const json::value* text = field(part, "text");
      if (!text) throw ApiError(400, "'" + part_param + ".text' is required", part_param + ".text");
      parts.push_back(json::object{{"type", "text"}, {"text", string_field(*text, part_param + ".text")}});
    } else if (kind == "image_url") {
      const std::string url_param = part_param + ".image_url";
      const json::value* image = field(part, "image_url");
      if (!image) throw ApiError(400, "'" + url_param + "' is required", url_param);
      std::string url;
      if (image->is_string()) {
        url = std::string(image->as_string());
      } else if (image->is_object() && field(image->as_object(), "url")) {
        url = string_field(image->as_object().at("url"), url_param + ".url");
      } else {
        throw ApiError(400, type_error(url_param, "an object with a 'url'"), url_param);
      }
      if (out.image_urls.size() >= limits.max_images) {
        throw ApiError(400, "too many images: at most " + std::to_string(limits.max_images) + " per request",
                       url_param, "too_many_images");
      }
      out.image_urls.push_back(std::move(url));
      out.image_params.push_back(url_param);
      parts.push_back(json::object{{"type", "image"}});
    } else {
      throw ApiError(400, "content part type '" + kind + "' is not supported (text and image_url are)",
                     part_param + ".type");
    }
  }
  return parts;
}

}  // namespace

json::object parse_object(std::string_view body) {
  json::parse_options options;
  options.max_depth = 64;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, options);
  if (ec) throw ApiError(400, "request body is not valid JSON: " + ec.message());
  if (!v.is_object()) throw ApiError(400, "request body must be a JSON object");
  return std::move(v.as_object());
}

void convert_messages(const json::value* messages, GenerationRequest& out, const RequestLimits& limits) {
  if (!messages) throw ApiError(400, "'messages' is required", "messages");
  if (!messages->is_array()) throw ApiError(400, type_error("messages", "a list"), "messages");
  if (messages->as_array().empty()) throw ApiError(400, "'messages' must not be empty", "messages");
  const json::array& in = messages->as_array();
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (++out.n_content_parts > limits.max_content_parts) {
      throw ApiError(400,
                     "too many messages: at most " + std::to_string(limits.max_content_parts) +
                         " messages and parts per request",
                     param, "too_many_content_parts");
    }
    if (!in[i].is_object()) throw ApiError(400, type_error(param, "an object"), param);
    const json::object& message = in[i].as_object();
    const json::value* role = field(message, "role");
    if (!role) throw ApiError(400, "'" + param + ".role' is required", param + ".role");
    json::object converted{{"role", string_field(*role, param + ".role")}};
    const json::value* content = field(message, "content");
    if (!content) throw ApiError(400, "'" + param + ".content' is required", param + ".content");
    converted["content"] = convert_content(*content, param + ".content", out, limits);
    out.messages.push_back(std::move(converted));
  }
}

GenerationRequest parse_chat_request(std::string_view body_text, const RequestLimits& limits) {
  const json::object body = parse_object(body_text);
  refuse_unknown_fields(body, {"messages", "top_logprobs"});
  GenerationRequest out;
  out.endpoint = Endpoint::chat_completions;
  parse_common(body, out, limits);
  convert_messages(field(body, "messages"), out, limits);

  if (auto* v = field(body, "logprobs")) out.logprobs = bool_field(*v, "logprobs");
  if (auto* v = field(body, "top_logprobs")) {
    const int64_t k = int_field(*v, "top_logprobs");
    if (k < 0 || k > 20) throw ApiError(400, "'top_logprobs' must be between 0 and 20", "top_logprobs");
    if (!out.logprobs && k > 0) throw ApiError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
    out.params.top_logprobs = int32_t(k);
  }
  return out;
}

GenerationRequest parse_completion_request(std::string_view body_text, const RequestLimits& limits) {
  const json::object body = parse_object(body_text);
  refuse_unknown_fields(body, {"prompt", "images", "echo", "best_of", "suffix"});
  GenerationRequest out;
  out.endpoint = Endpoint::completions;
  parse_common(body, out, limits);

  const json::value* prompt = field(body, "prompt");
  if (!prompt) throw ApiError(400, "'prompt' is required", "prompt");
  if (prompt->is_array() && prompt->as_array().size() == 1 && prompt->as_array()[0].is_string()) {
    out.prompt = std::string(prompt->as_array()[0].as_string());
  } else if (prompt->is_string()) {
    out.prompt = std::string(prompt->as_string());
  } else {
    throw ApiError(400, "'prompt' must be a string (one prompt per request)", "prompt");
  }
  if (out.prompt.empty()) throw ApiError(400, "'prompt' must not be empty", "prompt");
  // Extension: "images": [url, ...] fill the prompt's image placeholders in order.
  if (auto* images = field(body, "images")) {
    if (!images->is_array()) throw ApiError(400, type_error("images", "a list of image URLs"), "images");
    if (images->as_array().size() > limits.max_images) {
      throw ApiError(400, "too many images: at most " + std::to_string(limits.max_images) + " per request",
                     "images", "too_many_images");
    }
    for (size_t i = 0; i < images->as_array().size(); ++i) {
      const std::string param = "images[" + std::to_string(i) + "]";
      out.image_urls.push_back(string_field(images->as_array()[i], param));
      out.image_params.push_back(param);
    }
  }
  if (auto* v = field(body, "echo"); v && bool_field(*v, "echo")) {
    throw ApiError(400, "'echo' is not supported", "echo");
  }
  if (auto* v = field(body, "suffix"); v && !(v->is_string() && v->as_string().empty())) {
    throw ApiError(400, "'suffix' is not supported", "suffix", "unsupported_field");
  }
  if (auto* v = field(body, "best_of"); v && int_field(*v, "best_of") != 1) {
    throw ApiError(400, "only best_of = 1 is supported", "best_of");
  }
  if (auto* v = field(body, "logprobs")) {
    const int64_t k = int_field(*v, "logprobs");
    if (k < 0 || k > 20) throw ApiError(400, "'logprobs' must be between 0 and 20", "logprobs");
    out.logprobs = true;
    out.params.top_logprobs = int32_t(k);
  }
  return out;
}

}  // namespace mmrt::server
