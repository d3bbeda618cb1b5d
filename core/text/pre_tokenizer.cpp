#include "pre_tokenizer.hpp"

#include <algorithm>
#include <functional>

#include "json_fields.hpp"
#include "pattern.hpp"
#include "tokenizer_error.hpp"
#include "unicode_class.hpp"
#include "utf8.hpp"

namespace mmrt::text {
namespace {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_behavior(const boost::json::object& object, const std::string& path) {
  const std::string name = json::string_field(object, "behavior", path);
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  throw TokenizerError(path + ".behavior: '" + name + "' is not a split behavior");
}

struct Segment {
  size_t start;
  size_t end;
  bool flag;  // "is a match" before the behavior is applied, "remove" after
};

// Applies a split behavior to `matches` (non-overlapping, sorted) of `text` and appends the pieces.
void split_piece(const PreToken& piece, const std::vector<ByteRange>& matches, SplitBehavior behavior,
                 bool invert, std::vector<PreToken>& out) {
  const std::string& text = piece.text;
  std::vector<Segment> segments;
  size_t previous = 0;
  for (const auto& [start, end] : matches) {
    if (previous != start) segments.push_back({previous, start, invert});
    segments.push_back({start, end, !invert});
    previous = end;
  }
  if (previous != text.size() || segments.empty()) segments.push_back({previous, text.size(), invert});

  std::vector<Segment> pieces;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      pieces = segments;
      break;
    case SplitBehavior::kIsolated:
      for (const auto& s : segments) pieces.push_back({s.start, s.end, false});
      break;
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const auto& s : segments) {
        if (s.flag == previous_match && !pieces.empty()) {
          pieces.back().end = s.end;
        } else {
          pieces.push_back({s.start, s.end, false});
        }
        previous_match = s.flag;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& s : segments) {
        if (s.flag && !previous_match && !pieces.empty()) {
          pieces.back().end = s.end;
        } else {
          pieces.push_back({s.start, s.end, false});
        }
        previous_match = s.flag;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->flag && !previous_match && !pieces.empty()) {
          pieces.back().start = it->start;
        } else {
          pieces.push_back({it->start, it->end, false});
        }
        previous_match = it->flag;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  for (const auto& p : pieces) {
    if (p.flag || p.end == p.start) continue;
    out.push_back({text.substr(p.start, p.end - p.start), piece.at_origin && p.start == 0});
  }
}

// Each character satisfying `predicate` is one match (how `tokenizers` splits on a char class).
void char_matches(std::string_view text, const std::function<bool(char32_t)>& predicate,
                  std::vector<ByteRange>& out) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (predicate(utf8::next_codepoint(text, pos))) out.emplace_back(start, pos);
  }
}

class PieceSplitter : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    out.reserve(pieces.size() * 2);
    std::vector<ByteRange> matches;
    for (auto& piece : pieces) split_one(piece, matches, out);
    pieces = std::move(out);
  }

 protected:
  virtual void split_one(PreToken& piece, std::vector<ByteRange>& matches,
                         std::vector<PreToken>& out) const = 0;
};

class CharClassSplit final : public PieceSplitter {
 public:
  CharClassSplit(std::function<bool(char32_t)> predicate, SplitBehavior behavior)
      : predicate_(std::move(predicate)), behavior_(behavior) {}

 protected:
  void split_one(PreToken& piece, std::vector<ByteRange>& matches,
                 std::vector<PreToken>& out) const override {
    matches.clear();
    char_matches(piece.text, predicate_, matches);
    split_piece(piece, matches, behavior_, false, out);
  }

 private:
  std::function<bool(char32_t)> predicate_;
  SplitBehavior behavior_;
};

