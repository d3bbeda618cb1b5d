#include "host/server/tokenize_endpoints.hpp"

#include <boost/json.hpp>

#include "core/engine/prompt.hpp"
#include "core/text/tokenizer.hpp"
#include "core/text/tokenizer_error.hpp"
#include "host/server/api_error.hpp"

namespace mmrt::server {

namespace json = boost::json;

namespace {

// The model field is optional here (vLLM's shape), but when given it must name the served model.
void check_model(const json::object& body, const std::string& model_id) {
  const json::value* model = body.if_contains("model");
  if (!model || model->is_null()) return;
  if (!model->is_string()) throw ApiError(400, "'model' must be a string", "model");
  if (model->as_string() != model_id) {
    throw ApiError(404, "the model does not exist (this server serves '" + model_id + "')", "model",
                   "model_not_found");
  }
}

bool bool_or(const json::object& body, const char* name, bool fallback) {
  const json::value* v = body.if_contains(name);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) throw ApiError(400, std::string("'") + name + "' must be a boolean", name);
  return v->as_bool();
}

}  // namespace

std::string tokenize_response(const engine::Model& model, const std::string& model_id,
                              std::string_view body_text, int64_t max_model_len,
                              const RequestLimits& limits) {
  const json::object body = parse_object(body_text);
  check_model(body, model_id);
  const json::value* prompt = body.if_contains("prompt");
  const json::value* messages = body.if_contains("messages");
  if ((prompt != nullptr) == (messages != nullptr)) {
    throw ApiError(400, "give exactly one of 'prompt' and 'messages'", prompt ? "messages" : "prompt");
  }
  std::string text;
  bool add_special = bool_or(body, "add_special_tokens", true);
  try {
    if (prompt) {
      if (!prompt->is_string()) throw ApiError(400, "'prompt' must be a string", "prompt");
      text = std::string(prompt->as_string());
    } else {
      GenerationRequest converted;
      convert_messages(messages, converted, limits);
      text = engine::render_chat(model, converted.messages);
      // The template writes its own BOS, as for chat completions.
      const std::string& bos = model.tokenizer().special_token_string("bos_token");
      add_special = bos.empty() || text.compare(0, bos.size(), bos) != 0;
    }
    const std::vector<int32_t> ids = model.tokenizer().encode(text, add_special);
    json::array tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) tokens.push_back(id);
    return json::serialize(
        json::object{{"count", ids.size()}, {"max_model_len", max_model_len}, {"tokens", std::move(tokens)}});
  } catch (const std::invalid_argument& e) {
    throw ApiError(400, e.what(), "messages");
  } catch (const text::TokenizerError& e) {
    throw ApiError(400, std::string("cannot tokenize: ") + e.what(), "prompt");
  }
}

std::string detokenize_response(const engine::Model& model, const std::string& model_id,
                                std::string_view body_text) {
  const json::object body = parse_object(body_text);
  check_model(body, model_id);
  const json::value* tokens = body.if_contains("tokens");
  if (!tokens || !tokens->is_array()) throw ApiError(400, "'tokens' must be a list of token ids", "tokens");
  const int64_t vocab = model.tokenizer().vocab_size();
  std::vector<int32_t> ids;
  ids.reserve(tokens->as_array().size());
  for (size_t i = 0; i < tokens->as_array().size(); ++i) {
    const json::value& v = tokens->as_array()[i];
    const std::string param = "tokens[" + std::to_string(i) + "]";
    if (!v.is_int64() && !v.is_uint64()) throw ApiError(400, "'" + param + "' must be an integer", param);
    const int64_t id = v.is_int64() ? v.as_int64() : -1;
    if (id < 0 || id >= vocab) {
      throw ApiError(
          400, "'" + param + "' is not a token id (the vocabulary has " + std::to_string(vocab) + ")", param);
    }
    ids.push_back(int32_t(id));
  }
  return json::serialize(json::object{{"prompt", model.tokenizer().decode(ids)}});
}

}  // namespace mmrt::server
