#include "streaming_detokenizer.hpp"

#include "utf8.hpp"

namespace mmrt::text {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string StreamingDetokenizer::push(int32_t id) {
  if (tokenizer_.decode_drops(id, skip_special_tokens_)) return {};
  window_.push_back(id);
  if (tokenizer_.is_byte_fallback_token(id)) return {};
  std::string text = tokenizer_.decode_raw(window_, skip_special_tokens_);
  if (ends_with(text, utf8::kReplacementChar) || text.compare(0, context_text_.size(), context_text_) != 0) {
    return {};
  }
  const std::string delta = text.substr(context_text_.size());
  // The ids just emitted become the context of the next window.
  window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(context_end_));
  context_end_ = window_.size();
  context_text_ = tokenizer_.decode_raw(window_, skip_special_tokens_);
  return emit(delta, false);
}

std::string StreamingDetokenizer::finish() {
  std::string delta;
  if (window_.size() > context_end_) {
    const std::string text = tokenizer_.decode_raw(window_, skip_special_tokens_);
    if (text.compare(0, context_text_.size(), context_text_) != 0) {
      throw TokenizerError("streaming decode: the held-back tokens changed already emitted text");
    }
    delta = text.substr(context_text_.size());
  }
  std::string out = emit(delta, true);
  window_.clear();
  context_end_ = 0;
  context_text_.clear();
  pending_raw_.clear();
  return out;
}

std::string StreamingDetokenizer::emit(std::string_view raw, bool final) {
  if (!tokenizer_.cleans_up_tokenization_spaces()) return std::string(raw);
  pending_raw_.append(raw);
  if (final) {
    std::string out = clean_up_tokenization(pending_raw_);
    pending_raw_.clear();
    return out;
  }
  // Every clean-up pattern starts with a space, only deletes spaces, and has an inner space only in " ' ".
  // A space with a left neighbour other than space or apostrophe, and a right neighbour that starts no
  // pattern, is never deleted and no match straddles it, even after earlier replacements: a safe cut.
  const auto starts_pattern = [](char c) {
    return c == ' ' || c == '.' || c == '?' || c == '!' || c == ',' || c == '\'' || c == 'n';
  };
  size_t cut = 0;
  for (size_t i = pending_raw_.size() - 1; pending_raw_.size() >= 3 && i-- > 1;) {
    if (pending_raw_[i] == ' ' && pending_raw_[i - 1] != ' ' && pending_raw_[i - 1] != '\'' &&
        !starts_pattern(pending_raw_[i + 1])) {
      cut = i;
      break;
    }
  }
  if (cut == 0) return {};
  std::string out = clean_up_tokenization(std::string_view(pending_raw_).substr(0, cut));
  pending_raw_.erase(0, cut);
  return out;
}

}  // namespace mmrt::text