class PatternSplit final : public PieceSplitter {
 public:
  PatternSplit(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

 protected:
  void split_one(PreToken& piece, std::vector<ByteRange>& matches,
                 std::vector<PreToken>& out) const override {
    matches.clear();
    pattern_.find_all(piece.text, matches);
    split_piece(piece, matches, behavior_, invert_, out);
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// `tokenizers`' Whitespace: the runs matched by `\w+|[^\w\s]+` (Rust regex classes) are the pieces.
class Whitespace final : public PieceSplitter {
 protected:
  void split_one(PreToken& piece, std::vector<ByteRange>&, std::vector<PreToken>& out) const override {
    const std::string& text = piece.text;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t next = pos;
      const char32_t cp = utf8::next_codepoint(text, next);
      if (unicode::is_whitespace(cp) && !unicode::is_word(cp)) {
        pos = next;
        continue;
      }
      const bool word = unicode::is_word(cp);
      const size_t start = pos;
      pos = next;
      while (pos < text.size()) {
        size_t after = pos;
        const char32_t c = utf8::next_codepoint(text, after);
        const bool c_word = unicode::is_word(c);
        if (word ? !c_word : (c_word || unicode::is_whitespace(c))) break;
        pos = after;
      }
      out.push_back({text.substr(start, pos - start), piece.at_origin && start == 0});
    }
  }
};

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) {
      regex_ = std::make_unique<Regex>(
          R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
    }
  }
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> split;
    split.reserve(pieces.size() * 4);
    std::vector<ByteRange> matches;
    for (auto& piece : pieces) {
      if (add_prefix_space_ && (piece.text.empty() || piece.text[0] != ' ')) piece.text.insert(0, " ");
      if (regex_) {
        matches.clear();
        regex_->find_all(piece.text, matches);
        split_piece(piece, matches, SplitBehavior::kIsolated, false, split);
      } else if (!piece.text.empty()) {
        split.push_back(std::move(piece));
      }
    }
    const auto& table = byte_level_chars();
    for (auto& piece : split) {
      std::string mapped;
      mapped.reserve(piece.text.size() * 2);
      for (char c : piece.text) mapped.append(table[static_cast<unsigned char>(c)]);
      piece.text = std::move(mapped);
    }
    pieces = std::move(split);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

enum class PrependScheme { kFirst, kAlways, kNever };

class Metaspace final : public PreTokenizer {
 public:
  Metaspace(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    std::vector<ByteRange> matches;
    const Pattern space = Pattern::literal(" ");
    const Pattern replacement = Pattern::literal(replacement_);
    for (auto& piece : pieces) {
      piece.text = space.replace_all(piece.text, replacement_);
      const bool starts_with_replacement = piece.text.compare(0, replacement_.size(), replacement_) == 0;
      bool prepend = false;
      switch (scheme_) {
        case PrependScheme::kAlways:
          prepend = !starts_with_replacement;
          break;
        case PrependScheme::kFirst:
          prepend = !starts_with_replacement && piece.at_origin;
          break;
        case PrependScheme::kNever:
          break;
      }
      if (prepend) piece.text.insert(0, replacement_);
      if (split_) {
        matches.clear();
        replacement.find_all(piece.text, matches);
        split_piece(piece, matches, SplitBehavior::kMergedWithNext, false, out);
      } else if (!piece.text.empty()) {
        out.push_back(std::move(piece));
      }
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    for (const auto& step : steps_) step->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

PrependScheme parse_prepend_scheme(const boost::json::object& object, const std::string& path) {
  const auto scheme = json::optional_string_field(object, "prepend_scheme", path);
  if (!scheme)
    return json::bool_field(object, "add_prefix_space", true, path) ? PrependScheme::kAlways
                                                                    : PrependScheme::kNever;
  if (*scheme == "first") return PrependScheme::kFirst;
  if (*scheme == "always") return PrependScheme::kAlways;
  if (*scheme == "never") return PrependScheme::kNever;
  throw TokenizerError(path + ".prepend_scheme: '" + *scheme + "' is not first, always or never");
}

}  // namespace

const std::vector<std::string>& byte_level_chars() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> chars(256);
    char32_t next_unprintable = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      utf8::append_codepoint(chars[b], printable ? static_cast<char32_t>(b) : next_unprintable++);
    }
    return chars;
  }();
  return table;
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const boost::json::value& value, const std::string& path) {
  const auto& object = json::as_object(value, path);
  const std::string type = json::type_of(object, path);
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevel>(json::bool_field(object, "add_prefix_space", true, path),
                                       json::bool_field(object, "use_regex", true, path));
  }
  if (type == "Metaspace") {
    const auto replacement =
        json::optional_string_field(object, "replacement", path).value_or("\xE2\x96\x81");
    return std::make_unique<Metaspace>(replacement, parse_prepend_scheme(object, path),
                                       json::bool_field(object, "split", true, path));
  }
  if (type == "Split") {
    return std::make_unique<PatternSplit>(
        Pattern::from_json(json::field(object, "pattern", path), path + ".pattern"),
        parse_behavior(object, path), json::bool_field(object, "invert", false, path));
  }
  if (type == "Digits") {
    const bool individual = json::bool_field(object, "individual_digits", false, path);
    return std::make_unique<CharClassSplit>(
        unicode::is_numeric, individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }
  if (type == "Punctuation") {
    const SplitBehavior behavior =
        json::optional_field(object, "behavior") ? parse_behavior(object, path) : SplitBehavior::kIsolated;
    return std::make_unique<CharClassSplit>(unicode::is_punctuation, behavior);
  }
  if (type == "WhitespaceSplit")
    return std::make_unique<CharClassSplit>(unicode::is_whitespace, SplitBehavior::kRemoved);
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "Sequence") {
    const auto& items = json::as_array(json::field(object, "pretokenizers", path), path + ".pretokenizers");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < items.size(); ++i) {
      steps.push_back(parse_pre_tokenizer(items[i], path + ".pretokenizers[" + std::to_string(i) + "]"));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  throw TokenizerError(path + ": pre-tokenizer type '" + type + "' is not supported");
}

}  // namespace mmrt::text
