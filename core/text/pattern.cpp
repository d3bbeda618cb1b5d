#include "pattern.hpp"

#include "json_fields.hpp"
#include "tokenizer_error.hpp"

namespace mmrt::text {

Pattern Pattern::from_json(const boost::json::value& value, const std::string& path) {
  const auto& object = json::as_object(value, path);
  if (const auto* literal = json::optional_field(object, "String")) {
    return Pattern::literal(json::as_string(*literal, path + ".String"));
  }
  if (const auto* regex = json::optional_field(object, "Regex")) {
    Pattern pattern;
    pattern.regex_ = std::make_shared<const Regex>(json::as_string(*regex, path + ".Regex"));
    return pattern;
  }
  throw TokenizerError(path + ": expected {\"String\": ...} or {\"Regex\": ...}");
}

Pattern Pattern::literal(std::string text) {
  Pattern pattern;
  pattern.literal_ = std::move(text);
  return pattern;
}

void Pattern::find_all(std::string_view text, std::vector<ByteRange>& out) const {
  if (regex_) {
    regex_->find_all(text, out);
    return;
  }
  if (literal_.empty()) return;
  size_t pos = text.find(literal_);
  while (pos != std::string_view::npos) {
    out.emplace_back(pos, pos + literal_.size());
    pos = text.find(literal_, pos + literal_.size());
  }
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::vector<ByteRange> matches;
  find_all(text, matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t previous = 0;
  for (const auto& [start, end] : matches) {
    out.append(text.substr(previous, start - previous));
    out.append(content);
    previous = end;
  }
  out.append(text.substr(previous));
  return out;
}

}  // namespace mmrt::text
