#include "normalizer.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "json_fields.hpp"
#include "pattern.hpp"
#include "precompiled_charsmap.hpp"
#include "tokenizer_error.hpp"
#include "unicode_class.hpp"
#include "utf8.hpp"

namespace mmrt::text {
namespace {

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(utf8proc_option_t options) : options_(options) {}
  void normalize(std::string& text) const override {
    if (text.empty()) return;
    utf8proc_uint8_t* result = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                static_cast<utf8proc_ssize_t>(text.size()), &result, options_);
    if (n < 0) throw TokenizerError(std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
    text.assign(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
    std::free(result);
  }

 private:
  utf8proc_option_t options_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
      const char32_t cp = utf8::next_codepoint(text, pos);
      // U+0130 is the one character whose full (unconditional) lowercase mapping has two characters.
      if (cp == 0x130) {
        out.append("i\xCC\x87");
        continue;
      }
      utf8::append_codepoint(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    text = std::move(out);
  }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0;
    size_t end = text.size();
    if (left_) {
      while (begin < end) {
        size_t next = begin;
        if (!unicode::is_whitespace(utf8::next_codepoint(text, next))) break;
        begin = next;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t next = start;
        if (!unicode::is_whitespace(utf8::next_codepoint(text, next))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_;
  bool right_;
};

class StripAccents final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t start = pos;
      if (!unicode::is_mark(utf8::next_codepoint(text, pos))) out.append(text, start, pos - start);
    }
    text = std::move(out);
  }
};

class Replace final : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class Precompiled final : public Normalizer {
 public:
  explicit Precompiled(std::string_view blob) : charsmap_(blob) {}
  void normalize(std::string& text) const override { text = charsmap_.normalize(text); }

 private:
  PrecompiledCharsmap charsmap_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const boost::json::value& value, const std::string& path) {
  const auto& object = json::as_object(value, path);
  const std::string type = json::type_of(object, path);
  if (type == "NFC")
    return std::make_unique<UnicodeNormalizer>(utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (type == "NFD")
    return std::make_unique<UnicodeNormalizer>(utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  if (type == "NFKC") {
    return std::make_unique<UnicodeNormalizer>(
        utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  }
  if (type == "NFKD") {
    return std::make_unique<UnicodeNormalizer>(
        utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
  }
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") {
    return std::make_unique<Strip>(json::bool_field(object, "strip_left", true, path),
                                   json::bool_field(object, "strip_right", true, path));
  }
  if (type == "Replace") {
    return std::make_unique<Replace>(
        Pattern::from_json(json::field(object, "pattern", path), path + ".pattern"),
        json::string_field(object, "content", path));
  }
  if (type == "Prepend") return std::make_unique<Prepend>(json::string_field(object, "prepend", path));
  if (type == "Precompiled") {
    const auto encoded = json::optional_string_field(object, "precompiled_charsmap", path);
    if (!encoded || encoded->empty())
      return std::make_unique<SequenceNormalizer>(std::vector<std::unique_ptr<Normalizer>>{});
    try {
      return std::make_unique<Precompiled>(base64_decode(*encoded));
    } catch (const TokenizerError& e) {
      throw TokenizerError(path + ": " + e.what());
    }
  }
  if (type == "Sequence") {
    const auto& items = json::as_array(json::field(object, "normalizers", path), path + ".normalizers");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < items.size(); ++i) {
      steps.push_back(parse_normalizer(items[i], path + ".normalizers[" + std::to_string(i) + "]"));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  throw TokenizerError(path + ": normalizer type '" + type + "' is not supported");
}

}  // namespace mmrt::text
