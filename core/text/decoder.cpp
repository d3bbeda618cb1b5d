#include "decoder.hpp"

#include <array>

#include "json_fields.hpp"
#include "pattern.hpp"
#include "pre_tokenizer.hpp"
#include "tokenizer_error.hpp"
#include "utf8.hpp"

namespace mmrt::text {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

class ByteLevelDecoder final : public Decoder {
 public:
  ByteLevelDecoder() {
    byte_of_.fill(-1);
    const auto& chars = byte_level_chars();
    for (int b = 0; b < 256; ++b) {
      size_t pos = 0;
      byte_of_[utf8::next_codepoint(chars[b], pos)] = static_cast<int16_t>(b);
    }
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& token : tokens) {
      const size_t mark = bytes.size();
      size_t pos = 0;
      bool all_mapped = true;
      while (pos < token.size()) {
        const char32_t cp = utf8::next_codepoint(token, pos);
        if (cp >= byte_of_.size() || byte_of_[cp] < 0) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(byte_of_[cp]));
      }
      if (!all_mapped) {
        bytes.resize(mark);
        bytes.append(token);
      }
    }
    tokens.assign(1, utf8::from_bytes_lossy(bytes));
  }

 private:
  std::array<int16_t, 324> byte_of_;  // byte of each GPT-2 byte-level character, -1 when none
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    const Pattern pattern = Pattern::literal(replacement_);
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = pattern.replace_all(tokens[i], i == 0 && strip_first_ ? "" : " ");
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;  // prepend_scheme is not "never": every replacement char of token 0 is dropped
};

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    const auto flush = [&] {
      if (pending.empty()) return;
      if (utf8::first_invalid_offset(pending)) {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(utf8::kReplacementChar);
      } else {
        out.push_back(pending);
      }
      pending.clear();
    };
    for (auto& token : tokens) {
      if (is_byte_token(token)) {
        pending.push_back(static_cast<char>(hex_value(token[3]) * 16 + hex_value(token[4])));
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const auto& token : tokens) joined += token;
    tokens.assign(1, std::move(joined));
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens) {
      std::vector<size_t> char_starts;
      std::vector<char32_t> chars;
      size_t pos = 0;
      while (pos < token.size()) {
        char_starts.push_back(pos);
        chars.push_back(utf8::next_codepoint(token, pos));
      }
      char_starts.push_back(token.size());
      size_t start_cut = 0;
      for (size_t i = 0; i < start_ && i < chars.size() && chars[i] == content_; ++i) start_cut = i + 1;
      size_t stop_cut = chars.size();
      for (size_t i = 0; i < stop_ && i < chars.size(); ++i) {
        const size_t index = chars.size() - i - 1;
        if (chars[index] != content_) break;
        stop_cut = index;
      }
      token = stop_cut > start_cut
                  ? token.substr(char_starts[start_cut], char_starts[stop_cut] - char_starts[start_cut])
                  : std::string();
    }
  }

 private:
  char32_t content_;
  size_t start_;
  size_t stop_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens) token = pattern_.replace_all(token, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

char32_t single_char(const std::string& text, const std::string& path) {
  size_t pos = 0;
  if (text.empty() || utf8::first_invalid_offset(text))
    throw TokenizerError(path + ": expected one character");
  const char32_t cp = utf8::next_codepoint(text, pos);
  if (pos != text.size()) throw TokenizerError(path + ": expected one character, got '" + text + "'");
  return cp;
}

size_t count_field(const boost::json::object& object, std::string_view key, const std::string& path) {
  const int64_t n = json::int_field(object, key, path);
  if (n < 0) throw TokenizerError(path + "." + std::string(key) + ": must not be negative");
  return static_cast<size_t>(n);
}

}  // namespace

bool is_byte_token(std::string_view token) {
  return token.size() == 6 && token.substr(0, 3) == "<0x" && token[5] == '>' && hex_value(token[3]) >= 0 &&
         hex_value(token[4]) >= 0;
}

std::unique_ptr<Decoder> parse_decoder(const boost::json::value& value, const std::string& path) {
  const auto& object = json::as_object(value, path);
  const std::string type = json::type_of(object, path);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") {
    const auto replacement =
        json::optional_string_field(object, "replacement", path).value_or("\xE2\x96\x81");
    bool strip_first = true;
    if (const auto scheme = json::optional_string_field(object, "prepend_scheme", path)) {
      strip_first = *scheme != "never";
    } else {
      strip_first = json::bool_field(object, "add_prefix_space", true, path);
    }
    return std::make_unique<MetaspaceDecoder>(replacement, strip_first);
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    return std::make_unique<StripDecoder>(
        single_char(json::string_field(object, "content", path), path + ".content"),
        count_field(object, "start", path), count_field(object, "stop", path));
  }
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(
        Pattern::from_json(json::field(object, "pattern", path), path + ".pattern"),
        json::string_field(object, "content", path));
  }
  if (type == "Sequence") {
    const auto& items = json::as_array(json::field(object, "decoders", path), path + ".decoders");
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < items.size(); ++i) {
      steps.push_back(parse_decoder(items[i], path + ".decoders[" + std::to_string(i) + "]"));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  throw TokenizerError(path + ": decoder type '" + type + "' is not supported");
}

}  // namespace mmrt::text
