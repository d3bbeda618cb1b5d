#include "host/server/openai_response.hpp"

#include <boost/json.hpp>
#include <cstdio>

#include "core/text/tokenizer.hpp"

namespace mmrt::server {

namespace json = boost::json;

namespace {

// "<0x0A>" -> 0x0A, anything else -> -1.
int byte_fallback_value(const std::string& token) {
  unsigned value = 0;
  char tail = 0;
  if (token.size() == 6 && std::sscanf(token.c_str(), "<0x%2X%c", &value, &tail) == 2 && tail == '>') {
    return int(value);
  }
  return -1;
}

}  // namespace

const TokenTexts::Entry& TokenTexts::get(int32_t id) {
  if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  Entry entry;
  std::string piece;
  try {
    piece = tokenizer_.id_to_token(id);
  } catch (const std::exception&) {
    piece.clear();  // ids past the tokenizer (vocabulary padding) read as empty text
  }
  if (const int byte = byte_fallback_value(piece); byte >= 0) {
    if (byte < 0x80) {
      entry.text = std::string(1, char(byte));
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "bytes:\\x%02x", byte);
      entry.text = buf;
    }
    entry.bytes.push_back(byte);
  } else {
    const int32_t ids[1] = {id};
    entry.text = piece.empty() ? std::string() : tokenizer_.decode(ids, false);
    // Decoders strip the word-start marker of a sequence's first token; alone, every token is first.
    if (piece.rfind("\xE2\x96\x81", 0) == 0 && entry.text.rfind(' ', 0) != 0) entry.text.insert(0, " ");
    for (unsigned char c : entry.text) entry.bytes.push_back(c);
  }
  return cache_.emplace(id, std::move(entry)).first->second;
}

void LogprobsBuilder::add(const engine::Sample& sample) {
  const TokenTexts::Entry& chosen = texts_->get(sample.token);
  ++n_;
  if (endpoint_ == Endpoint::chat_completions) {
    json::array top;
    for (const auto& t : sample.top) {
      const TokenTexts::Entry& e = texts_->get(t.token);
      top.push_back(json::object{{"token", e.text}, {"logprob", t.logprob}, {"bytes", e.bytes}});
    }
    content_.push_back(json::object{
        {"token", chosen.text}, {"logprob", sample.logprob}, {"bytes", chosen.bytes}, {"top_logprobs", top}});
    return;
  }
  tokens_.push_back(json::string(chosen.text));
  token_logprobs_.push_back(sample.logprob);
  json::object top;
  for (const auto& t : sample.top) top[texts_->get(t.token).text] = t.logprob;
  top_logprobs_.push_back(std::move(top));
  offsets_.push_back(text_offset_);
  text_offset_ += int64_t(chosen.text.size());
}

json::object LogprobsBuilder::take() {
  json::object out;
  if (endpoint_ == Endpoint::chat_completions) {
    out["content"] = std::move(content_);  // a moved-from json::array is empty
  } else {
    out["tokens"] = std::move(tokens_);
    out["token_logprobs"] = std::move(token_logprobs_);
    out["top_logprobs"] = std::move(top_logprobs_);
    out["text_offset"] = std::move(offsets_);
  }
  n_ = 0;
  return out;
}

json::object usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

json::object completion_body(const ResponseHead& head, std::vector<ChoiceResult> results,
                             json::object usage) {
  const bool chat = head.endpoint == Endpoint::chat_completions;
  json::array choices;
  for (size_t i = 0; i < results.size(); ++i) {
    ChoiceResult& r = results[i];
    json::object choice{
        {"index", i}, {"logprobs", std::move(r.logprobs)}, {"finish_reason", r.finish_reason}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", std::move(r.text)}};
    } else {
      choice["text"] = std::move(r.text);
    }
    choices.push_back(std::move(choice));
  }
  return {{"id", head.id},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", head.created},
          {"model", head.model},
          {"choices", std::move(choices)},
          {"usage", std::move(usage)}};
}

json::object stream_chunk(const ResponseHead& head, int64_t index, const std::string& text, bool with_role,
                          json::value logprobs, const std::string& finish_reason, bool with_usage_null) {
  json::object choice{{"index", index}, {"logprobs", std::move(logprobs)}};
  choice["finish_reason"] = finish_reason.empty() ? json::value(nullptr) : json::value(finish_reason);
  const bool chat = head.endpoint == Endpoint::chat_completions;
  if (chat) {
    json::object delta;
    if (with_role) delta["role"] = "assistant";
    if (with_role || !text.empty()) delta["content"] = text;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = text;
  }
  json::object out{{"id", head.id},
                   {"object", chat ? "chat.completion.chunk" : "text_completion"},
                   {"created", head.created},
                   {"model", head.model},
                   {"choices", json::array{std::move(choice)}}};
  if (with_usage_null) out["usage"] = nullptr;
  return out;
}

json::object usage_chunk(const ResponseHead& head, json::object usage) {
  return {
      {"id", head.id},
      {"object", head.endpoint == Endpoint::chat_completions ? "chat.completion.chunk" : "text_completion"},
      {"created", head.created},
      {"model", head.model},
      {"choices", json::array{}},
      {"usage", std::move(usage)}};
}

}  // namespace mmrt::server
